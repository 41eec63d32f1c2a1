"""The main window, offscreen, with a fake detector and the real pipeline, batch runner and replacers."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported, if conftest has not

import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from anonymizer.gui.photos import DONE, ERROR, FACES, PhotoRole  # noqa: E402
from anonymizer.gui.preview import FaceKind  # noqa: E402
from anonymizer.gui.window import MainWindow  # noqa: E402
from anonymizer.gui.workers import REPORT_NAME, DetectorProvider  # noqa: E402
from conftest import FakeDetector, noise_image  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QMimeData, QPoint, QPointF, QRectF, QSettings, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from anonymizer.imageio import read_image  # noqa: E402

W, H = 240, 200
# Two "faces" far enough apart that hiding one (mask and feather) never touches the other,
# and a free area below them where a test draws a face the detector "missed".
FACE_A = (20.0, 20.0, 70.0, 80.0)
FACE_B = (150.0, 20.0, 200.0, 80.0)
MISSED = (90.0, 120.0, 140.0, 180.0)

TIMEOUT = 10_000


def drop(window, paths) -> None:
    """Drag ``paths`` onto the window and drop them, as a file manager would."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    action = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(QPoint(50, 50), action, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(50, 50), action, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)
    assert event.isAccepted()


def rows(window) -> list[str]:
    model = window.model
    return [model.data(model.index(r)) for r in range(model.rowCount())]


def wait_all_detected(qtbot, window) -> None:
    qtbot.waitUntil(lambda: all(p.status in (FACES, ERROR) for p in window.model.photos), timeout=TIMEOUT)


def run(qtbot, window, out, photos=None) -> dict:
    window.settings_panel.set_output_dir(str(out))
    assert window.anonymize(photos)
    qtbot.waitUntil(lambda: not window.running, timeout=30_000)
    return json.loads((out / REPORT_NAME).read_text())


def view_point(window, x: float, y: float) -> QPoint:
    return window.preview.mapFromScene(QPointF(x, y))


def region(image: np.ndarray, box, grow: float = 0.0) -> np.ndarray:
    x1, y1, x2, y2 = box
    return image[int(y1 - grow) : int(y2 + grow), int(x1 - grow) : int(x2 + grow)]


