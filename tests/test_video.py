"""Video files: every frame anonymized, frames and timing kept, audio copied untouched, bad videos fail closed."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeDetector

from anonymizer import Anonymizer
from anonymizer.batch import Batch

av = pytest.importorskip("av")


def _astronaut():
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


def make_clip(
    path: Path, frames: int = 24, size: tuple[int, int] = (320, 240), audio: bool = True, gop: int | None = None
) -> None:
    """The astronaut's face panning across a grey frame, 12 fps, with a tone as audio (``gop``: a keyframe
    every that many frames)."""
    import cv2

    w, h = size
    face = cv2.resize(_astronaut()[20:220, 150:310], (120, 150))
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=12)
        v.width, v.height = w, h
        v.pix_fmt = "yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p"
        if gop is not None:
            v.codec_context.gop_size = gop
        a = out.add_stream("aac", rate=22050) if audio else None
        for i in range(frames):
            img = np.full((h, w, 3), 110, np.uint8)
            x = 10 + i * (w - 140) // max(1, frames - 1)
            img[40:190, x : x + 120] = face
            out.mux(v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(v.encode(None))
        if a is not None:
            _write_tone(out, a, 22050 * frames // 12)


def _write_tone(out, stream, samples: int) -> None:
    """A 440 Hz tone of ``samples`` samples at 22,050 Hz into the AAC ``stream``."""
    t = np.arange(samples) / 22050
    tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
    for k in range(0, tone.shape[1], 1024):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, k : k + 1024]), format="fltp", layout="mono")
        frame.sample_rate = 22050
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


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


def _run(src: Path, out: Path, anonymizer, **options):
    from anonymizer.batch import BatchOptions

    batch = Batch(anonymizer, src, out, BatchOptions(**options))
    entries = batch.run()
    return batch, entries


class _ShapeSpy:
    """A detector that finds one face in the middle of the frame and records the shapes it was shown."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []

    def detect(self, image):
        from conftest import make_face

        h, w = image.shape[:2]
        self.shapes.append((h, w))
        return [make_face((w / 2 - 40, h / 2 - 50, w / 2 + 40, h / 2 + 50))]


