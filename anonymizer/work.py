"""The unit of work: one photo or video read, anonymized and written, and its line in the report.

:func:`process_job` does one :class:`ImageJob` with the :class:`~anonymizer.pipeline.Anonymizer` it is given and
returns its :class:`ReportEntry`; it never raises for a bad file. It fails closed: when reading, detecting,
replacing or writing fails, nothing is written, the entry says why. :func:`write_report` writes the entries as
JSON. The engines sit above this module: :class:`~anonymizer.batch.Batch` (in this process), the worker processes
of :mod:`anonymizer.parallel`, and :mod:`anonymizer.ray_engine`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from anonymizer.audit import Reviewed
from anonymizer.faces import Face
from anonymizer.imageio import (
    DEFAULT_JPEG_QUALITY,
    DEFAULT_MAX_PIXELS,
    ImageReadError,
    atomic_output,
    read_image,
    write_image,
)
from anonymizer.pipeline import Anonymizer
from anonymizer.video import VideoEdits, is_video_path

log = logging.getLogger(__name__)

REPORT_VERSION = 1


@dataclass
class BatchOptions:
    overwrite: bool = False  # replace outputs that exist; otherwise they are skipped
    keep_metadata: bool = False  # keep EXIF (orientation reset to 1), XMP and comments
    jpeg_quality: int = DEFAULT_JPEG_QUALITY  # for JPEG and WebP outputs
    max_pixels: int | None = DEFAULT_MAX_PIXELS  # larger photos are refused before decoding
    video_codec: str | None = None  # videos: a key of anonymizer.video.CODECS; None: H.264 (VP9 for WebM)
    video_quality: int | None = None  # videos: the codec's CRF; None: its default (visually lossless)
    video_edges: bool = True  # videos: frames searched on a mirrored border too (faces cut by the frame's edge)
    video_search_every: int | None = None  # videos: search every this-many-th frame; None: VideoOptions' default
    video_full_every: int | None = None  # videos: the whole frame on every this-many-th searched one; None: default


@dataclass
class ImageJob:
    source: Path
    output: Path
    name: str  # the path relative to the input ("/"-separated); a single file's own name
    rewrite: bool = False  # the output there was written by a lost try of this run: replace it


@dataclass
class ReportEntry:
    """One photo's line in the report: ``status`` is "ok", "error" or "skipped"."""

    input: str
    output: str | None
    status: str
    width: int | None = None
    height: int | None = None
    faces: list[Face] = field(default_factory=list)
    error: str | None = None
    frames: int | None = None  # videos only: frames written, frames per second, faces hidden over all frames
    fps: float | None = None
    faces_hidden: int | None = None
    tracks: list[dict] | None = None  # videos only: per track, id, first and last frame, method, keyframe boxes
    kept_tracks: list[dict] | None = None  # videos only: tracks a reviewer left visible (VideoEdits.keep)
    unmatched_keeps: int = 0  # videos only: keep pointers that met no track (those faces were hidden)
    residuals: list = field(default_factory=list)  # photos only: what the audit found (anonymizer.audit.Residual)
    review: list[dict] = field(default_factory=list)  # videos only: the audit's flagged frames, as time ranges

    @property
    def flagged(self) -> int:
        """The audit's finds left for a person to look at (in a video: its flagged time ranges)."""
        return sum(1 for r in self.residuals if r.action == "flagged") + len(self.review)

    @property
    def face_count(self) -> int:
        """Faces hidden: a photo's, or a video's over all its frames (a face counted once a frame)."""
        return self.faces_hidden if self.faces_hidden is not None else len(self.faces)

    def to_dict(self) -> dict:
        if self.status == "ok":
            head = {
                "input": self.input,
                "output": self.output,
                "status": "ok",
                "width": self.width,
                "height": self.height,
            }
            if self.frames is not None:  # a video
                video = {
                    **head,
                    "frames": self.frames,
                    "fps": self.fps,
                    "faces_hidden": self.faces_hidden,
                    "tracks": self.tracks or [],
                }
                if self.kept_tracks:
                    video["kept_tracks"] = self.kept_tracks
                if self.unmatched_keeps:
                    video["unmatched_keeps"] = self.unmatched_keeps
                if self.review:  # the audit's flagged frames, as time ranges to look at
                    video["flagged_ranges"] = self.review
                    video["review"] = True
                return video
            photo = {**head, "faces": [face.to_report() for face in self.faces]}
            if self.residuals:
                photo["residuals"] = [r.to_report() for r in self.residuals]
                photo["review"] = self.flagged > 0
            return photo
        if self.status == "skipped":
            return {"input": self.input, "output": self.output, "status": "skipped"}
        return {"input": self.input, "output": None, "status": "error", "error": self.error}


def report_dict(entries: list[ReportEntry]) -> dict:
    return {"version": REPORT_VERSION, "images": [entry.to_dict() for entry in entries]}


