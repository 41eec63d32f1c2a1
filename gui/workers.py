"""Background threads: loading and detection, the preview, and the run over all photos.

The window never reads a photo, runs a detector or a replacer on its own
thread; these workers do, and report through signals (queued to the GUI thread).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from anonymizer.gui.images import thumbnail, to_qimage
from anonymizer.gui.settings import AnonymizeSettings
from PySide6.QtCore import QThread, Signal

from anonymizer import Anonymizer, Face
from anonymizer.audit import Audit, Reviewed
from anonymizer.batch import Batch, BatchPathError
from anonymizer.crops import DEFAULT_MASK_SHAPE
from anonymizer.detection import Detector
from anonymizer.imageio import read_image
from anonymizer.video import VideoEdits, is_video_path, read_frame
from anonymizer.work import BatchOptions, ReportEntry, write_report

log = logging.getLogger(__name__)


class DetectorProvider:
    """One detector per threshold and detector name (``make_detector``'s), built on first use, used by one
    thread at a time.

    The default builds the detector the pipeline itself builds; tests pass a
    factory ``(threshold, name)`` returning a fake.
    """

    def __init__(self, factory: Callable[[float, str], Detector] | None = None) -> None:
        self._factory = factory or (
            lambda threshold, name: Anonymizer(threshold=threshold, detector_name=name).detector
        )
        self._detectors: dict[tuple[float, str], Detector] = {}
        self._build_lock = threading.Lock()
        self._use_lock = threading.Lock()  # a detector (its networks and buffers) serves one thread at a time

    def detect(self, image: np.ndarray, threshold: float, name: str = "default") -> list[Face]:
        with self._use_lock:
            return self.get(threshold, name).detect(image)

    def get(self, threshold: float, name: str = "default") -> Detector:
        with self._build_lock:
            if (threshold, name) not in self._detectors:
                self._detectors[threshold, name] = self._factory(threshold, name)
            return self._detectors[threshold, name]

    def serialized(self, threshold: float, name: str = "default") -> Detector:
        """The detector for ``threshold`` and ``name``, taking turns with the other threads."""
        return _Serialized(self, threshold, name)


@dataclass
class _Serialized:
    provider: DetectorProvider
    threshold: float
    name: str = "default"

    def detect(self, image: np.ndarray) -> list[Face]:
        return self.provider.detect(image, self.threshold, self.name)


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    key: int = 0
    path: Path | None = None
    thumb: bool = True
    detect: bool = True
    want_image: bool = False
    generation: int = 0
    threshold: float = 0.0
    detector: str = "default"  # the detector's name (make_detector's)
    frame: int = 0  # of a video: which frame to show and search
    written: Path | None = None  # of a written video: its output, whose same frame is read too
    mask_scale: float = 0.0  # of a photo: the regions the audit's check counts as hidden (0: no check)


class LoaderThread(QThread):
    """Reads photos, makes thumbnails and finds faces, most urgent first (the selected photo).

    Once a photo's faces are found, the audit looks at it too (:class:`anonymizer.audit.Audit`: the second
    family, on the photo itself): its finds outside the faces' regions are the photo's flags, so that the
    photos in doubt can be put first, before anything is written."""

    thumbnailReady = Signal(int, object, int, int)  # key, QImage, width, height
    imageReady = Signal(int, object, int)  # key, HxWx3 uint8 RGB, frame (0 for a photo)
    facesReady = Signal(int, list, int, int, list)  # key, faces, generation, frame, the audit's finds (Residual)
    videoInfo = Signal(int, int, float)  # key, frames in the video (0: unknown), frames per second (0: unknown)
    writtenReady = Signal(int, object, int)  # key, the written video's frame (RGB), frame
    failed = Signal(int, str)  # key, message

    URGENT, THUMBNAIL, DETECT = 0, 5, 10

    def __init__(self, detectors: DetectorProvider, parent=None) -> None:
        super().__init__(parent)
        self.detectors = detectors
        self._audit: Audit | None = None  # built on first use (its network loads then)
        self._queue: list[_Job] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._stop = False

    def request(
        self,
        key: int,
        path: Path,
        *,
        thumb: bool,
        detect: bool,
        want_image: bool,
        threshold: float,
        generation: int,
        detector: str = "default",
        urgent: bool = False,
        frame: int = 0,
        written: Path | None = None,
        mask_scale: float = 0.0,
    ) -> None:
        """Queue work on a photo (or a video's ``frame``); the selected photo (urgent) first, then thumbnails,
        then detection (of a photo, with the audit's check of regions ``mask_scale`` the face boxes; 0: none)."""
        priority = self.URGENT if urgent else self.DETECT if detect else self.THUMBNAIL
        job = _Job(
            priority,
            next(self._seq),
            key,
            path,
            thumb,
            detect,
            want_image,
            generation,
            threshold,
            detector,
            frame,
            written,
            mask_scale,
        )
        with self._cond:
            heapq.heappush(self._queue, job)
            self._cond.notify()

    def forget(self, keys: set[int] | None = None) -> None:
        """Drop the queued jobs of these photos (all when None)."""
        with self._cond:
            self._queue = [j for j in self._queue if keys is not None and j.key not in keys]
            heapq.heapify(self._queue)

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._queue.clear()
            self._cond.notify()
        self.wait()

    def run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                job = heapq.heappop(self._queue)
            self._work(job)

    def _work(self, job: _Job) -> None:
        try:
            if is_video_path(job.path):
                at = read_frame(job.path, job.frame)
                rgb = at.rgb
                self.videoInfo.emit(job.key, at.frames or 0, at.fps or 0.0)
            else:
                rgb = read_image(job.path).rgb
        except Exception as err:  # every reason a file is unusable ends up as the row's error
            self.failed.emit(job.key, str(err) or type(err).__name__)
            return
        if job.thumb:
            self.thumbnailReady.emit(job.key, thumbnail(rgb), rgb.shape[1], rgb.shape[0])
        if job.want_image:
            self.imageReady.emit(job.key, rgb, job.frame)
        if job.written is not None:
            try:
                self.writtenReady.emit(job.key, read_frame(job.written, job.frame).rgb, job.frame)
            except Exception as err:  # the written file moved or was deleted: the live preview stands in
                log.warning("cannot read %s: %s", job.written, err)
        if job.detect:
            try:
                faces = self.detectors.detect(rgb, job.threshold, job.detector)
            except Exception as err:
                log.exception("detection failed on %s", job.path)
                self.failed.emit(job.key, f"detection failed: {err}")
                return
            flags = []
            if job.mask_scale and not is_video_path(job.path):
                try:
                    if self._audit is None:
                        self._audit = Audit()
                    flags = self._audit.residuals(rgb, faces, job.mask_scale)
                except Exception:  # the check is a help to the reviewer; the run audits what it writes anyway
                    log.exception("the audit's check failed on %s", job.path)
            self.facesReady.emit(job.key, faces, job.generation, job.frame, flags)


class PreviewThread(QThread):
    """Anonymizes the selected photo with the current settings; only the newest request counts."""

    ready = Signal(int, int, object)  # key, request id, QImage
    failed = Signal(int, int, str)  # key, request id, message

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._pending: tuple | None = None
        self._stop = False
        self._anonymizers: dict[tuple, Anonymizer] = {}

    def request(
        self,
        request_id: int,
        key: int,
        image: np.ndarray,
        faces: list[Face] | Reviewed,
        settings: AnonymizeSettings,
        default_shape: str = DEFAULT_MASK_SHAPE,
    ):
        """Anonymize ``image`` for the preview, as the run would (``faces`` may be a reviewer's, with the audit's
        finds they dismissed); ``default_shape``: the region a video frame or a photo gets."""
        with self._cond:
            self._pending = (request_id, key, image, faces, settings, default_shape)
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self.wait()

    def run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                request_id, key, image, faces, settings, default_shape = self._pending
                self._pending = None
            try:
                anonymizer = self._anonymizer(settings)
                dismissed = ()
                if isinstance(faces, Reviewed):
                    faces, dismissed = list(faces.faces), faces.dismissed
                result = anonymizer.anonymize(image, faces=faces, default_shape=default_shape, dismissed=dismissed)
                self.ready.emit(key, request_id, to_qimage(result.image))
            except Exception as err:
                log.exception("preview failed")
                self.failed.emit(key, request_id, str(err) or type(err).__name__)

    def _anonymizer(self, settings: AnonymizeSettings) -> Anonymizer:
        # Loading a generator takes a moment: keep the one built for these settings.
        cache_key = settings.replacer_key()
        if cache_key not in self._anonymizers:
            self._anonymizers.clear()
            self._anonymizers[cache_key] = settings.anonymizer()
        return self._anonymizers[cache_key]


@dataclass
class ReviewedEntry(ReportEntry):
    """A report entry that also says what the user changed: their faces are marked, kept faces listed."""

    excluded: list[Face] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = super().to_dict()
        if self.status == "ok" and "faces" in out:  # a photo (a video's entry lists tracks)
            for face, row in zip(self.faces, out["faces"], strict=True):
                if face.source in ("user", "review"):  # drawn by the user; an audit's flag the user hid
                    row["source"] = face.source
            if self.excluded:
                out["excluded"] = [{k: v for k, v in f.to_report().items() if k != "method"} for f in self.excluded]
        return out


@dataclass
class RunItem:
    """One photo or video to write: what it was opened as, and its reviewed faces (None: detect them), or for a
    video, the user's edits (None: none)."""

    key: int
    path: Path
    root: Path
    faces: list[Face] | Reviewed | VideoEdits | None
    excluded: list[Face]


REPORT_NAME = "report.json"


class RunThread(QThread):
    """Anonymizes and writes photos with the batch runner the CLI uses, one photo at a time.

    Photos are grouped by what was opened (a folder or a single file), each
    group run as the CLI would run it on that input; one report covers all.
    """

    progress = Signal(int, int)  # done, total
    frameProgress = Signal(int, int, int)  # a video's key, frames done, frames in all (0: unknown)
    entryDone = Signal(int, object)  # photo key, ReviewedEntry
    done = Signal(object)  # RunSummary

    def __init__(
        self,
        items: list[RunItem],
        settings: AnonymizeSettings,
        detectors: DetectorProvider,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.items = items
        self.settings = settings
        self.detectors = detectors
        self.out_dir = Path(settings.output_dir)
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        videos = sum(is_video_path(item.path) for item in self.items)
        summary = RunSummary(total=len(self.items), report=self.out_dir / REPORT_NAME, videos=videos)
        try:
            self._run(summary)
        except Exception as err:  # whatever happens, the window hears that the run ended
            log.exception("the run failed")
            summary.error = f"the run failed: {type(err).__name__}: {err}"
            self.done.emit(summary)

    def _run(self, summary: RunSummary) -> None:
        entries: list[ReportEntry] = []
        try:
            anonymizer = self.settings.anonymizer(
                self.detectors.serialized(self.settings.threshold, self.settings.detector)
            )
        except Exception as err:
            summary.error = f"cannot set up {self.settings.method}: {err}"
            self.done.emit(summary)
            return
        groups: dict[Path, list[RunItem]] = {}
        for item in self.items:
            groups.setdefault(item.root, []).append(item)
        for root, items in groups.items():
            if self._cancel.is_set():
                break
            by_source = {item.path: item for item in items}
            try:
                batch = Batch(
                    anonymizer,
                    root,
                    self.out_dir,
                    BatchOptions(overwrite=True),
                    faces_for=lambda job, by_source=by_source: by_source[job.source].faces,
                )
            except (BatchPathError, OSError) as err:
                for item in items:
                    name = item.path.name if root == item.path else item.path.relative_to(root).as_posix()
                    self._record(summary, entries, item, ReportEntry(name, None, "error", error=str(err)))
                continue
            # The runner lists the whole input; only the photos still in the window are written.
            batch.jobs = [job for job in batch.jobs if job.source in by_source]
            for source in sorted(set(by_source) - {job.source for job in batch.jobs}):
                item = by_source[source]  # in the window, but no longer a photo the runner would read
                self._record(
                    summary, entries, item, ReportEntry(item.path.name, None, "error", error="no longer found")
                )

            by_name = {job.name: job for job in batch.jobs}

            def progress(entry: ReportEntry, _done: int, _total: int, by_name=by_name, by_source=by_source) -> None:
                self._record(summary, entries, by_source[by_name[entry.input].source], entry)

            def frames(job, done: int, total: int | None, by_source=by_source) -> None:
                self.frameProgress.emit(by_source[job.source].key, done, total or 0)

            batch.run(progress=progress, should_cancel=self._cancel.is_set, frame_progress=frames)
        summary.cancelled = self._cancel.is_set() and summary.done < summary.total
        try:
            # Save Selected re-does a few photos: the report keeps the others' entries.
            write_report(summary.report, entries, merge=True)
        except OSError as err:
            summary.error = f"cannot write the report: {err}"
            summary.report = None
        self.done.emit(summary)

    def _record(self, summary: RunSummary, entries: list, item: RunItem, entry: ReportEntry) -> None:
        reviewed = ReviewedEntry(**vars(entry), excluded=item.excluded if entry.status == "ok" else [])
        entries.append(reviewed)
        summary.done += 1
        summary.counts[entry.status] = summary.counts.get(entry.status, 0) + 1
        summary.review += 1 if entry.flagged else 0
        self.entryDone.emit(item.key, reviewed)
        self.progress.emit(summary.done, summary.total)


@dataclass
class RunSummary:
    total: int
    report: Path | None
    done: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    cancelled: bool = False
    error: str | None = None
    videos: int = 0  # how many of the ``total`` are videos
    review: int = 0  # photos in which the audit flagged a possible face (listed in the report)

    def text(self) -> str:
        if self.error and not self.done:
            return self.error
        ok, failed = self.counts.get("ok", 0), self.counts.get("error", 0)
        noun = "video" if self.videos == self.total else "photo" if not self.videos else "file"
        text = f"{ok} of {self.total} {noun}{'s' if self.total != 1 else ''} written"
        if failed:
            text += f", {failed} failed"
        if self.review:
            text += f"; {self.review} need{'s' if self.review == 1 else ''} a look (the audit flagged a possible face)"
        if self.cancelled:
            text += " (cancelled)"
        if self.error:
            text += f"; {self.error}"
        return text
