"""Anonymizing a folder on Ray Data: the jobs, outputs and report of :class:`anonymizer.batch.Batch`, on a cluster.

The driver plans the jobs as the local engine does (:func:`anonymizer.batch.plan_jobs`) and hands them to
Ray Data in groups: a few photos per group, each video alone (a track needs the whole clip). A pool of
actors, one pipeline each (``Anonymizer(**recipe)``: one detector and one replacer, loaded once), runs
:func:`anonymizer.work.process_job` on every job of a group, so each file is read, anonymized and written
atomically by the worker that made it, exactly as on one machine. Only the report entries travel back; the
driver keeps them in the order of the jobs and the CLI writes the report.

Files are handed over as paths, not bytes: every worker reads its inputs from, and writes its outputs to,
storage that all nodes share, at the same path (a shared filesystem). Reading through ``process_job``
keeps every check of the local engine (size before decoding, special files, EXIF orientation) and its
error messages, and a video never travels through the object store.

Failures: a file that cannot be done gets an error entry and no output (fail closed), as locally. An actor
that dies (a crash in a decoder, killed for memory) is restarted by Ray; the files of the group it was
working on are tried again once, each alone, and a file lost a second time fails. Ctrl-C and SIGTERM stop
the run cleanly: the actors finish the file in hand and start no other, the driver collects what was
done, and then the signal is delivered as usual (the CLI writes the report and exits 130 or 143).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import pickle
import re
import signal
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from anonymizer.batch import Batch
from anonymizer.parallel import signals_blocked
from anonymizer.pipeline import Anonymizer
from anonymizer.video import is_video_path
from anonymizer.work import BatchOptions, ImageJob, ReportEntry, error_entry, process_job

log = logging.getLogger(__name__)

RAY_EXTRA = "pip install 'anonymizer[ray]' (from a clone: pip install -e '.[ray]')"
PHOTOS_PER_TASK = 4  # photos handed to an actor at once: few enough that a lost actor loses little
MAX_ROUNDS = 5  # runs of the jobs lost with an actor (each alone), before those still lost fail
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")  # s3://, gs://, file://... (a Path keeps one slash)


class RayEngineError(RuntimeError):
    """The Ray engine cannot run (Ray missing, a URL given, the cluster unreachable): the message says why."""


def ray_available() -> bool:
    """Whether Ray Data can be imported (the ``ray`` extra)."""
    try:
        return importlib.util.find_spec("ray") is not None and importlib.util.find_spec("ray.data") is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules, or one without a spec
        return False


def check_storage(*paths: str | os.PathLike) -> None:
    """Raise :class:`RayEngineError` for a storage URL: only paths that every node sees are supported."""
    for path in paths:
        if _URL.match(str(path)):
            raise RayEngineError(
                f"storage URLs are not supported yet: {path}; mount the bucket on every node (s3fs, gcsfuse, "
                "a shared filesystem) and give its path"
            )


def default_work(anonymizer: Anonymizer, job: ImageJob, options: BatchOptions, sources: frozenset[Path]) -> ReportEntry:
    """What an actor does with one job: :func:`anonymizer.work.process_job`."""
    return process_job(anonymizer, job, options, sources)


class _Coordinator:
    """What the actors and the driver share (a Ray actor of its own): the stop flag, and the jobs started."""

    def __init__(self) -> None:
        self.stopped = False
        self.started: set[int] = set()

    def stop(self) -> None:
        self.stopped = True

    def start(self, index: int) -> bool:
        """Note that job ``index`` is started; False, noting nothing, once the run is stopping."""
        if not self.stopped:
            self.started.add(index)
        return not self.stopped

    def take_started(self) -> set[int]:
        started, self.started = self.started, set()
        return started


class _AnonymizeActor:
    """One pipeline per actor; each call does one group of jobs and returns their report entries."""

    def __init__(
        self, recipe: dict, options: BatchOptions, sources, coordinator, threads: int, out_dir: str, work
    ) -> None:
        from anonymizer.device import set_threads

        if not Path(out_dir).is_dir():  # the driver made it: a worker that cannot see it is on other storage
            raise RayEngineError(f"the output folder {out_dir} is not visible on this node: use shared storage")
        set_threads(threads)
        self.anonymizer = Anonymizer(**recipe)
        self.anonymizer.detector  # noqa: B018 -- loaded once, before the first file
        set_threads(threads)  # again: building the pipeline may have imported torch (the GAN), which starts its own
        self.options, self.sources, self.coordinator, self.work = options, sources, coordinator, work
        self.stopped = False

    def _start(self, index: int) -> bool:
        """Whether to do job ``index``: not once the run is stopping; the driver learns which were started."""
        import ray

        self.stopped = self.stopped or not ray.get(self.coordinator.start.remote(index))
        return not self.stopped

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        indices, entries = [], []
        for group in batch["group"]:
            for index, job in pickle.loads(group):
                if not self._start(index):
                    break
                try:
                    entry = self.work(self.anonymizer, job, self.options, self.sources)
                except Exception as err:  # fail closed: process_job does not raise, a replaced work might
                    log.debug("anonymizing %s failed", job.source, exc_info=True)
                    entry = error_entry(job, f"anonymizing failed: {type(err).__name__}: {err}")
                indices.append(index)
                entries.append(pickle.dumps(entry))
        return {"index": np.array(indices, dtype=np.int64), "entry": np.array(entries, dtype=object)}


class _DeferredSignals:
    """SIGINT and SIGTERM only noted while the run stops cleanly; delivered to the handlers before it, after."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self.event = threading.Event()
        self._saved: dict[int, object] = {}
        self._main = threading.current_thread() is threading.main_thread()  # signals can only be set there

    def _note(self, signum, frame) -> None:
        if self.received is None:
            self.received = signum
        self.event.set()

    def install(self) -> None:
        if self._main:
            for sig in self.SIGNALS:
                current = signal.getsignal(sig)
                if current is signal.SIG_IGN or current is None:  # ignored (as in a background job): stays so
                    continue
                self._saved.setdefault(sig, current)  # the handler before the run, not one Ray set since
                signal.signal(sig, self._note)

    def restore_and_deliver(self) -> None:
        if not self._main:
            return
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
        if self.received is not None:
            signal.raise_signal(self.received)  # the handler before (the CLI's, or Python's KeyboardInterrupt)


