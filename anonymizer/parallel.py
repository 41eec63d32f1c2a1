"""Worker processes for a folder run: several photos at once, results in the order of the jobs.

Each worker rebuilds the pipeline from its recipe (``Anonymizer(**recipe)``)
once, takes its share of the cores (:func:`anonymizer.device.set_threads`),
and runs :func:`anonymizer.batch.process_job` on the photos it is sent, so a
photo is read, anonymized and written (atomically) in one process, exactly as
in a one-worker run. At most two photos per worker are in flight.

Workers ignore Ctrl-C and SIGTERM: the main process gets them, stops sending
photos, lets the ones in flight finish (a photo takes a second or so), and
then raises, so no output is ever left half-written. A worker that dies (a
crash in a decoder, killed for memory) fails the photos it may have been on,
never writes them, and the run goes on with fresh workers.
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
from pathlib import Path

from anonymizer.device import cpu_count

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
    from anonymizer.batch import process_job

    return process_job(_STATE["anonymizer"], job, _STATE["options"], _STATE["sources"])


@contextlib.contextmanager
def _signals_ignored():
    """Ctrl-C and SIGTERM held back while workers may be started: they are blocked (not ignored), so a
    started process is born with them blocked (a signal mask survives fork and exec) and a signal that comes
    while a worker still imports cannot kill it before its initializer runs, while in this process the
    signal stays pending and is delivered when the block ends, instead of being lost."""
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
    from anonymizer.batch import error_entry

    return error_entry(
        job, f"anonymizing failed: a worker process stopped while on this photo or one beside it ({err})"
    )


def run_in_workers(
    recipe: dict,
    jobs: list,
    options,
    sources: frozenset[Path],
    workers: int,
    deliver: Callable[[int, object], None],
    should_cancel: Callable[[], bool] | None = None,
) -> bool:
    """Process ``jobs`` with ``workers`` processes, calling ``deliver(position in jobs, ReportEntry)`` in order.

    Returns False when ``should_cancel()`` stopped it (the photos in flight are
    still delivered). On KeyboardInterrupt, wherever it lands, the photos in
    flight are finished and delivered, then it is re-raised.
    """
    threads = max(1, cpu_count() // workers)
    context = multiprocessing.get_context("spawn")  # no fork of a parent whose OpenMP/torch threads run
    position, restarts, cancelled = 0, 0, False
    while position < len(jobs):
        pool = ProcessPoolExecutor(
            workers, context, initializer=_init_worker, initargs=(recipe, options, sources, threads)
        )
        flight: deque[tuple[int, Future]] = deque()
        try:
            while position < len(jobs) or flight:
                while position < len(jobs) and len(flight) < 2 * workers:
                    if should_cancel is not None and should_cancel():
                        position, cancelled = len(jobs), True  # send nothing more; finish what is in flight
                        break
                    with _signals_ignored():  # a submit may start a worker: it is born ignoring them
                        flight.append((position, pool.submit(_process, jobs[position])))
                    position += 1
                if not flight:
                    break
                index, future = flight[0]
                try:
                    entry = future.result()
                except BrokenProcessPool as err:
                    restarts += 1
                    log.warning("a worker process stopped (%s); the %d photos in flight failed", err, len(flight))
                    failed = [i for i, _ in flight]
                    flight.clear()
                    if restarts > MAX_RESTARTS:
                        failed += range(position, len(jobs))
                        position = len(jobs)
                    for i in failed:
                        deliver(i, _died(jobs[i], err))
                    break
                flight.popleft()
                deliver(index, entry)
        except KeyboardInterrupt:
            for _, future in flight:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            for i, future in flight:
                if future.done() and not future.cancelled() and future.exception() is None:
                    deliver(i, future.result())
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return not cancelled