def write_noise(path: Path, seed: int) -> Path:
    """A seeded noise photo: any replacement of its pixels shows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(noise_image(H, W, seed)).save(path)
    return path


@pytest.fixture
def detector() -> FakeDetector:
    return FakeDetector([FACE_A, FACE_B])


@pytest.fixture
def window(qtbot, tmp_path, detector):
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(store=store, detectors=DetectorProvider(lambda threshold, name: detector))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "in" / "album"
    write_noise(folder / "a.png", 1)
    write_noise(folder / "nested" / "b.png", 2)
    (folder / "notes.txt").write_text("not a photo")
    single = write_noise(tmp_path / "in" / "loose" / "c.png", 3)
    return folder, single


def test_drop_of_files_and_folders_fills_the_list(qtbot, window, photos):
    folder, single = photos
    assert window.model.rowCount() == 0
    drop(window, [folder, single])
    names = [p.relative for p in window.model.photos]
    assert names == ["a.png", "nested/b.png", "c.png"]  # folders recursively, other files ignored
    wait_all_detected(qtbot, window)
    qtbot.waitUntil(lambda: all(p.thumbnail is not None for p in window.model.photos), timeout=TIMEOUT)
    assert all("2 faces" in text for text in rows(window))
    assert str(folder) in window.recent_folders()
    drop(window, [folder])  # the same photos again are not listed twice
    assert window.model.rowCount() == 3


def test_detection_draws_the_faces(qtbot, window, photos):
    folder, _ = photos
    drop(window, [folder / "a.png"])
    qtbot.waitUntil(lambda: len(window.preview.faces) == 2, timeout=TIMEOUT)
    drawn = sorted(i.rect().getCoords() for i in window.preview.faces)
    assert drawn == sorted([FACE_A, FACE_B])
    assert all(i.kind is FaceKind.INCLUDED for i in window.preview.faces)
    assert window.preview.photo.boundingRect() == QRectF(0, 0, W, H)
    # The anonymized preview arrives too, and toggling shows it.
    qtbot.waitUntil(lambda: window.preview.photo.anonymized is not None, timeout=TIMEOUT)
    window.toggle_action.trigger()
    assert window.preview.mode.value == "anonymized"


def test_excluded_face_is_untouched_and_an_added_box_is_anonymized(qtbot, window, photos, tmp_path):
    folder, _ = photos
    source = folder / "a.png"
    drop(window, [source])
    qtbot.waitUntil(lambda: len(window.preview.faces) == 2, timeout=TIMEOUT)
    viewport = window.preview.viewport()

    # Click face A: it is kept as it is.
    center_a = view_point(window, (FACE_A[0] + FACE_A[2]) / 2, (FACE_A[1] + FACE_A[3]) / 2)
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, center_a)
    qtbot.waitUntil(lambda: any(i.kind is FaceKind.EXCLUDED for i in window.preview.faces), timeout=TIMEOUT)

    # Drag a rectangle where the detector found nothing: a face is added.
    start, end = view_point(window, *MISSED[:2]), view_point(window, *MISSED[2:])
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(viewport, (start + end) / 2)
    QTest.mouseMove(viewport, end)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    added = [i for i in window.preview.faces if i.kind is FaceKind.ADDED]
    assert len(added) == 1
    assert np.allclose(added[0].rect().getCoords(), MISSED, atol=2.0)  # view pixels round to photo pixels
    photo = window.model.photos[0]
    assert "1 kept" in photo.status_text() and "1 added" in photo.status_text()

    out = tmp_path / "out"
    report = run(qtbot, window, out)
    original = read_image(source).rgb
    result = read_image(out / "a.png").rgb
    assert result.shape == original.shape
    # The kept face, and a margin around it, is bit for bit the original.
    assert np.array_equal(region(result, FACE_A, grow=4), region(original, FACE_A, grow=4))
    for box in (FACE_B, added[0].rect().getCoords()):
        diff = np.abs(region(result, box).astype(int) - region(original, box).astype(int)).mean()
        assert diff > 30, f"face {box} was not replaced"

    (entry,) = report["images"]
    assert entry["status"] == "ok" and entry["input"] == "a.png" and entry["output"] == "a.png"
    assert [f.get("source") for f in entry["faces"]] == [None, "user"]
    assert entry["faces"][0]["box"] == list(FACE_B)
    assert [f["box"] for f in entry["excluded"]] == [list(FACE_A)]
    assert all(f["method"] == "blur" for f in entry["faces"])
    assert photo.status == DONE


def test_anonymize_all_writes_every_file_and_the_progress_reaches_the_end(qtbot, window, photos, tmp_path):
    folder, single = photos
    drop(window, [folder, single])
    out = tmp_path / "out"
    report = run(qtbot, window, out)  # at once: photos not yet reviewed are detected by the run
    for rel in ("a.png", "nested/b.png", "c.png"):
        written = read_image(out / rel).rgb
        assert written.shape == (H, W, 3)
    assert window.progress.maximum() == 3 and window.progress.value() == 3
    assert [e["status"] for e in report["images"]] == ["ok"] * 3
    assert {e["input"] for e in report["images"]} == {"a.png", "nested/b.png", "c.png"}
    assert all(len(e["faces"]) == 2 for e in report["images"])
    assert all(p.status == DONE for p in window.model.photos)
    assert window.last_summary is not None and not window.last_summary.cancelled
    # Re-doing one photo (Save Selected) keeps the others in the report.
    again = run(qtbot, window, out, [window.model.photos[0]])
    assert sorted(e["input"] for e in again["images"]) == ["a.png", "c.png", "nested/b.png"]


def test_cancel_stops_cleanly_mid_run(qtbot, window, tmp_path, monkeypatch):
    from anonymizer.replacers import BlurReplacer

    slow = BlurReplacer.replace

    def replace_slowly(self, crops):
        time.sleep(0.25)
        return slow(self, crops)

    monkeypatch.setattr(BlurReplacer, "replace", replace_slowly)
    folder = tmp_path / "many"
    for i in range(8):
        write_noise(folder / f"p{i}.png", 10 + i)
    drop(window, [folder])
    out = tmp_path / "out"
    window.settings_panel.set_output_dir(str(out))
    assert window.anonymize()
    assert window.cancel_button.isVisible()
    qtbot.waitUntil(lambda: window.progress.value() >= 2, timeout=30_000)
    assert window.size().width() > 0  # the window answered while the run went on
    QTest.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.running, timeout=30_000)

    summary = window.last_summary
    assert summary.cancelled
    written = sorted(p.name for p in out.glob("*.png"))
    assert 2 <= len(written) < 8
    assert summary.counts == {"ok": len(written)}
    assert not list(out.glob(".*"))  # no temporary, half-written file left behind
    for name in written:
        assert read_image(out / name).rgb.shape == (H, W, 3)
    report = json.loads((out / REPORT_NAME).read_text())
    assert sorted(e["output"] for e in report["images"]) == written
    done = [p for p in window.model.photos if p.status == DONE]
    assert len(done) == len(written)
    assert not window.cancel_button.isVisible()


def test_a_bad_file_in_the_drop_shows_an_error_row_and_the_run_goes_on(qtbot, window, photos, tmp_path):
    folder, _ = photos
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 this is not really a JPEG")
    drop(window, [folder, folder / "notes.txt"])
    wait_all_detected(qtbot, window)
    by_name = {p.relative: p for p in window.model.photos}
    assert by_name["broken.jpg"].status == ERROR
    assert by_name["notes.txt"].status == ERROR
    row = window.model.index(window.model.row_of(by_name["broken.jpg"]))
    assert row.data().startswith("broken.jpg\nError: not")
    assert row.data(Qt.ItemDataRole.ForegroundRole) is not None
    assert "not a supported photo or video type" in by_name["notes.txt"].status_text()

    out = tmp_path / "out"
    report = run(qtbot, window, out)
    status = {e["input"]: e["status"] for e in report["images"]}
    assert status == {"a.png": "ok", "broken.jpg": "error", "nested/b.png": "ok", "notes.txt": "error"}
    assert (out / "a.png").is_file() and (out / "nested" / "b.png").is_file()
    assert not (out / "broken.jpg").exists()
    assert by_name["broken.jpg"].status == ERROR and by_name["a.png"].status == DONE


def test_settings_and_view_are_kept_between_runs(qtbot, tmp_path, detector):
    path = str(tmp_path / "kept.ini")
    provider = DetectorProvider(lambda t, name: detector)
    first = MainWindow(store=QSettings(path, QSettings.Format.IniFormat), detectors=provider)
    qtbot.addWidget(first)
    panel = first.settings_panel
    panel.method.setCurrentIndex(panel.method.findData("pixelate"))
    panel.threshold.setValue(0.85)
    panel.mask_scale.setValue(1.6)
    assert first.settings.mask_shape == "" and first.settings.anonymizer(detector).mask_shape is None
    panel.mask_shape.setCurrentIndex(panel.mask_shape.findData("rect"))
    panel.detector.setCurrentIndex(panel.detector.findData("default+diagonal"))
    panel.set_output_dir(str(tmp_path / "out"))
    first.mode_actions[next(iter(first.mode_actions))].trigger()
    first.shutdown()

    second = MainWindow(store=QSettings(path, QSettings.Format.IniFormat), detectors=provider)
    qtbot.addWidget(second)
    kept = second.settings
    assert (kept.method, kept.threshold, kept.mask_scale, kept.mask_shape, kept.output_dir) == (
        "pixelate",
        0.85,
        1.6,
        "rect",
        str(tmp_path / "out"),
    )
    assert kept.anonymizer(detector).mask_shape == "rect"
    assert kept.detector == "default+diagonal" and kept.anonymizer().recipe["detector_name"] == "default+diagonal"
    second.shutdown()


def test_choosing_to_search_tilted_faces_detects_again_with_that_detector_and_the_run_uses_it(qtbot, tmp_path, photos):
    built: list[tuple[float, str]] = []
    detectors = {"default": FakeDetector([FACE_A]), "default+diagonal": FakeDetector([FACE_A, FACE_B])}

    def factory(threshold, name):
        built.append((threshold, name))
        return detectors[name]

    win = MainWindow(
        store=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), detectors=DetectorProvider(factory)
    )
    qtbot.addWidget(win)
    folder, single = photos
    drop(win, [folder, single])
    wait_all_detected(qtbot, win)
    assert [name for _, name in built] == ["default"]
    assert all(len(photo.detected) == 1 for photo in win.model.photos)
    panel = win.settings_panel
    panel.detector.setCurrentIndex(panel.detector.findData("default+diagonal"))
    # every photo searched again by the tilted-faces detector, which finds two faces in each
    qtbot.waitUntil(
        lambda: all(photo.detected is not None and len(photo.detected) == 2 for photo in win.model.photos),
        timeout=TIMEOUT,
    )
    assert [name for _, name in built] == ["default", "default+diagonal"]
    report = run(qtbot, win, tmp_path / "out")
    assert len(report["images"]) == 3 and all(len(e["faces"]) == 2 for e in report["images"])
    win.shutdown()


def test_keyboard_moves_between_photos_and_changing_the_threshold_detects_again(qtbot, window, photos, detector):
    folder, single = photos
    drop(window, [folder, single])
    wait_all_detected(qtbot, window)
    assert window.current is window.model.photos[0]
    QTest.keyClick(window, Qt.Key.Key_PageDown)
    assert window.current is window.model.photos[1]
    QTest.keyClick(window, Qt.Key.Key_PageUp)
    assert window.list.currentIndex().data(PhotoRole) is window.model.photos[0]
    calls = detector.calls
    window.settings_panel.threshold.setValue(0.8)
    qtbot.waitUntil(lambda: detector.calls >= calls + 3, timeout=TIMEOUT)
    wait_all_detected(qtbot, window)


def test_weights_from_the_retrain_panel_are_used_for_anonymizing(window, tmp_path):
    weights = tmp_path / "run" / "generator.safetensors"
    window.training.useWeights.emit(str(weights))
    assert window.settings.method == "gan" and window.settings.weights == str(weights)
    assert window.settings.replacer_options() == {"seed": window.settings.seed, "weights": str(weights)}


def test_about_box_shows_the_model_card(qtbot, tmp_path):
    from anonymizer.gui.about import AboutDialog

    card = tmp_path / "README.md"
    card.write_text("# Face generator\n\n- resolution: 64 px\n- licence of the data: non-commercial research\n")
    dialog = AboutDialog(card=card)
    qtbot.addWidget(dialog)
    text = dialog.text.toPlainText()
    assert "Face generator" in text and "64 px" in text and "non-commercial" in text


def test_a_dropped_video_is_previewed_frame_by_frame_and_written_with_frame_progress(
    qtbot, window, detector, tmp_path, monkeypatch
):
    pytest.importorskip("av")
    from test_video import make_clip

    # The fake detector's boxes are not where the clip's face is: the real audit would flag her face (see the
    # flagged-ranges test); here it finds nothing.
    monkeypatch.setattr("anonymizer.audit._RetinaFaceSearch", NoFinds)
    folder = tmp_path / "in"
    write_noise(folder / "a.png", 1)
    make_clip(folder / "clip.mp4", frames=12, size=(W, H), audio=False)
    frames_seen = []
    monkeypatch.setattr(window, "_frame_progress", lambda key, done, total: frames_seen.append((done, total)))
    drop(window, [folder])
    wait_all_detected(qtbot, window)
    by_name = {p.relative: p for p in window.model.photos}
    video = by_name["clip.mp4"]
    assert video.is_video and video.status == FACES and (video.width, video.height) == (W, H)
    assert video.thumbnail is not None
    assert not window.frame_bar.isVisible(), "a photo has no frames to scrub"
    window.select_row(window.model.row_of(video))
    assert "stays visible throughout" in window.info.text()
    qtbot.waitUntil(lambda: window.frame_slider.maximum() == 11, timeout=TIMEOUT)
    assert window.frame_bar.isVisible() and "frame 1 of 12" in window.frame_label.text()

    # Scrub to frame 9: that frame is shown (the zoom kept) and its faces are looked for again.
    from anonymizer.video import read_frame

    qtbot.waitUntil(lambda: window.preview.key == video.key and video.key in window.images, timeout=TIMEOUT)
    window.preview.set_zoom(1.5)
    calls = detector.calls
    window.frame_slider.setValue(8)
    qtbot.waitUntil(lambda: video.frame == 8 and video.detected is not None, timeout=TIMEOUT)
    shown = window.preview.photo.original.toImage().convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(shown.constBits(), np.uint8).reshape(H, shown.bytesPerLine())[:, : W * 3]
    assert np.array_equal(pixels.reshape(H, W, 3), read_frame(folder / "clip.mp4", 8).rgb)
    assert window.preview.transform().m11() == pytest.approx(1.5) and "frame 9 of 12" in window.frame_label.text()
    assert detector.calls > calls
    QTest.keyClick(window, Qt.Key.Key_Period)
    qtbot.waitUntil(lambda: video.frame == 9 and video.detected is not None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: len(window.preview.faces) == 2, timeout=TIMEOUT)

    # One click on face A in this frame keeps that person visible in the whole clip (their track).
    viewport = window.preview.viewport()
    center_a = view_point(window, (FACE_A[0] + FACE_A[2]) / 2, (FACE_A[1] + FACE_A[3]) / 2)
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, center_a)
    assert video.excluded == {0} and "stays visible" in window.statusBar().currentMessage()
    assert [i.kind for i in window.preview.faces] == [FaceKind.EXCLUDED, FaceKind.INCLUDED]
    # Another frame: the mark is the frame's own (the run follows the person); back on frame 10 it is there.
    QTest.keyClick(window, Qt.Key.Key_Comma)
    qtbot.waitUntil(lambda: video.frame == 8 and video.detected is not None, timeout=TIMEOUT)
    assert not video.excluded and "1 kept visible" in video.status_text()
    QTest.keyClick(window, Qt.Key.Key_Period)
    qtbot.waitUntil(lambda: video.frame == 9 and video.detected is not None, timeout=TIMEOUT)
    assert video.excluded == {0}

    # A box drawn on a video is hidden in every frame, where it is drawn.
    start, end = view_point(window, *MISSED[:2]), view_point(window, *MISSED[2:])
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(viewport, (start + end) / 2)
    QTest.mouseMove(viewport, end)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
    assert len(video.added) == 1 and "every frame" in window.statusBar().currentMessage()
    edits = video.video_edits()
    assert edits.keep[0][0] == 9 and np.allclose(edits.keep[0][1], FACE_A) and len(edits.add) == 1

    out = tmp_path / "out"
    report = run(qtbot, window, out)
    entries = {e["input"]: e for e in report["images"]}
    assert entries["a.png"]["status"] == "ok" and entries["clip.mp4"]["status"] == "ok"
    clip = entries["clip.mp4"]
    assert clip["frames"] == 12 and [t["id"] < 0 for t in clip["tracks"]] == [False, True]
    (kept,) = clip["kept_tracks"]
    assert (kept["first_frame"], kept["last_frame"]) == (0, 11) and kept["kept_at"][0] == 9
    assert frames_seen[-1] == (24, 24) and len(frames_seen) == 24  # searched, then written
    type(window)._frame_progress(window, video.key, 5, 24)  # what the status bar said of those two passes
    assert window.statusBar().currentMessage() == "Searching clip.mp4: frame 5 of 12…"
    type(window)._frame_progress(window, video.key, 17, 24)
    assert window.statusBar().currentMessage() == "Writing clip.mp4: frame 5 of 12…"
    assert (out / "clip.mp4").is_file() and by_name["clip.mp4"].status == DONE

    def change(frame: int, box) -> float:
        before, after = read_frame(folder / "clip.mp4", frame).rgb, read_frame(out / "clip.mp4", frame).rgb
        return float(np.abs(region(after, box).astype(int) - region(before, box)).mean())

    # The astronaut pans from left (frame 0: under A) to right (frame 11: under B); the drawn box has her in both.
    on_her = (FACE_B[0], 40, FACE_B[2], FACE_B[3])  # the part of B's box she fills (her top is at y = 40)
    assert change(0, FACE_A) < 5 and change(11, on_her) > 15  # A kept as it was, B hidden
    assert change(0, MISSED) > 15 and change(11, MISSED) > 15  # the drawn box, in every frame

    # The review of a written video: any frame of the file itself, outlined with the tracks it hides there.
    from anonymizer.tracking import boxes_at

    def anonymized_pixels():
        shown = window.preview.photo.anonymized.toImage().convertToFormat(QImage.Format.Format_RGB888)
        rows = np.frombuffer(shown.constBits(), np.uint8).reshape(H, shown.bytesPerLine())
        return rows[:, : W * 3].reshape(H, W, 3).copy()  # a copy: the QImage's memory goes with it

    assert window.current is video and "written file" in window.info.text()
    window.show_frame(4)
    qtbot.waitUntil(lambda: window.preview.photo.anonymized is not None, timeout=TIMEOUT)
    assert np.array_equal(anonymized_pixels(), read_frame(out / "clip.mp4", 4).rgb)
    outlined = sorted(tuple(round(v) for v in item.rect().getCoords()) for item in window.preview.faces)
    shown = boxes_at(clip["tracks"] + clip["kept_tracks"], 4)
    assert outlined == sorted(tuple(round(float(v)) for v in box) for _, box in shown) and len(shown) == 3
    kinds = {item.kind for item in window.preview.faces}
    assert kinds == {FaceKind.INCLUDED, FaceKind.EXCLUDED, FaceKind.ADDED}

    # In the review, one click on the hidden track keeps it too: the file no longer matches, say so.
    (track_b,) = [i for i in window.preview.faces if i.kind is FaceKind.INCLUDED]
    centre_b = track_b.rect().center()
    QTest.mouseClick(
        viewport,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        view_point(window, centre_b.x(), centre_b.y()),
    )
    assert [i.kind for i in window.preview.faces].count(FaceKind.EXCLUDED) == 2
    assert video.status == FACES and "write it again" in window.info.text() and len(video.kept) == 2


def test_a_photo_the_audit_flags_is_counted_in_the_summary_and_listed_in_the_report(
    qtbot, window, tmp_path, monkeypatch
):
    """The run's audit searches each written photo again: a find outside the hidden faces it is not sure of is
    flagged, the status line says the photo needs a look, and the report lists it."""

    class Flagging:
        def find(self, image, threshold):
            box = np.array([MISSED], np.float32)
            return box, np.array([0.7], np.float32), np.zeros((1, 5, 2), np.float32)

    monkeypatch.setattr("anonymizer.audit._RetinaFaceSearch", Flagging)
    write_noise(tmp_path / "in" / "a.png", 3)
    drop(window, [tmp_path / "in" / "a.png"])
    wait_all_detected(qtbot, window)
    report = run(qtbot, window, tmp_path / "out")
    assert window.last_summary.review == 1
    assert "1 needs a look" in window.statusBar().currentMessage()
    (entry,) = report["images"]
    assert entry["review"] is True and entry["residuals"][0]["action"] == "flagged"


class NoFinds:
    """The audit's search, finding nothing."""

    def find(self, image, threshold):
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)