def test_a_sideways_stored_clip_is_detected_upright_and_keeps_its_rotation(tmp_path):
    """A phone clip stored 320x240 with a 90-degree display rotation: the detector sees the upright 240x320
    frame, the face is hidden where it shows, and the output keeps the stored size and the rotation."""
    src = tmp_path / "in"
    src.mkdir()
    upright = np.full((320, 240, 3), 120, np.uint8)
    upright[110:210, 80:160] = np.random.default_rng(0).integers(0, 255, (100, 80, 3), dtype=np.uint8)
    stored = np.ascontiguousarray(np.rot90(upright, -1))  # displayed = rot90(stored, 1) for +90 degrees
    with av.open(str(src / "phone.mp4"), "w") as out:
        v = out.add_stream("libx264", rate=10)
        v.width, v.height = 320, 240
        v.pix_fmt = "yuv420p"
        v.set_display_rotation(90)
        for _ in range(6):
            out.mux(v.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")))
        out.mux(v.encode(None))
    spy = _ShapeSpy()
    _, (entry,) = _run(src, tmp_path / "out", Anonymizer(method="solid", detector=spy))
    assert entry.status == "ok", entry.error
    assert set(spy.shapes) == {(320, 240)}
    with av.open(str(tmp_path / "out" / "phone.mp4")) as c:
        frames = list(c.decode(video=0))
    assert frames[0].rotation == 90 and (frames[0].width, frames[0].height) == (320, 240)
    shown = np.rot90(frames[0].to_ndarray(format="rgb24"), 1)
    assert shown[130:190, 100:140].mean() < 10  # the solid fill, where the face shows upright
    assert abs(int(shown[20:60, 20:60].mean()) - 120) < 6  # the rest untouched


def test_metadata_is_dropped_unless_kept(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "clip.mp4", frames=4, audio=False)
    tagged = src / "tagged.mp4"
    with av.open(str(src / "clip.mp4")) as c, av.open(str(tagged), "w") as out:
        out.metadata["title"] = "Alice at the march"
        out.metadata["location"] = "+48.8577+002.2950/"
        stream = out.add_stream_from_template(c.streams.video[0])
        for packet in c.demux(c.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    (src / "clip.mp4").unlink()
    fake = FakeDetector([(100, 60, 180, 160)])
    _run(src, tmp_path / "plain", Anonymizer(method="blur", detector=fake))
    _run(src, tmp_path / "kept", Anonymizer(method="blur", detector=fake), keep_metadata=True)
    with av.open(str(tmp_path / "plain" / "tagged.mp4")) as c:
        assert "title" not in c.metadata and "location" not in c.metadata
    with av.open(str(tmp_path / "kept" / "tagged.mp4")) as c:
        assert c.metadata.get("title") == "Alice at the march"


def test_a_clip_without_faces_is_copied_frame_for_frame_with_no_tracks(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "clip.mp4", frames=6, audio=False)
    batch, (entry,) = _run(src, tmp_path / "out", Anonymizer(method="blur", detector=FakeDetector([])))
    assert entry.status == "ok" and entry.faces_hidden == 0 and entry.tracks == []
    a, b = _video_frames(src / "clip.mp4"), _video_frames(tmp_path / "out" / "clip.mp4")
    assert len(a) == len(b) == 6
    assert max(np.abs(x.astype(int) - y.astype(int)).mean() for x, y in zip(a, b)) < 2  # re-encoded, not altered


def test_a_file_with_no_video_stream_is_an_error_and_writes_nothing(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    with av.open(str(src / "voice.mp4"), "w") as out:
        _write_tone(out, out.add_stream("aac", rate=22050), 22050)
    _, (entry,) = _run(src, tmp_path / "out", Anonymizer(method="blur", detector=FakeDetector([])))
    assert entry.status == "error" and "no video stream" in entry.error
    assert not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize(("name", "codec", "expect"), [("clip.webm", None, "vp9"), ("clip.mkv", "h265", "hevc")])
def test_other_codecs(tmp_path, name, codec, expect):
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / name, frames=4, audio=False) if not name.endswith(".webm") else _webm(src / name)
    _, (entry,) = _run(
        src,
        tmp_path / "out",
        Anonymizer(method="blur", detector=FakeDetector([(100, 60, 180, 160)])),
        video_codec=codec,
    )
    assert entry.status == "ok", entry.error
    with av.open(str(tmp_path / "out" / name)) as c:
        assert c.streams.video[0].codec_context.name == expect
        assert len(list(c.decode(video=0))) == 4


def _webm(path: Path) -> None:
    with av.open(str(path), "w") as out:
        v = out.add_stream("libvpx-vp9", rate=12)
        v.width, v.height, v.pix_fmt = 320, 240, "yuv420p"
        for i in range(4):
            out.mux(v.encode(av.VideoFrame.from_ndarray(np.full((240, 320, 3), 40 * i, np.uint8), format="rgb24")))
        out.mux(v.encode(None))


def test_h264_in_webm_is_refused_with_a_clear_error(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _webm(src / "clip.webm")
    _, (entry,) = _run(src, tmp_path / "out", Anonymizer(method="blur", detector=FakeDetector([])), video_codec="h264")
    assert entry.status == "error" and "WebM" in entry.error


def test_the_gan_paints_one_face_per_track(tmp_path):
    """Every frame's face of one track is painted from the same latent code; another run draws another."""
    from anonymizer.gan import GanReplacer

    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "clip.mp4", frames=10, audio=False)
    codes = []

    def spy(replacer):
        inpaint = replacer.generator.inpaint

        def recording(image, mask, landmarks, z):
            codes.append(np.array(z, copy=True))
            return inpaint(image, mask, landmarks, z)

        replacer.generator.inpaint = recording
        return replacer

    moving = _MovingFace()
    _run(src, tmp_path / "a", Anonymizer(detector=moving, replacer=spy(GanReplacer(device="cpu"))))
    first_run = np.concatenate(codes)
    assert first_run.shape[0] == 10, "one face a frame"
    assert all(np.array_equal(first_run[0], z) for z in first_run), "the same code in every frame"
    codes.clear()
    _run(src, tmp_path / "b", Anonymizer(detector=_MovingFace(), replacer=spy(GanReplacer(device="cpu"))))
    assert not np.array_equal(codes[0][0], first_run[0]), "another run, another face"


@pytest.mark.parametrize("seed", [None, 3])
def test_each_video_of_a_run_gets_its_own_faces(tmp_path, seed):
    """Track ids restart with each video: the same ids in the next video of a run must not reuse the codes."""
    from anonymizer.gan import GanReplacer

    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.mp4", "b.mp4"):
        make_clip(src / name, frames=10, audio=False)
    codes = []
    replacer = GanReplacer(device="cpu", seed=seed)
    inpaint = replacer.generator.inpaint

    def recording(image, mask, landmarks, z):
        codes.append(np.array(z, copy=True))
        return inpaint(image, mask, landmarks, z)

    replacer.generator.inpaint = recording

    class PerClip(_MovingFace):  # the same face path in each clip, so each clip's track is track 0
        def detect(self, image):
            if self.i == self.frames:
                self.i = 0
            return super().detect(image)

    _run(src, tmp_path / "out", Anonymizer(detector=PerClip(), replacer=replacer))
    per_frame = np.concatenate(codes)
    assert per_frame.shape[0] == 20
    a, b = per_frame[:10], per_frame[10:]
    assert all(np.array_equal(a[0], z) for z in a) and all(np.array_equal(b[0], z) for z in b)
    assert not np.array_equal(a[0], b[0]), "the second video's track got the first one's face"
    if seed is not None:  # seeded, a rerun paints the same faces
        codes.clear()
        rerun = GanReplacer(device="cpu", seed=seed)
        inpaint = rerun.generator.inpaint
        rerun.generator.inpaint = recording
        _run(src, tmp_path / "again", Anonymizer(detector=PerClip(), replacer=rerun))
        assert np.array_equal(np.concatenate(codes), per_frame)


class _MovingFace:
    """The astronaut's face of make_clip's clip, where it moves, frame by frame (a detector that never misses)."""

    def __init__(self, frames: int = 10, size: tuple[int, int] = (320, 240)) -> None:
        self.i, self.frames, self.w = 0, frames, size[0]

    def detect(self, image):
        from conftest import make_face

        x = 10 + self.i * (self.w - 140) // max(1, self.frames - 1)
        self.i += 1
        return [make_face((x + 10, 50, x + 110, 180))]


def test_cancelling_mid_video_leaves_nothing(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "clip.mp4", frames=24, audio=False)
    seen = []
    batch = Batch(Anonymizer(method="blur", detector=FakeDetector([(100, 60, 180, 160)])), src, tmp_path / "out")
    entries = batch.run(
        frame_progress=lambda job, done, total: seen.append((done, total)), should_cancel=lambda: len(seen) >= 5
    )
    assert batch.cancelled and entries == []
    assert seen[:2] == [(1, 24), (2, 24)]
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


def test_the_report_lists_each_track_with_its_boxes(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "clip.mp4", frames=10, audio=False)
    batch, (entry,) = _run(src, tmp_path / "out", Anonymizer(method="pixelate", detector=_MovingFace()))
    (track,) = entry.to_dict()["tracks"]
    assert track["first_frame"] == 0 and track["last_frame"] == 9 and track["method"] == "pixelate"
    frames = [k[0] for k in track["keyframes"]]
    assert frames[0] == 0 and frames[-1] == 9 and all(len(k) == 5 for k in track["keyframes"])


def test_any_frame_can_be_read_for_a_preview(tmp_path):
    from anonymizer.video import read_frame

    path = tmp_path / "clip.mp4"
    make_clip(path, frames=24, audio=False, gop=5)  # frames 11 and 23 lie after a keyframe to seek to
    every = _video_frames(path)
    for index in (0, 1, 11, 23):
        frame = read_frame(path, index)
        assert frame.index == index and frame.frames == 24 and frame.fps == pytest.approx(12, rel=0.01)
        assert np.array_equal(frame.rgb, every[index]), f"frame {index}"
    past = read_frame(path, 500)
    assert past.index == 23 and np.array_equal(past.rgb, every[23])
    assert read_frame(path, 12).seconds == pytest.approx(1.0, rel=0.02)


def _edited_run(tmp_path, boxes, edits, frames: int = 16):
    """The astronaut clip under a detector that finds ``boxes`` in every frame, with a reviewer's ``edits``."""
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "clip.mp4", frames=frames, audio=False)
    detector = FakeDetector(boxes)
    seen = []
    batch = Batch(Anonymizer(method="solid", detector=detector), src, tmp_path / "out", faces_for=lambda job: edits)
    (entry,) = batch.run(frame_progress=lambda job, done, total: seen.append((done, total)))
    assert entry.status == "ok", entry.error
    before, after = _video_frames(src / "clip.mp4"), _video_frames(tmp_path / "out" / "clip.mp4")
    assert len(after) == len(before) == frames
    return entry, detector, seen, before, after


def _changed(before, after, box) -> list[float]:
    x1, y1, x2, y2 = box
    return [float(np.abs(b[y1:y2, x1:x2].astype(int) - a[y1:y2, x1:x2]).mean()) for a, b in zip(before, after)]


LEFT, RIGHT = (20, 30, 100, 130), (200, 100, 280, 200)


def test_a_track_pointed_at_in_one_frame_stays_visible_in_every_frame(tmp_path):
    from anonymizer.video import VideoEdits

    edits = VideoEdits(keep=((7, (22.0, 28.0, 101.0, 129.0)),))  # the left face, in frame 7 only
    entry, detector, seen, before, after = _edited_run(tmp_path, [LEFT, RIGHT], edits)
    assert max(_changed(before, after, LEFT)) < 6  # only the encoder's noise, in every frame
    assert min(_changed(before, after, RIGHT)) > 30  # the other face hidden in every frame
    assert detector.calls == 16  # searched once, then written without a second search
    assert seen[0] == (1, 32) and seen[-1] == (32, 32)  # each frame counted twice: searched, written
    report = entry.to_dict()
    (kept,) = report["kept_tracks"]
    (hidden,) = report["tracks"]
    assert kept["kept_at"][0] == 7 and (kept["first_frame"], kept["last_frame"]) == (0, 15)
    assert kept["id"] != hidden["id"] and hidden["method"] == "solid" and "unmatched_keeps" not in report


def test_a_keep_that_points_at_no_face_keeps_nothing(tmp_path):
    from anonymizer.video import VideoEdits

    edits = VideoEdits(keep=((3, (150.0, 5.0, 190.0, 40.0)),))  # empty background
    entry, *_, before, after = _edited_run(tmp_path, [LEFT, RIGHT], edits, frames=8)
    assert min(_changed(before, after, LEFT)) > 30 and min(_changed(before, after, RIGHT)) > 30
    assert entry.unmatched_keeps == 1 and entry.to_dict()["unmatched_keeps"] == 1 and not entry.kept_tracks


def test_a_drawn_box_is_hidden_in_every_frame_and_reported_as_a_track(tmp_path):
    from anonymizer.video import VideoEdits

    edits = VideoEdits(add=((200.0, 100.0, 280.0, 200.0),))
    entry, detector, seen, before, after = _edited_run(tmp_path, [], edits, frames=8)
    assert min(_changed(before, after, RIGHT)) > 30
    assert seen[-1] == (8, 8)  # no search before writing: one pass
    (track,) = entry.to_dict()["tracks"]
    assert track["id"] == -1 and track["source"] == "user" and track["method"] == "solid"
    assert (track["first_frame"], track["last_frame"]) == (0, 7) and track["keyframes"][0][1:] == [200, 100, 280, 200]


def test_a_box_drawn_outside_the_frame_is_an_error_and_writes_nothing(tmp_path):
    from anonymizer.video import VideoEdits

    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "clip.mp4", frames=4, audio=False)
    edits = VideoEdits(add=((400.0, 10.0, 450.0, 60.0),))
    batch = Batch(
        Anonymizer(method="blur", detector=FakeDetector([])), src, tmp_path / "out", faces_for=lambda j: edits
    )
    (entry,) = batch.run()
    assert entry.status == "error" and "outside" in entry.error
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]


