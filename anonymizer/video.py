"""Video files: every frame anonymized, the other streams copied untouched (a first slice of the video issue).

:func:`anonymize_video` decodes the video stream with PyAV (which ships its own FFmpeg), hides the faces of
each frame with the :class:`~anonymizer.pipeline.Anonymizer` it is given, and encodes the frames again with
H.264 (``libx264``, CRF 18 by default: visually lossless) at the same size (odd sizes too: 4:4:4 then, as
4:2:0 needs even sides), keeping every frame's timestamp, so the frame count, the frame rate and a variable
frame rate are kept. Audio and subtitle streams are copied packet for packet, not re-encoded. The container
is the input's (by extension).

It fails closed: the output is written to a temporary file beside it and renamed only when every frame was
anonymized and the file closed; on any error (a corrupt or truncated video, a frame that fails) nothing is
left. Frames are handled one at a time: memory does not grow with the clip's length.

Not yet: tracking faces across frames (a face the detector misses in one frame is not hidden there), one
generated face per person, rotation metadata, the GUI.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
DEFAULT_CRF = 18


def is_video_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


class VideoError(ValueError):
    """The video cannot be read or written (the message says why)."""


@dataclass
class VideoResult:
    frames: int
    fps: float | None
    width: int
    height: int
    faces: int  # faces hidden, summed over the frames


def anonymize_video(
    source: str | os.PathLike,
    output: str | os.PathLike,
    anonymizer,
    crf: int = DEFAULT_CRF,
    progress: Callable[[int, int | None], None] | None = None,
) -> VideoResult:
    """Anonymize every frame of ``source`` into ``output``; see the module's docstring.

    ``progress(frames done, frames in all or None)`` is called after each frame.
    """
    import av

    output = Path(output)
    try:
        src = av.open(str(source))
    except (av.FFmpegError, OSError) as err:
        raise VideoError(f"not a readable video: {err}") from None
    with src:
        if not src.streams.video:
            raise VideoError("no video stream in the file")
        vin = src.streams.video[0]
        width, height = vin.codec_context.width, vin.codec_context.height
        fps = float(vin.average_rate) if vin.average_rate else None
        fd, tmp_name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=output.suffix)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            frames, faces = _transcode(av, src, vin, tmp, anonymizer, crf, progress)
            os.replace(tmp, output)
        except BaseException as err:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if isinstance(err, (av.FFmpegError, EOFError)):
                raise VideoError(f"the video could not be processed: {err}") from None
            raise
    return VideoResult(frames=frames, fps=fps, width=width, height=height, faces=faces)


def _transcode(av, src, vin, tmp: Path, anonymizer, crf: int, progress) -> tuple[int, int]:
    width, height = vin.codec_context.width, vin.codec_context.height
    others = [s for s in src.streams if s.type in ("audio", "subtitle")]
    with av.open(str(tmp), "w") as dst:  # the container from the extension, the input's
        vout = dst.add_stream("libx264", rate=vin.average_rate or 25)
        vout.width, vout.height = width, height
        vout.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        vout.time_base = vin.time_base
        vout.codec_context.time_base = vin.time_base
        vout.options = {"crf": str(crf), "preset": "medium"}
        copies = {s.index: dst.add_stream_from_template(s) for s in others}
        total = vin.frames or None
        frames = faces = 0
        for packet in src.demux(vin, *others):
            if packet.stream.index in copies:
                if packet.dts is None:
                    continue  # the flush packet of a copied stream
                packet.stream = copies[packet.stream.index]
                dst.mux(packet)
                continue
            for frame in packet.decode():
                rgb = frame.to_ndarray(format="rgb24")
                result = anonymizer.anonymize(np.ascontiguousarray(rgb))
                new = av.VideoFrame.from_ndarray(result.image, format="rgb24")
                new.pts, new.time_base = frame.pts, frame.time_base
                dst.mux(vout.encode(new))
                frames += 1
                faces += len(result.faces)
                if progress is not None:
                    progress(frames, total)
        if frames == 0:
            raise VideoError("the video stream holds no frame that decodes")
        if total and frames < total:
            raise VideoError(f"truncated or corrupt: {frames} of its {total} frames decode")
        dst.mux(vout.encode(None))
    return frames, faces
