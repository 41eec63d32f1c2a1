"""Fixtures for the desktop app's tests: an offscreen window with a fake detector and seeded photos."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from anonymizer import Face  # noqa: E402
from anonymizer.faces import estimate_landmarks  # noqa: E402

W, H = 240, 200
# Two "faces" far enough apart that hiding one (mask and feather) never touches the other,
# and a free area below them where a test draws a face the detector "missed".
FACE_A = (20.0, 20.0, 70.0, 80.0)
FACE_B = (150.0, 20.0, 200.0, 80.0)
MISSED = (90.0, 120.0, 140.0, 180.0)


class FakeDetector:
    """Finds the same two faces in every photo; counts its calls."""

    def __init__(self, boxes=(FACE_A, FACE_B)) -> None:
        self.boxes = boxes
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[Face]:
        self.calls += 1
        return [Face(np.array(b), 0.99, estimate_landmarks(np.array(b))) for b in self.boxes]


def write_noise(path: Path, seed: int) -> Path:
    """A seeded noise photo: any replacement of its pixels shows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def detector() -> FakeDetector:
    return FakeDetector()


@pytest.fixture
def window(qtbot, tmp_path, detector):
    from PySide6.QtCore import QSettings

    from gui.window import MainWindow
    from gui.workers import DetectorProvider

    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(store=store, detectors=DetectorProvider(lambda threshold: detector))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()