def _leaving_clip(path: Path, frames: int = 30) -> list[tuple[int, int]]:
    """The astronaut's face (90 px wide) sliding out of a 320x240 frame across its left edge, 5 px a frame;
    returns per frame the columns of the face that are still in the picture."""
    img = _astronaut()[:, 120:440]  # the face at x 58-148, y 60-175
    visible = []
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=12)
        v.width, v.height = 320, 240
        v.pix_fmt = "yuv420p"
        v.options = {"crf": "10"}
        for i in range(frames):
            shift = 5 * i
            frame = np.full((240, 320, 3), 110, np.uint8)
            frame[:, : 320 - shift] = img[40:280, shift:]
            out.mux(v.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            visible.append((max(58 - shift, 0), 148 - shift))
        out.mux(v.encode(None))
    return visible


def test_a_face_leaving_the_frame_is_hidden_until_it_has_gone(tmp_path, real_detector):
    from anonymizer.video import VideoOptions, anonymize_video

    visible = _leaving_clip(tmp_path / "in.mp4")
    anonymize_video(
        tmp_path / "in.mp4",
        tmp_path / "out.mp4",
        Anonymizer(method="solid", detector=real_detector),
        VideoOptions(edges=True),
    )
    shown = []
    for (x1, x2), a, b in zip(visible, _video_frames(tmp_path / "in.mp4"), _video_frames(tmp_path / "out.mp4")):
        if x2 - x1 < 20:
            continue  # the rule: a face counts from 20 px of it in the picture
        part = (slice(60 - 40, 175 - 40), slice(x1, x2))
        changed = (np.abs(b[part].astype(int) - a[part].astype(int)).max(axis=2) >= 24) | (b[part].max(axis=2) < 16)
        shown.append(changed.mean() < 0.7)
    assert len(shown) >= 20 and not any(shown), shown


@pytest.mark.parametrize("edges", [True, False])
def test_video_frames_are_searched_on_a_border_unless_turned_off(tmp_path, real_detector, monkeypatch, edges):
    from anonymizer.batch import BatchOptions
    from anonymizer.detection.cascade import CascadeDetector

    twins = []
    real = CascadeDetector.with_border

    def spy(self, *args, **kwargs):
        twins.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(CascadeDetector, "with_border", spy)
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "clip.mp4", frames=6, audio=False)
    batch = Batch(
        Anonymizer(method="solid", detector=real_detector), src, tmp_path / "out", BatchOptions(video_edges=edges)
    )
    (entry,) = batch.run()
    assert entry.status == "ok" and entry.faces_hidden >= 6
    assert twins == ([real_detector] if edges else [])