class FlagsSome:
    """The audit's search: flags MISSED (score 0.7, in doubt) in the photos whose bottom-right pixel is listed."""

    corners: set = set()

    def find(self, image, threshold):
        if tuple(int(v) for v in image[-1, -1]) not in self.corners:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)
        return np.array([MISSED], np.float32), np.array([0.7], np.float32), np.zeros((1, 5, 2), np.float32)


def test_the_review_queue_puts_the_photos_in_doubt_first_and_one_key_hides_a_flag_and_another_dismisses_it(
    qtbot, window, tmp_path, monkeypatch
):
    folder = tmp_path / "in"
    paths = [write_noise(folder / f"{name}.png", seed) for name, seed in (("a", 1), ("b", 2), ("c", 3))]
    FlagsSome.corners = {tuple(int(v) for v in noise_image(H, W, seed)[-1, -1]) for seed in (2, 3)}
    monkeypatch.setattr("anonymizer.audit._RetinaFaceSearch", FlagsSome)
    drop(window, [folder])
    wait_all_detected(qtbot, window)
    qtbot.waitUntil(lambda: [p.path.name for p in window.model.photos][:2] == ["b.png", "c.png"], timeout=TIMEOUT)
    assert [p.path.name for p in window.model.photos] == ["b.png", "c.png", "a.png"], "those in doubt come first"
    assert "1 to look at" in rows(window)[0] and "to look at" not in rows(window)[2]

    window.select_row(0)
    qtbot.waitUntil(lambda: any(i.kind is FaceKind.FLAGGED for i in window.preview.faces), timeout=TIMEOUT)
    (flag,) = [i for i in window.preview.faces if i.kind is FaceKind.FLAGGED]
    assert flag.rect().getCoords() == MISSED
    window.activateWindow()
    QTest.keyClick(window.list, Qt.Key.Key_H)  # hide it: the queue goes on to the next photo in doubt
    b = window.model.photos[0]
    assert [f.source for f in b.added] == ["review"] and not b.needs_review
    assert window.current.path.name == "c.png"
    QTest.keyClick(window.list, Qt.Key.Key_D)  # dismiss it
    c = window.current
    assert len(c.dismissed) == 1 and not c.needs_review
    assert not any(p.needs_review for p in window.model.photos)

    report = run(qtbot, window, tmp_path / "out")
    assert window.last_summary.review == 0, "what the user looked at needs no more look"
    by_name = {e["input"]: e for e in report["images"]}
    assert [f.get("source") for f in by_name["b.png"]["faces"]].count("review") == 1
    assert by_name["c.png"]["residuals"] == [{"box": list(MISSED), "score": 0.7, "action": "dismissed"}]
    assert by_name["c.png"]["review"] is False
    original = {p.name: read_image(p).rgb for p in paths}
    written_b = read_image(tmp_path / "out" / "b.png").rgb
    written_c = read_image(tmp_path / "out" / "c.png").rgb
    assert not np.array_equal(region(written_b, MISSED), region(original["b.png"], MISSED)), "hidden"
    assert np.array_equal(region(written_c, MISSED), region(original["c.png"], MISSED)), "left as it is"


