"""Video files: every frame anonymized, frames and timing kept, audio copied untouched, bad videos fail closed."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from anonymizer import Anonymizer
from anonymizer.batch import Batch

av = pytest.importorskip("av")


def _astronaut():
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def make_clip(path: Path, frames: int = 24, size: tuple[int, int] = (320, 240), audio: bool = True) -> None:
    """The astronaut's face panning across a grey frame, 12 fps, with a tone as audio."""
    import cv2

    w, h = size
    face = cv2.resize(_astronaut()[20:220, 150:310], (120, 150))
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=12)
        v.width, v.height = w, h
        v.pix_fmt = "yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p"
        a = out.add_stream("aac", rate=22050) if audio else None
        for i in range(frames):
            img = np.full((h, w, 3), 110, np.uint8)
            x = 10 + i * (w - 140) // max(1, frames - 1)
            img[40:190, x : x + 120] = face
            out.mux(v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(v.encode(None))
        if a is not None:
            t = np.arange(22050 * frames // 12) / 22050
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            for k in range(0, tone.shape[1], 1024):
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(tone[:, k : k + 1024]), format="fltp", layout="mono"
                )
                frame.sample_rate = 22050
                out.mux(a.encode(frame))
            out.mux(a.encode(None))


def _video_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def _packets(path: Path, kind: str) -> list[bytes]:
    with av.open(str(path)) as c:
        stream = next(s for s in c.streams if s.type == kind)
        return [bytes(p) for p in c.demux(stream) if p.size]


@pytest.mark.parametrize("size", [(320, 240), (321, 241)])
def test_every_frame_is_anonymized_and_the_audio_copied(tmp_path, size):
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "clip.mp4", size=size)
    before = (src / "clip.mp4").read_bytes()
    batch = Batch(Anonymizer(method="solid"), src, tmp_path / "out")
    (entry,) = batch.run()
    assert entry.status == "ok", entry.error
    out = tmp_path / "out" / "clip.mp4"
    assert (src / "clip.mp4").read_bytes() == before
    frames_in, frames_out = _video_frames(src / "clip.mp4"), _video_frames(out)
    assert len(frames_out) == len(frames_in) == 24 and frames_out[0].shape == (size[1], size[0], 3)
    assert entry.frames == 24 and entry.fps == 12 and entry.faces_hidden >= 24
    for i, (a, b) in enumerate(zip(frames_in, frames_out)):
        x = 10 + i * (size[0] - 140) // 23
        face = (slice(70, 160), slice(x + 20, x + 100))  # the middle of the face
        assert np.abs(b[face].astype(int) - a[face].astype(int)).mean() > 40, f"frame {i} not hidden"
    assert _packets(out, "audio") == _packets(src / "clip.mp4", "audio")  # copied, not re-encoded
    with av.open(str(out)) as c, av.open(str(src / "clip.mp4")) as d:
        assert [f.pts for f in c.decode(video=0)] == [f.pts for f in d.decode(video=0)]
        assert c.streams.video[0].average_rate == Fraction(12)
    report = batch.entries[0].to_dict()
    assert json.loads(json.dumps(report))["frames"] == 24


def test_a_truncated_or_fake_video_fails_closed(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    make_clip(tmp_path / "whole.mp4", audio=False)
    data = (tmp_path / "whole.mp4").read_bytes()
    (src / "cut.mp4").write_bytes(data[: len(data) // 3])
    make_clip(tmp_path / "whole.mkv", audio=False)  # Matroska plays until it is cut: a cut one half-decodes
    mkv = (tmp_path / "whole.mkv").read_bytes()
    (src / "cut.mkv").write_bytes(mkv[: len(mkv) * 2 // 3])
    (src / "fake.mkv").write_bytes(b"not a video at all" * 100)
    batch = Batch(Anonymizer(method="blur"), src, tmp_path / "out")
    entries = {e.input: e for e in batch.run()}
    assert entries["fake.mkv"].status == "error" and "video" in entries["fake.mkv"].error
    assert entries["cut.mp4"].status == "error"
    assert entries["cut.mkv"].status == "error", entries["cut.mkv"]
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]  # nothing written, no temporary file