@pytest.mark.parametrize("shape", [None, "ellipse", "rect"])
def test_video_frames_hide_the_rectangle_unless_told_otherwise(tmp_path, shape):
    """Photos get the ellipse by default; a video's boxes are often carried or cut by the edge, so its
    frames get the whole rectangle unless the user asks for a shape."""
    from anonymizer.crops import hidden_region

    src = tmp_path / "in" / "grey.mp4"
    src.parent.mkdir()
    with av.open(str(src), "w") as out:
        v = out.add_stream("libx264", rate=12)
        v.width, v.height, v.pix_fmt = 320, 240, "yuv420p"
        for _ in range(6):
            out.mux(v.encode(av.VideoFrame.from_ndarray(np.full((240, 320, 3), 110, np.uint8), format="rgb24")))
        out.mux(v.encode(None))
    box = (100, 60, 180, 160)
    anonymizer = Anonymizer(method="solid", mask_shape=shape, detector=FakeDetector([box]))
    _, (entry,) = _run(src, tmp_path / "out", anonymizer)
    assert entry.error is None
    x1, y1, x2, y2 = hidden_region(np.array(box, np.float32))
    for frame in _video_frames(tmp_path / "out" / "grey.mp4"):
        corner = frame[int(y1) + 2, int(x1) + 2].astype(int)  # inside the rectangle, outside its ellipse
        centre = frame[110, 140].astype(int)
        assert centre.max() < 20  # the face itself is black either way
        if shape == "ellipse":
            assert abs(corner.mean() - 110) < 12
        else:
            assert corner.max() < 20


