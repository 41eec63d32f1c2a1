"""Video files: every face hidden in every frame, followed by a tracker, the other streams copied untouched.

:func:`anonymize_video` decodes the video stream with PyAV (which ships its own FFmpeg) and streams the frames
through detect -> track -> replace -> encode:

* **Detect** every frame with the pipeline's detector, in the frame's displayed orientation (a phone clip
  stored sideways with a rotation in its display matrix is turned upright for the detector and the
  replacer, then turned back, so the stored pixels and the rotation metadata stay as they were).
* **Track** (:class:`anonymizer.tracking.FaceTracker`): detections are linked into tracks, and each frame is
  decided late (up to ``entry`` frames: 10 s at 25 fps), so a face the detector misses for some frames is
  hidden where its track puts it, from before its first detection (back to where it came into the picture) to
  after its last. The file is read twice at once: the search runs that many frames ahead of the writer, which
  decodes each frame again when it is decided. So no frame waits in memory, and memory does not grow with
  the clip's length or the look-ahead.
* **Replace** with the pipeline's method; the GAN paints one new face per track (one latent code for all of
  its frames). Frames are painted side by side (:attr:`VideoOptions.paint_workers`, one a core, up to two) and
  encoded in order, at most one frame more than the painters in flight.
* **Encode** with H.264 (``libx264``) at CRF 18 by default (visually lossless), or H.265, VP9 or AV1
  (:data:`CODECS`), at the same size (odd sizes too: 4:4:4 then, as 4:2:0 needs even sides), keeping every
  frame's timestamp: frame count, frame rate and a variable frame rate are kept. Audio and subtitle streams
  are copied packet for packet, not re-encoded. The container is the input's (by extension). Container and
  stream metadata (titles, GPS, dates) are dropped unless ``keep_metadata``.

A reviewer's edits (:class:`VideoEdits`, the desktop app's review) work on whole tracks: a face pointed at in
one frame is left visible in every frame its track spans (the clip is then searched before it is written),
and a box drawn once is hidden in every frame.

It fails closed: the output is written to a temporary file beside it and renamed only when every frame was
anonymized and the file closed; on any error (a corrupt or truncated video, a frame that fails, Ctrl-C)
nothing is left.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anonymizer.boxes import box_iou
from anonymizer.crops import VIDEO_MASK_SHAPE
from anonymizer.detection.cascade import CascadeDetector
from anonymizer.device import cpu_count, release_memory
from anonymizer.faces import Face, estimate_landmarks
from anonymizer.motion import CameraMotion
from anonymizer.tracking import DEFAULT_CONFIRM, DEFAULT_ENTRY, DEFAULT_LOOKAHEAD, DEFAULT_WEAK, FaceTracker, boxes_at

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
PAINT_WORKERS = 2  # the most frames painted side by side by default (VideoOptions.paint_workers)
TRIM_BYTES = 64 * 2**20  # frames' bytes written between two hand-backs of the C heap's free memory (release_memory)
KEEP_MATCH_IOU = 0.3  # a face pointed at in a frame belongs to the track whose box there overlaps it most, this much


@dataclass(frozen=True)
class Codec:
    encoder: str  # FFmpeg's encoder name, in PyAV's wheel
    default_quality: int  # CRF: lower is better and bigger
    max_quality: int
    options: tuple[tuple[str, str], ...] = ()


CODECS = {
    "h264": Codec("libx264", 18, 51, (("preset", "veryfast"),)),  # benchmarks/results/video_encoder.md
    "h265": Codec("libx265", 20, 51, (("preset", "medium"), ("x265-params", "log-level=error"))),
    "vp9": Codec("libvpx-vp9", 24, 63, (("b", "0"), ("row-mt", "1"))),
    "av1": Codec("libsvtav1", 30, 63, (("preset", "8"),)),
}
DEFAULT_CODEC = "h264"
WEBM_CODECS = ("vp9", "av1")  # what a WebM file may hold; a .webm input gets VP9 by default


def is_video_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


class VideoError(ValueError):
    """The video cannot be read or written (the message says why)."""


@dataclass(frozen=True)
class VideoOptions:
    codec: str | None = None  # a key of CODECS; None: H.264, or VP9 for WebM
    quality: int | None = None  # the codec's CRF; None: its default
    keep_metadata: bool = False
    lookahead: int = DEFAULT_LOOKAHEAD
    entry: int = DEFAULT_ENTRY  # frames a face coming in across the frame's edge is hidden before it is found
    # Frames are searched for faces on every this-many-th frame only; the tracker bridges the frames between
    # (the camera's motion is measured on every frame).
    search_every: int = 1
    # The default detector's passes for large and turned faces run on every this-many-th frame only (a multiple
    # of ``search_every``): such faces are bridged by the tracker in between.
    extra_every: int = 3
    # The frame's pass runs on the whole frame on every this-many-th searched frame (and on every frame that
    # gets the extra passes); on the searched frames between, on the frame scaled by ``between_scale``, a
    # quarter of the pixels at 0.5: their large faces are found there, their small ones bridged by the tracker.
    # By default the whole frame is searched where the extra passes run, every third frame: on the tune clips
    # that left fewer face-frames visible than every frame whole, at 0.55x the detection time
    # (benchmarks/results/video_cadence_tune.md).
    full_every: int = 3
    between_scale: float = 0.5
    # Frames are searched on a mirrored border (``make_detector("padded")``'s passes), so that a face the
    # frame's edge cuts is found as a whole one and its track follows it out of the frame and back in.
    edges: bool = True
    # The scaled-down pass's finds scored from ``weak`` up to its own threshold (0.45) are kept as weak finds,
    # hidden where a track confirms them with ``confirm`` of them (None: no weak finds). Chosen on the tune half
    # (benchmarks/video_weak_study.py, benchmarks/results/video_weak_tune.md).
    weak: float | None = DEFAULT_WEAK
    confirm: int = DEFAULT_CONFIRM
    # The audit (where the pipeline's is not "off"): every this-many-th written frame is searched again by the
    # second detector family; what it finds outside the hidden regions is flagged, and the flagged frames are
    # grouped into time ranges in the report (flagged only: a box hidden in one frame of several would flicker).
    audit_every: int = 5
    # Frames painted side by side (each frame's faces replaced and pasted in a thread of its own, then encoded
    # in order); None: up to ``PAINT_WORKERS``, one a core. What numpy, OpenCV and onnxruntime do there runs
    # outside the interpreter lock, so a clip searched whole before its first frame is written (shorter than
    # the look-ahead) keeps both cores busy while it is written.
    paint_workers: int | None = None

    def painters(self) -> int:
        if self.paint_workers is not None:
            if self.paint_workers < 1:
                raise VideoError(f"paint workers must be 1 or more, not {self.paint_workers}")
            return self.paint_workers
        return min(PAINT_WORKERS, cpu_count())

    def codec_for(self, output: Path) -> str:
        webm = output.suffix.lower() == ".webm"
        name = self.codec or ("vp9" if webm else DEFAULT_CODEC)
        if name not in CODECS:
            raise VideoError(f"unknown video codec {name!r}: use one of {', '.join(CODECS)}")
        if webm and name not in WEBM_CODECS:
            raise VideoError(f"a WebM file cannot hold {name}: use --video-codec {' or '.join(WEBM_CODECS)}")
        return name


Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class VideoEdits:
    """A reviewer's changes to what a video hides, in displayed pixels (``x1, y1, x2, y2``).

    ``keep``: ``(frame, box)`` pairs, each pointing at a face in one frame: the track that face belongs to
    (the person, as the tracker followed them) stays visible in every frame it spans. A track's extent is
    known only once the whole clip has been searched, so a video with ``keep`` is read twice: searched and
    tracked first, then written (the detector runs once). A pointer that meets no track keeps nothing (its
    face stays hidden; :attr:`VideoResult.unmatched_keeps` counts them). Where the tracker lost a person and
    started a new track, only the pointed-at track is kept: the rest stays hidden.

    ``add``: boxes hidden in every frame, where they are drawn (a face the detector never finds, a name
    badge): a region that does not move, reported as a track with a negative id and ``"source": "user"``.
    """

    keep: tuple[tuple[int, Box], ...] = ()
    add: tuple[Box, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.keep or self.add)


@dataclass
class VideoResult:
    frames: int
    fps: float | None
    width: int
    height: int
    faces: int  # faces hidden, summed over the frames
    rotation: int = 0  # the display rotation, degrees counter-clockwise, kept in the output
    tracks: list[dict] = field(default_factory=list)  # per track: id, first/last frame, method, keyframes
    kept: list[dict] = field(default_factory=list)  # tracks left visible (VideoEdits.keep), as ``tracks``
    unmatched_keeps: int = 0  # VideoEdits.keep pointers that met no track (their faces were hidden)
    # The audit's flagged frames, grouped: per range, its first and last frame and time, the frames flagged, the
    # best score and that find's box (see VideoOptions.audit_every).
    review: list[dict] = field(default_factory=list)


REVIEW_GAP = 2  # audited frames without a find that still join two flagged ones into one range


def flagged_ranges(flags: list[tuple[int, float, list[float]]], every: int, fps: float | None) -> list[dict]:
    """Group (frame, best score, its box) of the audited frames with a find into time ranges: frames at most
    ``REVIEW_GAP`` audits apart join one range."""
    ranges: list[dict] = []
    for frame, score, box in sorted(flags):
        last = ranges[-1] if ranges else None
        if last is not None and frame - last["last_frame"] <= every * REVIEW_GAP:
            last["last_frame"] = frame
            last["frames_flagged"] += 1
            if score > last["score"]:
                last["score"], last["box"] = score, box
        else:
            ranges.append({"first_frame": frame, "last_frame": frame, "frames_flagged": 1, "score": score, "box": box})
    for r in ranges:
        r["score"] = round(float(r["score"]), 4)
        if fps:
            r["start_s"], r["end_s"] = round(r["first_frame"] / fps, 2), round(r["last_frame"] / fps, 2)
    return ranges


def anonymize_video(
    source: str | os.PathLike,
    output: str | os.PathLike,
    anonymizer,
    options: VideoOptions | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    edits: VideoEdits | None = None,
) -> VideoResult:
    """Anonymize every frame of ``source`` into ``output``; see the module's docstring.

    ``progress(frames done, frames in all or None)`` is called after each frame searched (the writer follows
    a little behind); with ``edits.keep``, after each frame searched and each frame written (each frame counts
    twice: ``2 * frames`` in all).
    """
    import av

    options = options or VideoOptions()
    output = Path(output)
    codec = options.codec_for(output)
    quality = CODECS[codec].default_quality if options.quality is None else int(options.quality)
    if not 0 <= quality <= CODECS[codec].max_quality:
        raise VideoError(f"{codec} quality (CRF) must be 0-{CODECS[codec].max_quality}, not {quality}")
    try:
        src = av.open(str(source))
    except (av.FFmpegError, OSError) as err:
        raise VideoError(f"not a readable video: {err}") from None
    with src:
        if not src.streams.video:
            raise VideoError("no video stream in the file")
        for replacer in (getattr(anonymizer, "replacer", None), getattr(anonymizer, "fallback", None)):
            if hasattr(replacer, "start_video"):  # per-track faces: new ones for this video's tracks
                replacer.start_video(Path(source).name)
        fd, tmp_name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=output.suffix)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            result = _Transcoder(av, src, tmp, anonymizer, options, codec, quality, progress, edits).run()
            os.replace(tmp, output)
        except BaseException as err:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if isinstance(err, (av.FFmpegError, EOFError)):
                raise VideoError(f"the video could not be processed: {err}") from None
            raise
    return result


def _display_matrix(frame) -> list[int] | None:
    """The frame's display matrix (9 int32, FFmpeg's layout), or None."""
    for data in frame.side_data:
        if "DISPLAYMATRIX" in str(data.type).upper():
            return np.frombuffer(bytes(data), dtype=np.int32)[:9].tolist()
    return None


class _Transcoder:
    def __init__(
        self, av, src, tmp: Path, anonymizer, options: VideoOptions, codec: str, quality: int, progress, edits=None
    ):
        self.av, self.src, self.tmp, self.anonymizer = av, src, tmp, anonymizer
        self.options, self.codec, self.quality, self.progress = options, codec, quality, progress
        self.edits = edits or VideoEdits()
        self.vin = src.streams.video[0]
        self.width, self.height = self.vin.codec_context.width, self.vin.codec_context.height
        self.total = self.vin.frames or None
        self.rotation = 0  # quarter turns counter-clockwise that display the stored frame
        self.matrix: list[int] | None = None  # the first frame's display matrix, kept in the output
        self.added: list[Face] = []  # VideoEdits.add, as faces hidden in every frame
        self.planned: list[list[Face]] | None = None  # with VideoEdits.keep: every frame's faces, searched first
        self.kept: list[dict] = []
        self.unmatched_keeps = 0
        self.searched_by: FaceTracker | None = None  # the tracker of that search: its tracks are the report's
        self.written = self.faces = 0
        self.search = None  # the frames searched: a second reading of the file, ahead of the writer
        self.found = 0  # frames read by that search
        self.decided: deque = deque()  # (frame index, faces) decided and not yet written, in order
        self.detecting: deque = deque()  # (frame index, Future of its faces), in order
        self.tracker: FaceTracker | None = None
        self._padded: CascadeDetector | None = None  # the detector on a mirrored border (VideoOptions.edges)
        self._motion: CameraMotion | None = None  # the camera's motion, frame to frame, for the tracker
        self.vout = None
        self.track_methods: dict[int, str] = {}
        self.flags: list[tuple[int, float, list[float]]] = []  # the audit's: (frame, best score, its box)
        self.painting: deque = deque()  # (Future of a painted frame, pts, time base), in the frames' order
        self.submitted = 0  # frames handed to the painters
        self.painters = options.painters()
        self.auditing = getattr(anonymizer, "audit", "off") != "off"  # the pipeline's audit, on written frames

    def run(self) -> VideoResult:
        av = self.av
        self._orient(self._first_frame())
        self.added = [self._added_face(i, box) for i, box in enumerate(self.edits.add)]
        if self.edits.keep:
            self._plan()
        others = [s for s in self.src.streams if s.type in ("audio", "subtitle")]
        with av.open(str(self.tmp), "w") as dst:  # the container from the extension, the input's
            self.dst = dst
            if self.options.keep_metadata:
                dst.metadata.update(self.src.metadata)
            copies = {}
            for stream in self.src.streams:  # in the input's order
                if stream is self.vin:
                    self._open_output()
                elif stream in others:
                    copies[stream.index] = dst.add_stream_from_template(stream)
            if not self.options.keep_metadata:
                for stream in copies.values():
                    language = stream.metadata.get("language")
                    stream.metadata.clear()
                    if language:  # which language an audio or subtitle track is, a viewer needs
                        stream.metadata["language"] = language
            if self.auditing:
                self.anonymizer.auditor.detector  # loaded here, not by two painters at once  # noqa: B018
            with (
                ThreadPoolExecutor(1, thread_name_prefix="detect") as self.pool,
                ThreadPoolExecutor(self.painters, thread_name_prefix="paint") as self.paint_pool,
                contextlib.ExitStack() as stack,
            ):
                if self.planned is None:
                    self.search = iter(stack.enter_context(av.open(self.src.name)).decode(video=0))
                decoded = self._frames(copies, others)
            if decoded == 0:
                raise VideoError("the video stream holds no frame that decodes")
            if self.total and decoded < self.total:
                raise VideoError(f"truncated or corrupt: {decoded} of its {self.total} frames decode")
            if self.planned is not None and decoded != len(self.planned):
                raise VideoError(f"the video gave {len(self.planned)} frames when searched and {decoded} when written")
            dst.mux(self.vout.encode(None))
        fps = float(self.vin.average_rate) if self.vin.average_rate else None
        kept_ids = {track["id"] for track in self.kept}
        tracker = self.searched_by or self.tracker
        tracks = [t.to_report() for t in tracker.all_tracks if t.hidden and t.id not in kept_ids]
        tracks += [self._added_report(face) for face in self.added]
        for track in tracks:
            track["method"] = self.track_methods.get(track["id"])
        every = max(self.options.audit_every, 1)
        return VideoResult(
            review=flagged_ranges(self.flags, every, fps),
            frames=self.written,
            fps=fps,
            width=self.width,
            height=self.height,
            faces=self.faces,
            rotation=self.rotation * 90,
            tracks=tracks,
            kept=self.kept,
            unmatched_keeps=self.unmatched_keeps,
        )

    # -- a reviewer's edits ---------------------------------------------------------------------------------
    def _upright_size(self) -> tuple[int, int]:
        return (self.width, self.height) if self.rotation % 2 == 0 else (self.height, self.width)

    def _added_face(self, index: int, box: Box) -> Face:
        w, h = self._upright_size()
        b = np.clip(np.asarray(box, dtype=np.float32).reshape(4), [0, 0, 0, 0], [w, h, w, h])
        if b[2] - b[0] < 1 or b[3] - b[1] < 1:
            raise VideoError(f"an added box {tuple(round(float(v), 1) for v in box)} lies outside the {w}x{h} frame")
        return Face(b, 1.0, estimate_landmarks(b), source="user", track=-(index + 1))

    def _added_report(self, face: Face) -> dict:
        last = max(self.written - 1, 0)
        box = [round(float(v), 1) for v in face.box]
        return {
            "id": face.track,
            "first_frame": 0,
            "last_frame": last,
            "frames": self.written,
            "detections": 0,
            "method": None,
            "source": "user",
            "keyframes": [[0, *box], [last, *box]] if last else [[0, *box]],
        }

    def _plan(self) -> None:
        """Search and track the whole clip before writing (for ``VideoEdits.keep``): every frame's faces, minus
        the tracks the reviewer kept. Only the faces are held, not the frames."""
        tracker = self.tracker = self.searched_by = self._new_tracker()
        with self.av.open(self.src.name) as probe, ThreadPoolExecutor(1, thread_name_prefix="search") as self.pool:
            self.search = iter(probe.decode(video=0))
            self._search_until(None)
        planned = [faces for _, faces in self.decided]
        self.decided.clear()
        if not planned:
            raise VideoError("the video stream holds no frame that decodes")
        if self.total and len(planned) < self.total:
            raise VideoError(f"truncated or corrupt: {len(planned)} of its {self.total} frames decode")
        kept_ids: set[int] = set()
        tracks = tracker.all_tracks
        for frame, box in self.edits.keep:
            here = [(track, b) for track in tracks for f, b in track.hidden if f == frame]  # the tracks in that frame
            iou = box_iou(np.asarray(box, np.float32).reshape(1, 4), np.stack([b for _, b in here]))[0] if here else []
            if not here or iou.max() < KEEP_MATCH_IOU:
                self.unmatched_keeps += 1
                continue
            best = here[int(iou.argmax())][0]
            if best.id not in kept_ids:
                kept_ids.add(best.id)
                self.kept.append({**best.to_report(), "method": None, "kept_at": [int(frame), *map(float, box)]})
        self.planned = [[f for f in faces if f.track not in kept_ids] for faces in planned]

    def _frames(self, copies: dict, others: list) -> int:
        """Demux: copied packets go straight to the output, video frames to detection and tracking; returns the
        frames decoded. A frame's detection runs in the pool while this thread writes the frames before it."""
        decoded = 0
        for packet in self.src.demux(self.vin, *others):
            if packet.stream.index in copies:
                if packet.dts is None:
                    continue  # the flush packet of a copied stream
                packet.stream = copies[packet.stream.index]
                self.dst.mux(packet)
                continue
            for frame in packet.decode():
                self._push(decoded, frame)
                decoded += 1
        while self.painting:
            self._encode(*self.painting.popleft())
        if self.planned is None:
            self._search_until(None)
            if self.decided:
                raise VideoError(f"the video gave {self.found} frames when searched and {decoded} when written")
        return decoded

    def _search_until(self, index: int | None) -> None:
        """Search on until frame ``index`` is decided (None: to the end of the clip). A frame's detection runs
        in the pool while this thread reads the next one and writes the frames decided before it."""
        while self.search is not None and (index is None or not self.decided or self.decided[-1][0] < index):
            frame = next(self.search, None)
            if frame is None:  # the clip's end: every frame left is decided
                self.search = None
                while self.detecting:
                    self._track(*self.detecting.popleft())
                self.decided.extend(self.tracker.finish())
                return
            self.detecting.append((self.found, self.pool.submit(self._detect, self.found, self._upright(frame))))
            self.found += 1
            while len(self.detecting) > 1:  # one detection in flight
                self._track(*self.detecting.popleft())
            if self.progress is not None:  # with edits.keep every frame counts twice: searched, then written
                self.progress(self.found, self.total and 2 * self.total if self.edits.keep else self.total)

    def _track(self, index: int, found: Future) -> None:
        self.decided.extend(self.tracker.push(index, *found.result()))

    def _detect(self, index: int, rgb: np.ndarray) -> tuple[list[Face], np.ndarray | None, bool]:
        """The frame's faces, the camera's motion since the frame before, and whether the frame starts a new
        shot (frames come in order: the one thread of the detection pool)."""
        if index == 0 or self._motion is None:
            self._motion = CameraMotion()
        motion = self._motion.update(rgb)
        cut = self._motion.cut
        if index % max(self.options.search_every, 1):
            return [], motion, cut  # not searched: the tracker carries its tracks through this frame
        detector = self.anonymizer.detector
        if not isinstance(detector, CascadeDetector):
            return self.anonymizer.detect(rgb), motion, cut
        extra = index % max(self.options.extra_every, 1) == 0
        full = extra or (index // max(self.options.search_every, 1)) % max(self.options.full_every, 1) == 0
        if self.options.edges and detector.photo.border == 0 and detector.large_border == 0:
            if self._padded is None:
                self._padded = detector.with_border()
            detector = self._padded
        scale = 1.0 if full else self.options.between_scale
        return detector.detect(rgb, extra=extra, weak=self.options.weak, scale=scale), motion, cut

    def _orient(self, first) -> None:
        """The rotation the first frame's display matrix asks for: frames are searched and replaced upright."""
        self.matrix = _display_matrix(first)
        if self.matrix is not None:
            self.rotation = int(round(first.rotation / 90.0)) % 4 if first.rotation else 0

    def _upright(self, frame) -> np.ndarray:
        rgb = frame.to_ndarray(format="rgb24")
        if self.rotation:
            rgb = np.rot90(rgb, self.rotation)
        return np.ascontiguousarray(rgb)

    def _first_frame(self):
        """The first frame, decoded from a second opening of the file: its display matrix is needed before the
        output's header is written, which the first copied audio packet may do before any frame decodes."""
        with self.av.open(self.src.name) as probe:
            first = next(probe.decode(video=0), None)
        if first is None:
            raise VideoError("the video stream holds no frame that decodes")
        return first

    def _open_output(self) -> None:
        codec = CODECS[self.codec]
        vout = self.dst.add_stream(codec.encoder, rate=self.vin.average_rate or 25)
        vout.width, vout.height = self.width, self.height
        even = self.width % 2 == 0 and self.height % 2 == 0
        vout.pix_fmt = "yuv420p" if even else "yuv444p"
        vout.time_base = self.vin.time_base
        vout.codec_context.time_base = self.vin.time_base
        vout.options = {"crf": str(self.quality), **dict(codec.options)}
        if self.codec == "h265" and self.tmp.suffix.lower() in (".mp4", ".mov", ".m4v"):
            vout.codec_tag = "hvc1"  # what Apple's players need to play H.265 in MP4
        if self.matrix is not None:
            vout.set_display_matrix(self.matrix)
        if self.options.keep_metadata:
            vout.metadata.update({k: v for k, v in self.vin.metadata.items() if k.lower() != "encoder"})
        self.vout = vout
        self.tracker = self._new_tracker()

    def _new_tracker(self) -> FaceTracker:
        return FaceTracker(
            lookahead=self.options.lookahead,
            entry=self.options.entry,
            confirm=self.options.confirm,
            frame_size=self._upright_size(),
        )

    def _push(self, index: int, frame) -> None:
        """Write frame ``index`` (decoded by the writer's reading of the file) once its faces are decided."""
        if self.planned is not None:  # searched already: write it now
            if index >= len(self.planned):
                raise VideoError(f"the video gave {len(self.planned)} frames when searched and more when written")
            faces = [dataclasses.replace(f) for f in self.planned[index]]
        else:
            self._search_until(index)
            if not self.decided or self.decided[0][0] != index:
                raise VideoError(f"the video gave {self.found} frames when searched and more when written")
            faces = self.decided.popleft()[1]
        self._write(self._upright(frame), frame.pts, frame.time_base, faces)

    def _write(self, rgb: np.ndarray, pts, time_base, faces) -> None:
        """Hand the frame to a painter; encode the frames painted before it, in order, so that at most one more
        than the painters are in flight."""
        future = self.paint_pool.submit(self._paint, self.submitted, rgb, list(faces))
        self.submitted += 1
        self.painting.append((future, pts, time_base))
        while len(self.painting) > self.painters:
            self._encode(*self.painting.popleft())

    def _paint(self, index: int, rgb: np.ndarray, faces: list[Face]):
        """Frame ``index`` anonymized (in a painter's thread): its faces, the image as stored, and the audit's
        flag (or None)."""
        faces = faces + [dataclasses.replace(face) for face in self.added]
        result = self.anonymizer.anonymize(rgb, faces=faces, default_shape=VIDEO_MASK_SHAPE, audit=False)
        flag = self._audit(index, result)
        image = result.image if not self.rotation else np.ascontiguousarray(np.rot90(result.image, -self.rotation))
        return result.faces, image, flag

    def _encode(self, future: Future, pts, time_base) -> None:
        faces, image, flag = future.result()
        for face in faces:
            if face.track is not None and face.method:
                self.track_methods[face.track] = face.method
        if flag is not None:
            self.flags.append(flag)
        new = self.av.VideoFrame.from_ndarray(image, format="rgb24")
        new.pts, new.time_base = pts, time_base
        self.dst.mux(self.vout.encode(new))
        self.written += 1
        if self.written % max(1, TRIM_BYTES // image.nbytes) == 0:
            release_memory()  # freed frames otherwise pile up in the threads' arenas: peak memory grew with length
        self.faces += len(faces)
        if self.progress is not None and self.planned is not None:
            self.progress(self.found + self.written, self.total and 2 * self.total)  # searched, then written

    def _audit(self, index: int, result) -> tuple[int, float, list[float]] | None:
        """Search every ``audit_every``-th frame again (the pipeline's audit): the best find outside every hidden
        region, for the report's ranges, as (frame, score, box); None when there is none or it is not searched."""
        if not self.auditing or index % max(self.options.audit_every, 1):
            return None
        kept = [box for _, box in boxes_at(self.kept, index)]  # faces a reviewer chose to leave visible
        residuals = self.anonymizer.auditor.residuals(result.image, result.faces, self.anonymizer.mask_scale, kept)
        residuals = [r for r in residuals if r.action != "dismissed"]
        if not residuals:
            return None
        best = max(residuals, key=lambda r: r.score)
        return index, float(best.score), [round(float(v), 1) for v in best.box]


@dataclass
class FrameAt:
    """One frame of a video as displayed (its rotation applied), and where it lies in the video."""

    rgb: np.ndarray
    index: int  # its place in the video, counted from 0
    frames: int | None  # frames in the video (from the container; None when it does not say)
    fps: float | None

    @property
    def seconds(self) -> float | None:
        return self.index / self.fps if self.fps else None


def read_frame(path: str | os.PathLike, index: int = 0) -> FrameAt:
    """Frame ``index`` of a video (the last one where ``index`` is past the end), for a preview.

    Seeks to the keyframe at or before it and decodes forward, so any frame of a long video comes
    back in about the time a keyframe interval takes to decode.
    """
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError("no video stream in the file")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else None
            frames = stream.frames or None
            if frames is None and container.duration and fps:
                frames = max(1, round(container.duration / av.time_base * fps))
            start = stream.start_time or 0
            target, half = None, 0
            if index > 0 and fps and stream.time_base:
                target = start + int(index / fps / stream.time_base)
                half = int(0.5 / fps / stream.time_base)
                container.seek(target, stream=stream, backward=True, any_frame=False)
            frame = last = None
            for decoded in container.decode(stream):
                last = decoded
                if target is None or decoded.pts is None or decoded.pts >= target - half:
                    frame = decoded
                    break
            frame = frame or last
    except (av.FFmpegError, OSError, EOFError) as err:
        raise VideoError(f"not a readable video: {err}") from None
    if frame is None:
        raise VideoError("the video stream holds no frame that decodes")
    at = index
    if target is not None and frame.pts is not None:
        at = max(0, round((frame.pts - start) * float(stream.time_base) * fps))
    elif target is None:
        at = 0
    rgb = frame.to_ndarray(format="rgb24")
    turns = int(round(frame.rotation / 90.0)) % 4 if _display_matrix(frame) is not None and frame.rotation else 0
    rgb = np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb
    return FrameAt(rgb, at, frames, fps)
