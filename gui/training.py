"""The Retrain panel: prepare a face dataset and train the generator in a separate process.

It runs the project's training command (``anonymize-train prepare`` then
``train``) through QProcess, reads tqdm's progress from its output, shows the
newest sample sheet and the loss curve the trainer writes, and offers the
exported generator for anonymizing.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from PySide6.QtCore import QProcess, QSettings, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from anonymizer.device import TRAIN_EXTRA, torch_available
from anonymizer.training.recipes import RECIPES, train_commands

TRAIN_COMMAND = [sys.executable, "-m", "anonymizer.training.cli"]
_PROGRESS = re.compile(r"(\d+)/(\d+)\s*\[")  # tqdm: "training:  40%|####  | 40/100 [00:10<00:15, ...]"
POLL_MS = 1000
STOP_GRACE_MS = 5000
LOG_LINES = 400
NEEDS_TRAIN_EXTRA = f"Retraining needs PyTorch, which this install leaves out. To add it: {TRAIN_EXTRA}"


class ImageLabel(QLabel):
    """Shows a picture scaled to fit, keeping its aspect ratio."""

    def __init__(self, empty: str) -> None:
        super().__init__(empty)
        self._pixmap: QPixmap | None = None
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setStyleSheet("color: palette(mid);")

    def set_image(self, path: Path) -> bool:
        pixmap = QPixmap(str(path))
        if pixmap.isNull():  # e.g. caught while being written; the next poll retries
            return False
        self._pixmap = pixmap
        self._rescale()
        return True

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._pixmap is not None:
            self.setPixmap(
                self._pixmap.scaled(
                    self.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
            )


class TrainingPanel(QWidget):
    """Pick a folder of face photos, train, watch, stop, use the result."""

    useWeights = Signal(str)
    stateChanged = Signal(bool)  # running

    def __init__(
        self,
        store: QSettings | None = None,
        command: list[str] | None = None,
        parent=None,
        trainable: bool | None = None,
    ) -> None:
        super().__init__(parent)
        # Training needs torch (the train extra); the light install has none, and the panel says how to add it.
        self.trainable = torch_available() if trainable is None else trainable
        self.store = store
        self.command = list(command or TRAIN_COMMAND)
        self.process: QProcess | None = None
        self.stage = ""  # "prepare", "train" or ""
        self.stopping = False
        self.last_exit: str = ""
        self._partial = ""
        self._shown: dict[str, tuple[str, float]] = {}

        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.faces_dir = QLineEdit()
        self.faces_dir.setPlaceholderText("a folder of photos with faces")
        form.addRow("&Face photos", self._with_browse(self.faces_dir, "Folder of face photos"))
        self.run_dir = QLineEdit()
        self.run_dir.setToolTip(
            "Dataset, checkpoints, samples and the trained generator go here; an existing run resumes"
        )
        form.addRow("&Run folder", self._with_browse(self.run_dir, "Run folder"))
        self.start_from = QComboBox()
        self.start_from.addItem("The shipped generator (fine-tune it)", "shipped")
        self.start_from.addItem("Random weights (train from scratch)", "none")
        self.start_from.setToolTip(
            "Fine-tuning needs a few hundred photos; from scratch a GAN needs tens of thousands and a GPU"
        )
        form.addRow("Start &from", self.start_from)
        self.resolution = QComboBox()
        for r in (64, 128, 256):
            self.resolution.addItem(f"{r} px", r)
        self.resolution.setToolTip("From scratch only: fine-tuning keeps the shipped generator's resolution")
        form.addRow("Re&solution", self.resolution)
        self.every_face = QCheckBox("Every face in each photo")
        self.every_face.setToolTip(
            "Group photos: learn from every face found, not only each photo's largest. A run folder keeps the "
            "choice its dataset was prepared with: another needs a new run folder"
        )
        form.addRow("Fa&ces", self.every_face)
        recipe = RECIPES["fine-tune"]  # the form's defaults are the recipe's
        self.steps = QSpinBox()
        self.steps.setRange(1, 10_000_000)
        self.steps.setValue(recipe.phases[-1][0])
        self.steps.setSingleStep(500)
        form.addRow("S&teps", self.steps)
        self.checkpoint_every = QSpinBox()
        self.checkpoint_every.setRange(1, 1_000_000)
        self.checkpoint_every.setValue(recipe.options["checkpoint_every"])
        form.addRow("Sample &every", self.checkpoint_every)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 4096)
        self.batch_size.setValue(recipe.options["batch_size"])
        form.addRow("&Batch size", self.batch_size)
        layout.addLayout(form)

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start training")
        self.stop_button = QPushButton("Stop")
        self.use_button = QPushButton("Use these weights")
        self.use_button.setToolTip("Anonymize with the generator this run exported")
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        layout.addLayout(buttons)

        self.status = QLabel("Not running")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)

        pictures = QHBoxLayout()
        sample_box = QGroupBox("Latest samples")
        self.samples = ImageLabel("No samples yet")
        QVBoxLayout(sample_box).addWidget(self.samples)
        loss_box = QGroupBox("Losses")
        self.losses = ImageLabel("No losses yet")
        QVBoxLayout(loss_box).addWidget(self.losses)
        pictures.addWidget(sample_box, 3)
        pictures.addWidget(loss_box, 2)
        layout.addLayout(pictures, 1)

        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setPlaceholderText("The trainer's messages appear here.")
        self.log.setMaximumHeight(110)
        layout.addWidget(self.log)

        self.poll = QTimer(self)
        self.poll.setInterval(POLL_MS)
        self.poll.timeout.connect(self.refresh_outputs)
        self.start_button.clicked.connect(self.start)
        self.start_from.currentIndexChanged.connect(self._update_buttons)
        self.stop_button.clicked.connect(self.stop)
        self.use_button.clicked.connect(self._use)
        self.run_dir.editingFinished.connect(self.refresh_outputs)
        self._restore()
        self._update_buttons()
        self.refresh_outputs()
        if not self.trainable:
            self._set_status(NEEDS_TRAIN_EXTRA)

    def _with_browse(self, edit: QLineEdit, title: str) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        button = QToolButton()
        button.setText("…")

        def browse() -> None:
            path = QFileDialog.getExistingDirectory(self, title, edit.text() or str(Path.home()))
            if path:
                edit.setText(path)
                self.refresh_outputs()

        button.clicked.connect(browse)
        row.addWidget(button)
        return box

    # -- state ------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.process is not None

    @property
    def weights_path(self) -> Path | None:
        text = self.run_dir.text().strip()
        return Path(text) / "generator.safetensors" if text else None

    def _update_buttons(self) -> None:
        self.start_button.setEnabled(not self.running and self.trainable)
        self.stop_button.setEnabled(self.running and not self.stopping)
        weights = self.weights_path
        self.use_button.setEnabled(weights is not None and weights.is_file())
        for w in (
            self.faces_dir,
            self.run_dir,
            self.start_from,
            self.every_face,
            self.steps,
            self.checkpoint_every,
            self.batch_size,
        ):
            w.setEnabled(not self.running)
        self.resolution.setEnabled(not self.running and self.start_from.currentData() == "none")

    def _restore(self) -> None:
        default_run = (
            Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)) / "training"
        )
        store = self.store
        get = (lambda k, d: store.value(f"training/{k}", d)) if store is not None else (lambda k, d: d)
        self.faces_dir.setText(str(get("faces_dir", "")))
        self.run_dir.setText(str(get("run_dir", str(default_run))))
        self.start_from.setCurrentIndex(max(0, self.start_from.findData(str(get("start_from", "shipped")))))
        self.resolution.setCurrentIndex(max(0, self.resolution.findData(int(get("resolution", 64)))))
        self.every_face.setChecked(str(get("every_face", "false")).lower() == "true")
        self.steps.setValue(int(get("steps", self.steps.value())))
        self.checkpoint_every.setValue(int(get("checkpoint_every", self.checkpoint_every.value())))
        self.batch_size.setValue(int(get("batch_size", self.batch_size.value())))

    def _save(self) -> None:
        if self.store is None:
            return
        for key, value in (
            ("faces_dir", self.faces_dir.text()),
            ("run_dir", self.run_dir.text()),
            ("start_from", self.start_from.currentData()),
            ("resolution", self.resolution.currentData()),
            ("every_face", "true" if self.every_face.isChecked() else "false"),
            ("steps", self.steps.value()),
            ("checkpoint_every", self.checkpoint_every.value()),
            ("batch_size", self.batch_size.value()),
        ):
            self.store.setValue(f"training/{key}", value)

    # -- the process ------------------------------------------------------------
    def start(self) -> None:
        if self.running:
            return
        if not self.trainable:
            self._set_status(NEEDS_TRAIN_EXTRA)
            return
        faces = self.faces_dir.text().strip()
        run = self.run_dir.text().strip()
        if not faces or not Path(faces).is_dir():
            self._set_status("Choose a folder of face photos first.")
            return
        if not run:
            self._set_status("Choose a run folder first.")
            return
        Path(run).mkdir(parents=True, exist_ok=True)
        self._save()
        self.log.clear()
        self.last_exit = ""
        # Fine-tuning prepares the data as the shipped generator was trained (the command's defaults).
        scratch = self.start_from.currentData() == "none"
        resolution = ["--resolution", str(self.resolution.currentData())] if scratch else []
        faces_kept = ["--faces", "every"] if self.every_face.isChecked() else []
        self._launch(
            "prepare", ["prepare", "--input", faces, "--out", str(Path(run) / "dataset"), *resolution, *faces_kept]
        )

    def stop(self) -> None:
        """Ask the trainer to end; kill it if it has not after a grace period."""
        if self.process is None or self.stopping:
            return
        self.stopping = True
        self._set_status("Stopping…")
        process = self.process
        process.terminate()
        QTimer.singleShot(STOP_GRACE_MS, process, process.kill)  # cancelled if the process object is gone
        self._update_buttons()

    def _launch(self, stage: str, args: list[str]) -> None:
        self.stage = stage
        self.stopping = False
        self._partial = ""
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.readyReadStandardOutput.connect(self._read)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._error)
        self.process = process
        self.progress.setRange(0, 0)  # busy until the first progress line
        self._set_status("Preparing the face dataset…" if stage == "prepare" else "Training…")
        self.log.appendPlainText("$ " + " ".join([*self.command, *args]))
        process.start(self.command[0], [*self.command[1:], *args])
        self.poll.start()
        self._update_buttons()
        self.stateChanged.emit(True)

    def _read(self) -> None:
        if self.process is None:
            return
        text = self._partial + bytes(self.process.readAllStandardOutput().data()).decode("utf-8", "replace")
        # tqdm redraws its line with "\r"; each redraw is one progress reading.
        parts = re.split(r"[\r\n]", text)
        self._partial = parts.pop()
        for line in parts:
            line = line.strip()
            if not line:
                continue
            match = _PROGRESS.search(line)
            if match:
                done, total = int(match.group(1)), int(match.group(2))
                self.progress.setRange(0, max(total, 1))
                self.progress.setValue(done)
                what = "Preparing faces" if self.stage == "prepare" else "Training step"
                self.progress.setFormat(f"{what} {done} / {total}")
            else:
                self.log.appendPlainText(line)

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.log.appendPlainText(f"could not start {self.command[0]}: {self.process.errorString()}")
            self._end("Could not start the trainer.")

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read()
        if self._partial.strip():
            self.log.appendPlainText(self._partial.strip())
        stage = self.stage
        if self.stopping:
            self._end("Stopped. Start again to resume from the last checkpoint.")
        elif status != QProcess.ExitStatus.NormalExit or code != 0:
            crashed = status == QProcess.ExitStatus.CrashExit
            self._end(
                f"The trainer ended with an error ({'crashed' if crashed else f'exit code {code}'}); see its messages."
            )
        elif stage == "prepare":
            self.process.deleteLater()
            self.process = None
            run = Path(self.run_dir.text().strip())
            # The fine-tune recipe (anonymizer/training/recipes.py), with what the form sets.
            (argv,) = train_commands(
                "fine-tune",
                str(run / "dataset"),
                str(run),
                {
                    "steps": self.steps.value(),
                    "checkpoint_every": self.checkpoint_every.value(),
                    "batch_size": self.batch_size.value(),
                    "init": self.start_from.currentData(),
                },
            )
            self._launch("train", argv)
        else:
            self._end("Finished. Use these weights to anonymize with the new generator.")

    def _end(self, message: str) -> None:
        self.last_exit = "stopped" if self.stopping else message
        if self.process is not None:
            self.process.deleteLater()
        self.process = None
        self.stage = ""
        self.stopping = False
        self.poll.stop()
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
        self._set_status(message)
        self.refresh_outputs()
        self._update_buttons()
        self.stateChanged.emit(False)

    def _set_status(self, text: str) -> None:
        self.status.setText(text)

    def shutdown(self, timeout_ms: int = 3000) -> None:
        """End a running trainer (the window is closing)."""
        if self.process is not None:
            process = self.process
            self.stopping = True
            process.terminate()
            if not process.waitForFinished(timeout_ms):
                process.kill()
                process.waitForFinished(timeout_ms)

    # -- what the trainer writes ------------------------------------------------
    def refresh_outputs(self) -> None:
        text = self.run_dir.text().strip()
        if text:
            run = Path(text)
            samples = sorted((run / "samples").glob("step_*.png")) if (run / "samples").is_dir() else []
            if samples:
                self._show("samples", samples[-1], self.samples)
            if (run / "losses.png").is_file():
                self._show("losses", run / "losses.png", self.losses)
        if not self.running:
            self._update_buttons()
        else:
            weights = self.weights_path
            self.use_button.setEnabled(weights is not None and weights.is_file())

    def _show(self, slot: str, path: Path, label: ImageLabel) -> None:
        try:
            stamp = (str(path), path.stat().st_mtime)
        except OSError:
            return
        if self._shown.get(slot) != stamp and label.set_image(path):
            self._shown[slot] = stamp
            label.setToolTip(f"{path.name}, {time.strftime('%H:%M:%S', time.localtime(stamp[1]))}")

    def _use(self) -> None:
        weights = self.weights_path
        if weights is not None and weights.is_file():
            self.useWeights.emit(str(weights))