def _pool_size(workers: int | None, device: str) -> int:
    import ray

    resources = ray.cluster_resources()
    if device == "cuda" and resources.get("GPU", 0) < 1:
        raise RayEngineError("--device cuda was asked for, but the Ray cluster has no GPU")
    if workers is not None:
        return workers
    if device == "cuda":
        return int(resources["GPU"])
    return max(1, int(resources.get("CPU", 1)))


class RayBatch(Batch):
    """Anonymize every photo and video under ``input_path`` into ``out_dir`` on Ray Data.

    >>> batch = RayBatch(Anonymizer(method="blur"), "photos", "anon", address="auto")  # doctest: +SKIP
    >>> batch.run(progress=lambda entry, done, total: print(done, total, entry.status))  # doctest: +SKIP

    The jobs, outputs, entries and their order are those of :class:`~anonymizer.batch.Batch`. ``workers``:
    actors in the pool (default: one per CPU of the cluster, one per GPU with ``device="cuda"``, each then
    given a GPU). ``address``: a running cluster to join (``"auto"``, ``"HOST:6379"``); None starts a local
    Ray for the run, unless this process is already connected to one. ``work(anonymizer, job, options,
    sources)`` runs each job in an actor (a module-level function, so that it pickles; tests replace it).
    """

    def __init__(
        self,
        anonymizer: Anonymizer,
        input_path: str | os.PathLike,
        out_dir: str | os.PathLike,
        options: BatchOptions | None = None,
        workers: int | None = None,
        address: str | None = None,
        photos_per_task: int = PHOTOS_PER_TASK,
        work: Callable[[Anonymizer, ImageJob, BatchOptions, frozenset[Path]], ReportEntry] = default_work,
    ) -> None:
        check_storage(input_path, out_dir)
        if anonymizer.recipe is None:
            raise ValueError("the Ray engine rebuilds the pipeline in each actor: give one built from names")
        super().__init__(anonymizer, input_path, out_dir, options)
        self.pool = workers
        self.address = address
        self.photos_per_task = max(1, int(photos_per_task))
        self.work = work
        self.device = anonymizer.recipe.get("device", "auto")

    def _groups(self, todo: list[int]) -> list[list[int]]:
        """Each video alone, first (the longest tasks start early); then the photos, a few at a time."""
        videos = [[i] for i in todo if is_video_path(self.jobs[i].source)]
        photos = [i for i in todo if not is_video_path(self.jobs[i].source)]
        n = self.photos_per_task
        return videos + [photos[k : k + n] for k in range(0, len(photos), n)]

    def run(
        self,
        progress: Callable[[ReportEntry, int, int], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        frame_progress: Callable[[ImageJob, int, int | None], None] | None = None,
    ) -> list[ReportEntry]:
        """Process the jobs without an entry yet; ``progress(entry, done, total)`` after each file, as it comes.

        ``should_cancel()`` is checked after each file comes back; when true, or on SIGINT or SIGTERM, the actors
        start no other file, those in hand are finished and collected, and the run stops (a signal is then
        delivered to the handler there was before). ``frame_progress`` is not called: videos report when done.
        """
        self.out_dir.mkdir(parents=True, exist_ok=True)
        todo = [i for i in range(len(self.jobs)) if i not in self._done]
        if not todo:
            return self.entries
        existed = {i: self.jobs[i].output.exists() for i in todo}  # a lost try may have written one
        signals = _DeferredSignals()
        signals.install()
        try:
            with _ray_session(self.address) as ray:
                signals.install()  # again: ray.init sets its own SIGTERM handler
                coordinator = ray.remote(num_cpus=0)(_Coordinator).remote()
                watcher = threading.Thread(target=_forward_stop, args=(signals.event, coordinator), daemon=True)
                watcher.start()

                def stopping() -> bool:
                    if should_cancel is not None and should_cancel() and not signals.event.is_set():
                        self.cancelled = True
                        signals.event.set()
                    return signals.event.is_set()

                total = len(self.jobs)

                def deliver(index: int, entry: ReportEntry) -> None:
                    self._record(index, entry)
                    if progress is not None:
                        progress(entry, len(self.entries), total)

                groups, in_flight, tries = self._groups(todo), 2, {}
                for _ in range(MAX_ROUNDS):
                    lost = self._execute(ray, groups, coordinator, deliver, stopping, in_flight)
                    started = ray.get(coordinator.take_started.remote())
                    if not lost or stopping():
                        break
                    for i in lost:  # lost with its actor: a try if it had started, else it had not had its turn
                        tries[i] = tries.get(i, 0) + (i in started)
                    self._fail([i for i in lost if tries[i] >= 2], existed, deliver)
                    lost = [i for i in lost if tries[i] < 2]
                    if not lost:
                        break
                    log.warning("a Ray worker stopped: %d file(s) it had in hand to try again, each alone", len(lost))
                    for i in lost:  # replace what a lost try of this run wrote, not a file from before the run
                        self.jobs[i] = replace(self.jobs[i], rewrite=not existed[i] and self.jobs[i].output.exists())
                    # Each alone, one at a time per actor: a job lost now was lost with its own actor.
                    groups, in_flight = [[i] for i in lost], 1
                else:
                    self._fail(lost, existed, deliver)
                signals.event.set()  # let the watcher go
                watcher.join(timeout=5)
        finally:
            if signals.received is not None:
                self.cancelled = True
            signals.restore_and_deliver()
        return self.entries

    def _fail(self, indices: list[int], existed: dict[int, bool], deliver) -> None:
        """Report jobs lost with their actor twice as failed, with no output that a lost try of this run wrote."""
        for i in indices:
            if not existed[i]:
                with contextlib.suppress(OSError):
                    self.jobs[i].output.unlink()
            deliver(i, error_entry(self.jobs[i], "anonymizing failed: the Ray worker stopped on this file, twice"))

    def _execute(self, ray, groups: list[list[int]], coordinator, deliver, stopping, in_flight: int) -> list[int]:
        """Run ``groups`` on an actor pool, delivering each entry as it comes; returns the jobs that came back
        with no entry (lost with an actor, or not started because the run is stopping).

        ``in_flight``: groups sent to an actor at once, all lost if it dies; 1 when retrying, so that a job
        lost then is lost with its own actor."""
        from ray.data import DataContext

        items = [{"group": pickle.dumps([(i, self.jobs[i]) for i in group])} for group in groups]
        pool = max(1, min(_pool_size(self.pool, self.device), len(groups)))
        # One CPU reserved per actor; fewer actors than CPUs (--workers) each use a share, at most a node's.
        node_cpus = [n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
        threads = max(1, min(int(sum(node_cpus)) // pool, int(min(node_cpus, default=1))))
        remote_args = {"num_cpus": 1}
        if self.device == "cuda":
            remote_args["num_gpus"] = 1
        context = DataContext.get_current()
        saved = (context.max_errored_blocks, context.enable_progress_bars)
        # A group whose actor died is dropped, not the whole run: its jobs come back missing and are retried.
        context.max_errored_blocks = -1
        context.enable_progress_bars = False  # the CLI's bar, in files, is the one shown
        data_log = logging.getLogger("ray.data")
        level = data_log.level
        # Not a line per dataset started, nor a traceback per actor lost: run() says what was lost and retried.
        data_log.setLevel(logging.CRITICAL)
        pending = {i for group in groups for i in group}
        try:
            with warnings.catch_warnings():
                # Ray 2.60 takes max_restarts and max_task_retries only as ray_remote_args, deprecated for 2.64.
                warnings.simplefilter("ignore", DeprecationWarning)
                dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
                    _AnonymizeActor,
                    batch_size=1,
                    compute=ray.data.ActorPoolStrategy(size=pool, max_tasks_in_flight_per_actor=in_flight),
                    fn_constructor_args=(
                        self.anonymizer.recipe,
                        self.options,
                        self._sources,
                        coordinator,
                        threads,
                        str(self.out_dir),
                        self.work,
                    ),
                    max_restarts=0,  # a dead actor is not restarted in place: the pool starts another
                    max_task_retries=0,  # and its groups are not run again blindly: run() decides what is retried
                    **remote_args,
                )
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                for index, blob in zip(batch["index"], batch["entry"]):
                    index = int(index)
                    if index in pending:
                        pending.discard(index)
                        deliver(index, pickle.loads(blob))
                stopping()
        except ray.exceptions.RayError as err:
            raise RayEngineError(f"the Ray run failed: {err}") from err
        finally:
            context.max_errored_blocks, context.enable_progress_bars = saved
            data_log.setLevel(level)
        return sorted(pending)


def _forward_stop(event: threading.Event, coordinator) -> None:
    """Tell the actors to stop once the driver is asked to (the signal handler itself only sets ``event``)."""
    event.wait()
    with contextlib.suppress(Exception):  # the session may be ending
        coordinator.stop.remote()


@contextlib.contextmanager
def _ray_session(address: str | None) -> Iterator:
    """Ray, connected: to ``address``, to the session this process already has, or to a local Ray started
    for the run and shut down after it."""
    import ray

    if ray.is_initialized():
        yield ray
        return
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    try:
        with signals_blocked():  # Ray's processes are born with them blocked: a signal reaches the driver alone
            if address is None:
                ray.init(**quiet)
            else:
                ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise RayEngineError(
            f"cannot {'join the Ray cluster at ' + address if address else 'start Ray'}: {err}"
        ) from err
    try:
        yield ray
    finally:
        ray.shutdown()
