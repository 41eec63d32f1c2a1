"""Anonymizing a file or a folder of photos into an output folder: what the CLI and the GUI share.

A :class:`Batch` lists the photos under an input path (a file, or a folder
searched recursively; candidates are chosen by extension), and for each one
reads it, anonymizes it with the :class:`~anonymizer.pipeline.Anonymizer` it
is given, writes the result atomically at the same relative path under the
output folder, and records a :class:`ReportEntry` (each photo is one unit of
work of :mod:`anonymizer.work`; with ``workers`` above 1, they run in the worker
processes of :mod:`anonymizer.parallel`).

It fails closed: when reading, detecting, replacing or writing fails for a
photo, nothing is written for it, its entry says why, and the batch goes on.
Outputs that already exist are skipped unless ``overwrite`` is set, so an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import bisect
import logging
import os
from collections.abc import Callable
from pathlib import Path

from anonymizer.audit import Reviewed
from anonymizer.faces import Face
from anonymizer.imageio import IMAGE_EXTENSIONS, is_image_path
from anonymizer.parallel import run_in_workers
from anonymizer.pipeline import Anonymizer
from anonymizer.video import VIDEO_EXTENSIONS, VideoEdits, is_video_path
from anonymizer.work import (
    REPORT_VERSION,
    BatchOptions,
    ImageJob,
    ReportEntry,
    error_entry,
    process_job,
    report_dict,
    write_report,
)

log = logging.getLogger(__name__)

__all__ = [  # the unit of work's names are used from here too
    "REPORT_VERSION",
    "Batch",
    "BatchOptions",
    "BatchPathError",
    "ImageJob",
    "ReportEntry",
    "check_paths",
    "error_entry",
    "plan_jobs",
    "process_job",
    "report_dict",
    "write_report",
]


class BatchPathError(ValueError):
    """The input and output paths cannot be used together (the message says why)."""


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_paths(input_path: str | os.PathLike, out_dir: str | os.PathLike) -> None:
    """Raise :class:`BatchPathError` when the input is missing or writing into ``out_dir`` could touch it."""
    root, out = Path(input_path), Path(out_dir)
    if not root.exists():
        raise BatchPathError(f"input not found: {root}")
    if out.exists() and not out.is_dir():
        raise BatchPathError(f"output is not a folder: {out}")
    real_root, real_out = root.resolve(), out.resolve()
    if root.is_dir():
        if _inside(real_out, real_root):
            raise BatchPathError(f"the output folder {out} is the input folder or inside it; choose one outside {root}")
        return
    if not is_image_path(root) and not is_video_path(root):
        raise BatchPathError(
            f"not a supported image or video type: {root.name} (use one of {' '.join(IMAGE_EXTENSIONS)} "
            f"or {' '.join(VIDEO_EXTENSIONS)})"
        )
    if real_out / root.name == real_root:
        raise BatchPathError(f"the output {out / root.name} would overwrite the input; choose another folder")


def plan_jobs(
    input_path: str | os.PathLike, out_dir: str | os.PathLike, notes: list[str] | None = None
) -> tuple[list[ImageJob], list[Path]]:
    """The photos to process under ``input_path`` (sorted) and the other files, which are ignored.

    Links to folders are not followed (a link back up the tree would never end) and
    folders that cannot be listed are passed over; each gets a line in ``notes``.
    """
    check_paths(input_path, out_dir)
    root, out = Path(input_path), Path(out_dir)
    if not root.is_dir():
        return [ImageJob(source=root, output=out / root.name, name=root.name)], []
    jobs: list[ImageJob] = []
    ignored: list[Path] = []
    notes = notes if notes is not None else []

    def unreadable(err: OSError) -> None:
        where = Path(err.filename).relative_to(root).as_posix() if err.filename else str(root)
        notes.append(f"{where}: folder not searched: {err.strerror or err}")

    for folder, dirnames, filenames in os.walk(root, onerror=unreadable):
        dirnames.sort()
        for name in [d for d in dirnames if os.path.islink(os.path.join(folder, d))]:
            dirnames.remove(name)
            notes.append(f"{Path(folder, name).relative_to(root).as_posix()}: a link to a folder, not followed")
        for filename in sorted(filenames):
            path = Path(folder, filename)
            if is_image_path(filename) or is_video_path(filename):
                name = path.relative_to(root).as_posix()
                jobs.append(ImageJob(source=path, output=out / name, name=name))
            else:
                ignored.append(path)
    return jobs, ignored


class _Cancelled(BaseException):
    """Raised between a video's frames when the run is cancelled (not an Exception: nothing may catch it)."""