def write_report(path: str | os.PathLike, entries: list[ReportEntry], merge: bool = False) -> Path:
    """Write the JSON report atomically (UTF-8, non-ASCII names kept as they are).

    With ``merge``, the entries of an existing report at ``path`` for other
    inputs are kept, so re-doing a few photos does not drop the rest from it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    report = report_dict(entries)
    if merge:
        new_inputs = {image["input"] for image in report["images"]}
        report["images"] = [i for i in _earlier_images(path) if i.get("input") not in new_inputs] + report["images"]
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _earlier_images(path: Path) -> list[dict]:
    """The image entries of the report at ``path``; none when it is missing, unreadable or of another version."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(report, dict) or report.get("version") != REPORT_VERSION:
        return []
    images = report.get("images")
    return [i for i in images if isinstance(i, dict)] if isinstance(images, list) else []


def process_job(
    anonymizer: Anonymizer,
    job: ImageJob,
    options: BatchOptions,
    sources: frozenset[Path] | set[Path],
    faces: list[Face] | Reviewed | VideoEdits | None = None,
    frame_progress: Callable[[int, int | None], None] | None = None,
) -> ReportEntry:
    """Read, anonymize and write one photo; never raises for a bad photo (its entry says why).

    ``sources``: every input of the batch (resolved), which no output may overwrite;
    ``faces``: the faces to hide (or a reviewer's :class:`~anonymizer.audit.Reviewed`: those faces, and the
    audit's finds they dismissed), or None to detect them; for a video, a reviewer's
    :class:`~anonymizer.video.VideoEdits` or None; ``frame_progress(done, total)``: called after each frame of
    a video.
    """
    opts = options
    if job.output.resolve() in sources:
        return error_entry(job, "the output would overwrite an input file")
    if job.output.exists() and not (opts.overwrite or job.rewrite):
        return ReportEntry(input=job.name, output=job.name, status="skipped")
    if is_video_path(job.source):
        edits = faces if isinstance(faces, VideoEdits) else None
        return _process_video(anonymizer, job, opts, frame_progress, edits)
    if isinstance(faces, VideoEdits):
        return error_entry(job, "video edits were given for a photo")
    try:
        loaded = read_image(job.source, max_pixels=opts.max_pixels)
    except ImageReadError as err:
        return error_entry(job, str(err))
    except (OSError, MemoryError) as err:
        return error_entry(job, f"cannot read: {err}")
    dismissed = ()
    if isinstance(faces, Reviewed):
        faces, dismissed = list(faces.faces), faces.dismissed
    try:
        result = anonymizer.anonymize(loaded.rgb, faces=faces, dismissed=dismissed)
        if result.image.shape != loaded.rgb.shape:
            raise RuntimeError(f"the pipeline returned an image of shape {result.image.shape}")
    except Exception as err:  # fail closed: whatever went wrong, nothing is written
        log.debug("anonymizing %s failed", job.source, exc_info=True)
        return error_entry(job, f"anonymizing failed: {type(err).__name__}: {err}")
    try:
        job.output.parent.mkdir(parents=True, exist_ok=True)
        write_image(
            job.output,
            result.image,
            loaded,
            keep_metadata=opts.keep_metadata,
            jpeg_quality=opts.jpeg_quality,
        )
    except Exception as err:
        log.debug("writing %s failed", job.output, exc_info=True)
        return error_entry(job, f"cannot write the output: {type(err).__name__}: {err}")
    return _ok(job, loaded.width, loaded.height, faces=result.faces, residuals=result.residuals)


def _process_video(
    anonymizer: Anonymizer, job: ImageJob, opts: BatchOptions, frame_progress, edits: VideoEdits | None = None
) -> ReportEntry:
    from anonymizer.video import VideoError, VideoOptions, anonymize_video

    options = VideoOptions(
        codec=opts.video_codec, quality=opts.video_quality, keep_metadata=opts.keep_metadata, edges=opts.video_edges
    )
    if opts.video_search_every is not None:
        every = opts.video_search_every  # the extra passes on searched frames, about as often as by default
        extra = max(every, round(options.extra_every / every) * every)
        options = dataclasses.replace(options, search_every=every, extra_every=extra)
    if opts.video_full_every is not None:
        options = dataclasses.replace(options, full_every=opts.video_full_every)
    try:
        job.output.parent.mkdir(parents=True, exist_ok=True)
        result = anonymize_video(job.source, job.output, anonymizer, options, progress=frame_progress, edits=edits)
    except VideoError as err:
        return error_entry(job, str(err))
    except Exception as err:  # fail closed: anonymize_video leaves no output when it raises
        log.debug("anonymizing %s failed", job.source, exc_info=True)
        return error_entry(job, f"anonymizing failed: {type(err).__name__}: {err}")
    return _ok(
        job,
        result.width,
        result.height,
        frames=result.frames,
        fps=result.fps,
        faces_hidden=result.faces,
        tracks=result.tracks,
        kept_tracks=result.kept,
        unmatched_keeps=result.unmatched_keeps,
        review=result.review,
    )


def _ok(job: ImageJob, width: int, height: int, **details) -> ReportEntry:
    return ReportEntry(input=job.name, output=job.name, status="ok", width=width, height=height, **details)


def error_entry(job: ImageJob, reason: str) -> ReportEntry:
    """The report entry of a job that failed: nothing was written for it."""
    return ReportEntry(input=job.name, output=None, status="error", error=reason)
