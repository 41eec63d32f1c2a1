"""Worker processes for a folder run: several photos at once, results in the order of the jobs.

Each worker rebuilds the pipeline from its recipe (``Anonymizer(**recipe)``)
once, takes its share of the cores (:func:`anonymizer.device.set_threads`),
and runs :func:`anonymizer.work.process_job` on the photos it is sent, so a
photo is read, anonymized and written (atomically) in one process, exactly as
in a one-worker run. At most two photos per worker are in flight.

Workers ignore Ctrl-C and SIGTERM: the main process gets them, stops sending
photos, lets the ones in flight finish (a photo takes a second or so), and
then raises, so no output is ever left half-written. A worker that dies (a
crash in a decoder, killed for memory) takes the photos in flight with it:
they are tried again, one at a time, in fresh workers, and the one that kills
a worker again fails (nothing written for it) while the run goes on.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

from anonymizer.device import cpu_count
from anonymizer.work import error_entry, process_job

log = logging.getLogger(__name__)

MAX_RESTARTS = 3  # fresh pools after workers died, before the remaining photos are failed
_STATE: dict = {}


def _init_worker(recipe: dict, options, sources: frozenset[Path], threads: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from anonymizer.device import set_threads
    from anonymizer.pipeline import Anonymizer

    set_threads(threads)
    anonymizer = Anonymizer(**recipe)
    set_threads(threads)  # again: building the pipeline may have imported torch (the GAN), which starts its own
    _STATE.update(anonymizer=anonymizer, options=options, sources=sources)


def _process(job):

    return process_job(_STATE["anonymizer"], job, _STATE["options"], _STATE["sources"])


@contextlib.contextmanager
def signals_blocked():
    """Ctrl-C and SIGTERM held back while worker processes may be started (here, and by the Ray engine): they
    are blocked (not ignored), so a started process is born with them blocked (a signal mask survives fork and
    exec) and a signal that comes while a worker still starts cannot kill it, nor reach it with the whole
    process group, while in this process the signal stays pending and is delivered when the block ends,
    instead of being lost."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, saved)


def _died(job, err: BaseException):

    return error_entry(job, f"anonymizing failed: the worker process stopped on this photo ({err})")


def run_in_workers(
    recipe: dict,
    jobs: list,
    options,
    sources: frozenset[Path],
    workers: int,
    deliver: Callable[[int, object], None],
    should_cancel: Callable[[], bool] | None = None,
    work: Callable = _process,
) -> bool:
    """Process ``jobs`` with ``workers`` processes, calling ``deliver(position in jobs, ReportEntry)`` once per
    job, in order except for photos retried after a worker stopped.

    ``work(job)`` runs in a worker (a module-level function, so that it pickles). When a worker dies, the
    pool stops and the results of every photo in flight that had not come back are lost with it, though
    the photo that killed it is only one of them. So those photos are tried again in a fresh pool, each
    alone: a photo lost twice is the culprit and fails; the others get their real entries (replacing an
    output their lost try wrote). After ``MAX_RESTARTS`` fresh pools the photos left fail. A photo that fails so
    leaves no output that a lost try of this run wrote: its report entry and the folder agree.

    Returns False when ``should_cancel()`` stopped it (the photos in flight are
    still delivered). On KeyboardInterrupt, wherever it lands, the photos in
    flight are finished and delivered, then it is re-raised.
    """
    threads = max(1, cpu_count() // workers)
    context = multiprocessing.get_context("spawn")  # no fork of a parent whose OpenMP/torch threads run
    position, restarts, cancelled = 0, 0, False
    retries: deque[int] = deque()  # photos lost with a worker, to try again one at a time
    lost_before: set[int] = set()
    existed: dict[int, bool] = {}  # whether each photo's output was there before it was sent
    while position < len(jobs) or retries:
        pool = ProcessPoolExecutor(
            workers, context, initializer=_init_worker, initargs=(recipe, options, sources, threads)
        )
        flight: deque[tuple[int, Future]] = deque()
        try:
            while position < len(jobs) or retries or flight:
                while len(flight) < 2 * workers:
                    if should_cancel is not None and should_cancel():
                        position, cancelled = len(jobs), True  # send nothing more; finish what is in flight
                        retries.clear()
                        break
                    retried = bool(retries)
                    if retried:
                        if flight:
                            break  # a retried photo runs alone, so that if it stops a worker again, it alone fails
                        i = retries.popleft()
                        # Its lost try may have written the output: replace that, not a file from before the run.
                        job = replace(jobs[i], rewrite=not existed[i] and jobs[i].output.exists())
                    elif position < len(jobs):
                        i, job = position, jobs[position]
                        existed[i] = job.output.exists()
                        position += 1
                    else:
                        break
                    try:
                        with signals_blocked():  # a submit may start a worker: it is born with them blocked
                            future = pool.submit(work, job)
                    except BrokenProcessPool:
                        # A worker died since the last result: this photo was not sent. It goes back where it came
                        # from, and the photos in flight meet the broken pool below, as if it broke a moment later.
                        if retried:
                            retries.appendleft(i)
                        else:
                            position -= 1
                        break
                    flight.append((i, future))
                if not flight:
                    break
                index, future = flight[0]
                try:
                    entry = future.result()
                except BrokenProcessPool as err:
                    restarts += 1
                    finished = [(i, _result(f)) for i, f in flight]
                    flight.clear()
                    lost = [i for i, entry in finished if entry is None]
                    log.warning("a worker process stopped (%s); %d photos in flight to try again", err, len(lost))
                    for i, entry in finished:
                        if entry is not None:
                            deliver(i, entry)
                    failed = [i for i in lost if i in lost_before]  # lost twice, the second time alone
                    retries.extend(i for i in lost if i not in lost_before)
                    lost_before.update(lost)
                    if restarts > MAX_RESTARTS:
                        failed += [*retries, *range(position, len(jobs))]
                        retries.clear()
                        position = len(jobs)
                    for i in sorted(failed):
                        if i in existed and not existed[i]:  # a lost try may have written it: the report says failed
                            with contextlib.suppress(OSError):
                                jobs[i].output.unlink()
                        deliver(i, _died(jobs[i], err))
                    break
                flight.popleft()
                deliver(index, entry)
        except KeyboardInterrupt:
            for _, future in flight:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            for i, future in flight:
                entry = _result(future)
                if entry is not None:
                    deliver(i, entry)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return not cancelled


def _result(future: Future):
    """A finished future's result; None if it failed or never ran."""
    if future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return None