class Batch:
    """Anonymize every photo under ``input_path`` into ``out_dir``.

    >>> batch = Batch(Anonymizer(method="blur"), "photos", "anon")  # doctest: +SKIP
    >>> batch.run(progress=lambda entry, done, total: print(done, total, entry.status))  # doctest: +SKIP
    >>> write_report("report.json", batch.entries)  # doctest: +SKIP

    ``progress(entry, done, total)`` is called after each photo, in the order
    of the jobs; ``should_cancel()`` is checked before each one is started and
    stops the run when true. ``faces_for(job)``, when given, returns the faces
    to hide in a photo (in pixels of the photo as displayed, e.g. reviewed in
    the GUI), or None to detect them as usual; for a video, its reviewer's
    :class:`~anonymizer.video.VideoEdits` (or None).

    ``workers`` > 1 anonymizes that many photos at once, each in a worker
    process of its own that rebuilds the pipeline from ``anonymizer.recipe``
    and uses its share of the cores (see :mod:`anonymizer.parallel`). Outputs,
    entries and their order are the same as with one worker. A pipeline that
    cannot be rebuilt (given its own detector or replacer) or ``faces_for``
    runs in this process.
    """

    def __init__(
        self,
        anonymizer: Anonymizer,
        input_path: str | os.PathLike,
        out_dir: str | os.PathLike,
        options: BatchOptions | None = None,
        faces_for: Callable[[ImageJob], list[Face] | Reviewed | VideoEdits | None] | None = None,
        workers: int = 1,
    ) -> None:
        self.anonymizer = anonymizer
        # Faces to hide per photo instead of detecting them (the GUI's reviewed faces); None: detect.
        self.faces_for = faces_for
        self.input_path = Path(input_path)
        self.out_dir = Path(out_dir)
        self.options = options or BatchOptions()
        self.workers = max(1, int(workers))
        self.notes: list[str] = []  # folders passed over while listing the input, one line each
        self.jobs, self.ignored = plan_jobs(self.input_path, self.out_dir, self.notes)
        self._sources = frozenset(job.source.resolve() for job in self.jobs)
        self.entries: list[ReportEntry] = []  # in the order of the jobs
        self._done: set[int] = set()  # indices of the jobs with an entry
        self._order: list[int] = []  # the job index of each entry, ascending
        self.cancelled = False

    def _workers_for(self, jobs: int) -> int:
        if self.faces_for is not None or self.anonymizer.recipe is None:
            return 1
        return max(1, min(self.workers, jobs))

    def run(
        self,
        progress: Callable[[ReportEntry, int, int], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        frame_progress: Callable[[ImageJob, int, int | None], None] | None = None,
    ) -> list[ReportEntry]:
        """Process the jobs without an entry yet (all of them, unless an earlier run was stopped).

        Photos come first (in worker processes when there are several); then the videos, one at a time in this
        process, each frame using all the cores, with ``frame_progress(job, frames done, frames in all or
        None)`` after each frame; ``should_cancel`` is also checked between a video's frames, and a video
        cancelled half-way leaves no output and no entry. Entries stay in the order of the jobs.
        """
        self.out_dir.mkdir(parents=True, exist_ok=True)
        todo = [i for i in range(len(self.jobs)) if i not in self._done]
        photos = [i for i in todo if not is_video_path(self.jobs[i].source)]
        videos = [i for i in todo if is_video_path(self.jobs[i].source)]
        workers = self._workers_for(len(photos))
        total = len(self.jobs)

        def deliver(index: int, entry: ReportEntry) -> None:
            self._record(index, entry)
            if progress is not None:
                progress(entry, len(self.entries), total)

        if workers > 1:
            finished = run_in_workers(
                self.anonymizer.recipe,
                [self.jobs[i] for i in photos],
                self.options,
                self._sources,
                workers,
                lambda position, entry: deliver(photos[position], entry),
                should_cancel,
            )
            self.cancelled = not finished
        else:
            for i in photos:
                if should_cancel is not None and should_cancel():
                    self.cancelled = True
                    break
                deliver(i, self.process(self.jobs[i]))
        for i in [] if self.cancelled else videos:
            if should_cancel is not None and should_cancel():
                self.cancelled = True
                break
            job = self.jobs[i]

            def frames(done: int, count: int | None, job=job) -> None:
                if should_cancel is not None and should_cancel():
                    raise _Cancelled()
                if frame_progress is not None:
                    frame_progress(job, done, count)

            try:
                deliver(i, self.process(job, frames))
            except _Cancelled:
                self.cancelled = True
                break
        return self.entries

    def _record(self, index: int, entry: ReportEntry) -> None:
        self._done.add(index)
        position = bisect.bisect(self._order, index)
        self._order.insert(position, index)
        self.entries.insert(position, entry)

    def process(self, job: ImageJob, frame_progress: Callable[[int, int | None], None] | None = None) -> ReportEntry:
        """Read, anonymize and write one photo or video; never raises for a bad file."""
        try:
            faces = self.faces_for(job) if self.faces_for is not None else None
        except Exception as err:  # fail closed, as for a failure in the pipeline
            log.debug("faces for %s failed", job.source, exc_info=True)
            return error_entry(job, f"anonymizing failed: {type(err).__name__}: {err}")
        return process_job(self.anonymizer, job, self.options, self._sources, faces, frame_progress)

    def count(self, status: str) -> int:
        return sum(1 for entry in self.entries if entry.status == status)

    @property
    def faces_hidden(self) -> int:
        """Faces hidden in the photos, and in the videos' frames (a face counted once a frame)."""
        return sum(entry.face_count for entry in self.entries if entry.status == "ok")

    @property
    def ok(self) -> bool:
        """True when every photo was written or already there."""
        return self.count("error") == 0

    def summary(self) -> str:
        """One line, e.g. ``12 images: 11 written, 1 failed, 37 faces hidden -> anon``."""
        done = len(self.entries)
        parts = [f"{self.count('ok')} written"]
        if self.count("skipped"):
            parts.append(f"{self.count('skipped')} skipped (output already there)")
        parts.append(f"{self.count('error')} failed")
        faces = self.faces_hidden
        text = f"{done} image{'s' if done != 1 else ''}: {', '.join(parts)}, {faces} face{'s' if faces != 1 else ''} hidden -> {self.out_dir}"
        if done < len(self.jobs):
            text += f" (stopped after {done} of {len(self.jobs)})"
        if self.ignored:
            n = len(self.ignored)
            text += f"; {n} other file{'s' if n != 1 else ''} ignored"
        review = self.need_review
        if review:
            flags = sum(e.flagged for e in self.entries)
            text += (
                f"; {review} image{'s' if review != 1 else ''} need{'s' if review == 1 else ''} a look "
                f"({flags} possible face{'s' if flags != 1 else ''} flagged by the audit, listed in the report)"
            )
        return text

    @property
    def need_review(self) -> int:
        """Images with a find of the audit left for a person to look at."""
        return sum(1 for e in self.entries if e.flagged)