class _FindsThePaste:
    """A detector that finds make_clip's face wherever it is in the frame (the pixels that are not the grey
    background), and counts the frames it searched."""

    def __init__(self) -> None:
        self.searched = 0

    def detect(self, image):
        from conftest import make_face

        self.searched += 1
        ys, xs = np.nonzero(np.abs(image.astype(int) - 110).max(axis=2) > 30)
        if not len(xs):
            return []
        return [make_face((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))]


def test_searching_every_second_frame_still_hides_the_face_in_every_frame(tmp_path):
    """``--video-search-every 2``: the detector runs on half the frames; the tracker hides the face in the
    others where it has moved to (interpolated between the searched frames), as well as searching every frame
    does."""
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "clip.mp4", frames=24, audio=False)
    before = _video_frames(src / "clip.mp4")
    hidden = {}
    for every in (1, 2):
        detector = _FindsThePaste()
        out = tmp_path / f"out{every}"
        batch, (entry,) = _run(src, out, Anonymizer(method="solid", detector=detector), video_search_every=every)
        assert entry.status == "ok" and detector.searched == 24 // every
        after = _video_frames(out / "clip.mp4")
        assert len(after) == 24
        hidden[every] = []
        for k, (a, b) in enumerate(zip(before, after)):
            x = 10 + k * (320 - 140) // 23
            face = (slice(40, 190), slice(x, x + 120))  # the face, wherever it is in this frame
            hidden[every].append((np.abs(a[face].astype(int) - b[face]).max(axis=2) > 24).mean())
    assert min(hidden[1]) > 0.8
    for k in range(24):
        assert hidden[2][k] >= hidden[1][k] - 0.03, f"frame {k}: {hidden[2][k]:.2f} hidden, {hidden[1][k]:.2f} before"