def test_a_written_videos_flagged_ranges_are_listed_beside_the_slider_and_one_click_shows_them(
    qtbot, window, tmp_path, monkeypatch
):
    pytest.importorskip("av")
    from test_video import make_clip

    class Search:  # the audit's search: a possible face once the clip's moving face is past x = 50 (frame 5 on)
        def find(self, image, threshold):
            cols = np.nonzero(np.abs(image[120:190].astype(int) - 110).max(axis=(0, 2)) > 30)[0]
            if not len(cols) or cols.min() <= 50:  # the audited frames are 0, 5 and 10: 5 and 10 are flagged
                return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)
            return np.array([MISSED], np.float32), np.array([0.93], np.float32), np.zeros((1, 5, 2), np.float32)

    monkeypatch.setattr("anonymizer.audit._RetinaFaceSearch", Search)
    folder = tmp_path / "in"
    folder.mkdir()
    make_clip(folder / "clip.mp4", frames=12, size=(W, H), audio=False)
    drop(window, [folder])
    wait_all_detected(qtbot, window)
    video = window.model.photos[0]
    window.select_row(0)
    report = run(qtbot, window, tmp_path / "out")
    (entry,) = report["images"]
    assert entry["review"] is True and [(r["first_frame"], r["last_frame"]) for r in entry["flagged_ranges"]] == [
        (5, 10)
    ]
    assert window.last_summary.review == 1 and video.flagged_ranges and video.needs_review
    qtbot.waitUntil(lambda: window.range_box.isVisible(), timeout=TIMEOUT)
    assert window.range_box.count() == 2 and "a face? 0.93" in window.range_box.itemText(1)
    window.range_box.activated.emit(1)  # the user picks the range: its first frame is shown, the find outlined
    qtbot.waitUntil(lambda: video.frame == 5, timeout=TIMEOUT)
    flagged = [i for i in window.preview.faces if i.kind is FaceKind.FLAGGED]
    assert [i.rect().getCoords() for i in flagged] == [MISSED]


def test_a_face_kept_visible_is_left_visible_by_the_runs_audit_too(tmp_path):
    """A face the user keeps is not hidden, and the run is told, so that its audit does not hide it again (a
    face the audit is sure of would be)."""
    from anonymizer.gui.photos import Photo
    from conftest import make_face

    from anonymizer.audit import Reviewed

    photo = Photo(tmp_path / "a.png", tmp_path)
    photo.set_detected([make_face(FACE_A), make_face(FACE_B)])
    assert isinstance(photo.run_faces(), list), "nothing kept: the faces alone"
    photo.toggle(0)  # keep A
    run = photo.run_faces()
    assert isinstance(run, Reviewed) and [tuple(f.box) for f in run.faces] == [FACE_B]
    assert run.dismissed == (FACE_A,)
