"""The Retrain panel drives the real training command: a tiny run is started, watched, stopped and used."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported, if conftest has not

import json
import shutil
from pathlib import Path

import pytest
from anonymizer.gui.training import TrainingPanel
from conftest import SHARED
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

FACES = SHARED / "data" / "faces" / "lfw"


@pytest.fixture
def face_photos(tmp_path) -> Path:
    people = sorted(p for p in FACES.glob("*") if p.is_dir())[:6] if FACES.is_dir() else []
    if len(people) < 6:
        pytest.skip("the shared face photos are not here")
    folder = tmp_path / "faces"
    folder.mkdir()
    for person in people:
        first = sorted(person.glob("*.jpg"))[0]
        shutil.copy(first, folder / first.name)
    return folder


def test_start_watch_stop_and_use_a_tiny_training_run(qtbot, face_photos, tmp_path):
    panel = TrainingPanel(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(panel)
    panel.show()
    run = tmp_path / "run"
    panel.faces_dir.setText(str(face_photos))
    panel.run_dir.setText(str(run))
    panel.steps.setValue(1000)  # far more than it gets to: the test stops it
    panel.checkpoint_every.setValue(1)
    panel.batch_size.setValue(4)
    assert not panel.use_button.isEnabled()
    # Fine-tuning the shipped generator is the default, at its resolution; from scratch the resolution is asked.
    assert panel.start_from.currentData() == "shipped" and not panel.resolution.isEnabled()
    panel.start_from.setCurrentIndex(panel.start_from.findData("none"))
    assert panel.resolution.isEnabled()
    panel.start_from.setCurrentIndex(panel.start_from.findData("shipped"))

    QTest.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.running and not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    # Preparing the dataset, then training: the first sample sheet and exported generator appear.
    qtbot.waitUntil(lambda: panel.stage == "train", timeout=120_000)
    qtbot.waitUntil(lambda: panel.samples.pixmap() is not None and not panel.samples.pixmap().isNull(), timeout=180_000)
    assert (run / "dataset").is_dir()
    assert sorted((run / "samples").glob("step_*.png"))
    assert (run / "generator.safetensors").is_file()  # exported before the sample sheet is drawn
    trained = json.loads((run / "generator.json").read_text())["training"]
    assert trained["init"] == "generator.safetensors" and trained["steps"] > 18000  # continues the shipped run
    qtbot.waitUntil(lambda: panel.progress.value() >= 1, timeout=60_000)  # read from tqdm's output
    assert panel.progress.maximum() == 1000 and "Training step" in panel.progress.format()

    process = panel.process
    QTest.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.running, timeout=30_000)
    assert process is not None and panel.process is None
    assert panel.status.text().startswith("Stopped")
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()

    # The exported generator is offered for anonymizing.
    qtbot.waitUntil(panel.use_button.isEnabled, timeout=5_000)
    with qtbot.waitSignal(panel.useWeights) as used:
        QTest.mouseClick(panel.use_button, Qt.MouseButton.LeftButton)
    assert used.args == [str(run / "generator.safetensors")]


def test_without_torch_the_panel_says_how_to_add_training(qtbot, tmp_path):
    """The light install has no torch: Start is off, and the panel names the extra that brings it."""
    panel = TrainingPanel(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat), trainable=False)
    qtbot.addWidget(panel)
    assert not panel.start_button.isEnabled()
    assert "anonymizer[train]" in panel.status.text()
    panel.start()  # a stray call changes nothing
    assert not panel.running
    assert "anonymizer[train]" in panel.status.text()


def test_every_face_of_group_photos_is_asked_for_and_remembered(qtbot, tmp_path):
    """Group photos: the box asks 'prepare' for every face, not only each photo's largest, and is remembered."""
    settings = str(tmp_path / "settings.ini")
    panel = TrainingPanel(QSettings(settings, QSettings.Format.IniFormat))
    qtbot.addWidget(panel)
    launched = []
    panel._launch = lambda stage, args: launched.append((stage, args))
    (tmp_path / "faces").mkdir()
    panel.faces_dir.setText(str(tmp_path / "faces"))
    panel.run_dir.setText(str(tmp_path / "run"))
    assert not panel.every_face.isChecked()
    panel.start()
    panel.every_face.setChecked(True)
    panel.start()
    (_, largest), (stage, every) = launched
    assert "--faces" not in largest
    assert stage == "prepare" and every[every.index("--faces") + 1] == "every"
    again = TrainingPanel(QSettings(settings, QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    assert again.every_face.isChecked()