def test_the_audit_flags_video_frames_as_time_ranges_in_the_report(tmp_path, monkeypatch):
    """Every fifth written frame is searched again; a find outside the hidden faces is flagged (not hidden: a box
    in one frame of five would flicker) and the flagged frames are grouped into time ranges."""
    from anonymizer.audit import Audit

    class Search:
        def find(self, image, threshold):  # a "face" far from the clip's face in frames 10-14 only
            box = np.array([[250, 180, 300, 230]], np.float32) if seen.pop(0) else np.zeros((0, 4), np.float32)
            return box, np.array([0.95][: len(box)], np.float32), np.zeros((len(box), 5, 2), np.float32)

    seen = [10 <= k <= 14 for k in range(0, 24, 5)]  # the audited frames: 0, 5, 10, 15, 20
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "clip.mp4", frames=24, audio=False)
    anonymizer = Anonymizer(method="solid", detector=_FindsThePaste(), auditor=Audit(detector=Search()))
    batch, (entry,) = _run(src, tmp_path / "out", anonymizer)
    assert not seen, "every fifth frame audited"
    report = entry.to_dict()
    assert report["review"] is True and batch.need_review == 1
    (flagged,) = report["flagged_ranges"]
    assert flagged["first_frame"] == flagged["last_frame"] == 10 and flagged["box"] == [250.0, 180.0, 300.0, 230.0]
    assert flagged["start_s"] == round(10 / 12, 2)
    before, after = _video_frames(src / "clip.mp4"), _video_frames(tmp_path / "out" / "clip.mp4")
    assert np.abs(before[10][185:225, 255:295].astype(int) - after[10][185:225, 255:295]).max() <= 24, "left as is"


def test_flagged_frames_close_together_are_one_range():
    from anonymizer.video import flagged_ranges

    ranges = flagged_ranges(
        [(0, 0.7, [0, 0, 1, 1]), (5, 0.9, [1, 1, 2, 2]), (15, 0.6, [0, 0, 1, 1]), (40, 0.8, [3, 3, 4, 4])], 5, 25.0
    )
    assert [(r["first_frame"], r["last_frame"], r["frames_flagged"]) for r in ranges] == [(0, 15, 3), (40, 40, 1)]
    assert ranges[0]["score"] == 0.9 and ranges[0]["box"] == [1, 1, 2, 2] and ranges[1]["end_s"] == 1.6


def test_frames_between_full_searches_are_searched_scaled_down_and_the_face_stays_hidden(tmp_path, monkeypatch):
    """``VideoOptions.full_every=2``: the frame's pass sees every second frame whole and the frames between at
    half size (those with the extra passes whole); the face is hidden in every frame all the same."""
    from anonymizer.detection.centerface import CenterFaceDetector
    from anonymizer.video import VideoOptions, anonymize_video

    scales = []
    detect = CenterFaceDetector.detect

    def spy(self, image, scale=1.0):
        scales.append(scale)
        return detect(self, image, scale)

    monkeypatch.setattr(CenterFaceDetector, "detect", spy)
    src, out = tmp_path / "clip.mp4", tmp_path / "out.mp4"
    make_clip(src, frames=12, audio=False)
    anonymize_video(src, out, Anonymizer(method="solid"), VideoOptions(full_every=2, extra_every=3))
    assert scales == [1.0 if k % 2 == 0 or k % 3 == 0 else 0.5 for k in range(12)]
    for k, (a, b) in enumerate(zip(_video_frames(src), _video_frames(out))):
        x = 10 + k * (320 - 140) // 11
        face = (slice(40, 190), slice(x, x + 120))
        assert (np.abs(a[face].astype(int) - b[face]).max(axis=2) > 24).mean() > 0.8, f"frame {k}"


def _difference(a: np.ndarray, b: np.ndarray) -> str:
    """Where two frames differ and by how much (for a failure's message)."""
    moved = np.abs(a.astype(int) - b.astype(int)).max(axis=2)
    ys, xs = np.nonzero(moved)
    return f"{len(xs)} pixels differ, by up to {moved.max()}, within x {xs.min()}-{xs.max()}, y {ys.min()}-{ys.max()}"


def test_frames_painted_side_by_side_are_written_in_order(tmp_path, monkeypatch):
    """With several painters a later frame may be painted before an earlier one; the frames are handed to the
    encoder in their order all the same: bit for bit the frames one painter hands it. The files are compared
    too, each frame against every frame of the other file, as the encoder need not give the same bits twice."""
    import random
    import time

    import anonymizer.video as video
    from anonymizer.replacers import BlurReplacer
    from anonymizer.video import VideoOptions, anonymize_video

    class Uneven(BlurReplacer):
        def replace(self, crops):
            time.sleep(random.uniform(0.0, 0.03))  # painters finish out of order
            return super().replace(crops)

    handed = []
    encode = video._Transcoder._encode

    def recording(self, future, pts, time_base):
        handed[-1].append((pts, future.result()[1].copy()))
        encode(self, future, pts, time_base)

    monkeypatch.setattr(video._Transcoder, "_encode", recording)
    src = tmp_path / "clip.mp4"
    make_clip(src, frames=24, audio=False)
    outputs, tracks = [], []
    for workers in (1, 3):
        handed.append([])
        out = tmp_path / f"out{workers}.mp4"
        anonymizer = Anonymizer(detector=_FindsThePaste(), replacer=Uneven())
        result = anonymize_video(src, out, anonymizer, VideoOptions(paint_workers=workers))
        assert result.frames == 24 and result.faces == 24
        outputs.append(_video_frames(out))
        tracks.append(result.tracks)
    assert tracks[0] == tracks[1]  # the same faces decided, frame by frame
    for one, several in zip(*handed):
        assert one[0] == several[0]  # the same time stamps, in the same order
        assert np.array_equal(one[1], several[1]), f"frame at {one[0]}: {_difference(one[1], several[1])}"
    assert [pts for pts, _ in handed[0]] == sorted(pts for pts, _ in handed[0])
    one, several = (np.stack(frames).astype(np.int16) for frames in outputs)
    for k in range(len(several)):  # frame k of the file is the frame nearest to the other file's frame k
        distances = np.abs(one - several[k]).reshape(len(one), -1).mean(axis=1)
        assert distances.argmin() == k and distances[k] < 0.1, f"frame {k}: {np.round(distances, 2)}"
    with pytest.raises(ValueError, match="paint workers"):
        VideoOptions(paint_workers=0).painters()


def test_the_writer_hands_free_heap_memory_back_as_frames_are_written(tmp_path, monkeypatch):
    """Every ``TRIM_BYTES`` of frames written, the C heap's free memory goes back to the system (a 4K clip's
    peak memory otherwise grew with its length); the frames written are the same."""
    import anonymizer.video as video
    from anonymizer.device import release_memory
    from anonymizer.video import anonymize_video

    release_memory()  # callable here, whatever the C library
    calls = []
    monkeypatch.setattr(video, "release_memory", lambda: calls.append(1))
    frame_bytes = 320 * 240 * 3
    monkeypatch.setattr(video, "TRIM_BYTES", 5 * frame_bytes)  # every fifth frame
    src = tmp_path / "clip.mp4"
    make_clip(src, frames=24, audio=False)
    result = anonymize_video(src, tmp_path / "out.mp4", Anonymizer(detector=_FindsThePaste()))
    assert result.frames == 24
    assert len(calls) == 24 // 5
