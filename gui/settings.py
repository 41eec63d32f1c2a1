"""The anonymizing settings: what they are, the panel that edits them, and keeping them between runs."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QWidget,
)

from anonymizer import Anonymizer
from anonymizer.crops import DEFAULT_MASK_SCALE, SHAPES
from anonymizer.detection import DEFAULT_THRESHOLD
from anonymizer.pipeline import DEFAULT_METHOD
from anonymizer.replacers import METHODS

METHOD_LABELS = {"gan": "Generated face (GAN)", "blur": "Blur", "pixelate": "Pixelate", "solid": "Solid fill"}
# "": each kind's own (the pipeline's None): an ellipse in photos, the rectangle in video frames
SHAPE_LABELS = {"": "Automatic", "ellipse": "Ellipse", "rect": "Rectangle"}
# The detectors the app offers (make_detector's names): the default, and the default with the diagonal search
DETECTOR_LABELS = {"default": "Upright and turned", "default+diagonal": "Also tilted 45° (slower)"}


@dataclass(frozen=True)
class AnonymizeSettings:
    method: str = DEFAULT_METHOD
    threshold: float = DEFAULT_THRESHOLD
    mask_scale: float = DEFAULT_MASK_SCALE
    mask_shape: str = ""  # "" automatic, or one of anonymizer.crops.SHAPES
    detector: str = "default"  # one of DETECTOR_LABELS
    seed: int = 0
    weights: str = ""  # a generator file; empty: the shipped weights
    output_dir: str = ""

    def replacer_options(self) -> dict:
        """The GAN's own options, passed only for the GAN."""
        if self.method != "gan":
            return {}
        options: dict = {"seed": self.seed}
        if self.weights:
            options["weights"] = self.weights
        return options

    def replacer_key(self) -> tuple:
        return (self.method, self.mask_scale, self.mask_shape, *sorted(self.replacer_options().items()))

    def anonymizer(self, detector=None) -> Anonymizer:
        return Anonymizer(
            self.method,
            detector=detector,
            threshold=self.threshold,
            mask_scale=self.mask_scale,
            mask_shape=self.mask_shape or None,
            detector_name=self.detector,
            **self.replacer_options(),
        )

    # -- persistence ------------------------------------------------------
    def save(self, store: QSettings) -> None:
        for f in dataclasses.fields(self):
            store.setValue(f"anonymize/{f.name}", getattr(self, f.name))

    @classmethod
    def load(cls, store: QSettings) -> AnonymizeSettings:
        values = {}
        for f in dataclasses.fields(cls):
            raw = store.value(f"anonymize/{f.name}")
            if raw is None:
                continue
            try:
                values[f.name] = type(f.default)(raw)
            except (TypeError, ValueError):
                continue
        settings = cls(**values)
        if settings.method not in METHODS:
            settings = dataclasses.replace(settings, method=DEFAULT_METHOD)
        if settings.mask_shape and settings.mask_shape not in SHAPES:
            settings = dataclasses.replace(settings, mask_shape="")
        if settings.detector not in DETECTOR_LABELS:
            settings = dataclasses.replace(settings, detector="default")
        return settings


def _combo(labels: dict[str, str], tip: str) -> QComboBox:
    """A drop-down of ``labels``' values, each carrying its key as its data."""
    box = QComboBox()
    for key, label in labels.items():
        box.addItem(label, key)
    box.setToolTip(tip)
    return box


class SettingsPanel(QWidget):
    """Method, threshold, faces searched for, mask scale and shape, seed and output folder; emits ``changed`` on
    every edit."""

    changed = Signal(object)  # AnonymizeSettings

    def __init__(self, settings: AnonymizeSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.method = QComboBox()
        for name in METHODS:
            self.method.addItem(METHOD_LABELS.get(name, name), name)
        self.method.setToolTip("How each face is replaced")
        form.addRow("&Method", self.method)

        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.05, 0.99)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.threshold.setToolTip(
            "Detector confidence needed to count as a face: lower finds more, with more false alarms"
        )
        form.addRow("Detection &threshold", self.threshold)

        self.detector = _combo(
            DETECTOR_LABELS,
            "Which faces are searched for: upright, sideways and upside down; or also faces tilted half-way "
            "between (people lying down, a camera held askew), at about 40 % more detection time",
        )
        form.addRow("Fa&ces", self.detector)

        self.mask_scale = QDoubleSpinBox()
        self.mask_scale.setRange(1.0, 2.5)
        self.mask_scale.setSingleStep(0.1)
        self.mask_scale.setDecimals(2)
        self.mask_scale.setToolTip("How much larger than the detected box the replaced region is")
        form.addRow("Mask &scale", self.mask_scale)

        self.mask_shape = _combo(
            SHAPE_LABELS,
            "The region blur, pixelate and solid hide: the ellipse in the grown box, or the whole rectangle. "
            "Automatic: the ellipse in photos, the rectangle in videos",
        )
        form.addRow("Mask s&hape", self.mask_shape)

        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("The generated faces follow from this number")
        self.reroll = QToolButton()
        self.reroll.setText("Re-roll")
        self.reroll.setToolTip("A new random seed: other generated faces")
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.reroll)
        self.seed_label = QLabel("S&eed")
        self.seed_label.setBuddy(self.seed)
        form.addRow(self.seed_label, seed_row)

        self.weights = QLineEdit()
        self.weights.setPlaceholderText("shipped weights")
        self.weights.setToolTip("The generator's weights (a .safetensors file); empty for the shipped ones")
        self.weights_browse = QToolButton()
        self.weights_browse.setText("…")
        self.weights_clear = QToolButton()
        self.weights_clear.setText("Reset")
        weights_row = QHBoxLayout()
        weights_row.addWidget(self.weights, 1)
        weights_row.addWidget(self.weights_browse)
        weights_row.addWidget(self.weights_clear)
        self.weights_label = QLabel("&Weights")
        self.weights_label.setBuddy(self.weights)
        form.addRow(self.weights_label, weights_row)

        self.output_dir = QLineEdit()
        self.output_dir.setPlaceholderText("choose a folder for the anonymized photos")
        self.output_browse = QPushButton("Browse…")
        out_row = QHBoxLayout()
        out_row.addWidget(self.output_dir, 1)
        out_row.addWidget(self.output_browse)
        out_label = QLabel("&Output folder")
        out_label.setBuddy(self.output_dir)
        form.addRow(out_label, out_row)

        self.set_settings(settings)
        self.method.currentIndexChanged.connect(self._emit)
        self.threshold.valueChanged.connect(self._emit)
        self.detector.currentIndexChanged.connect(self._emit)
        self.mask_scale.valueChanged.connect(self._emit)
        self.mask_shape.currentIndexChanged.connect(self._emit)
        self.seed.valueChanged.connect(self._emit)
        self.weights.editingFinished.connect(self._emit)
        self.output_dir.editingFinished.connect(self._emit)
        self.reroll.clicked.connect(lambda: self.seed.setValue(random.randrange(2**31 - 1)))
        self.weights_browse.clicked.connect(self._browse_weights)
        self.weights_clear.clicked.connect(lambda: self._set_text(self.weights, ""))
        self.output_browse.clicked.connect(self._browse_output)

    def settings(self) -> AnonymizeSettings:
        return AnonymizeSettings(
            method=self.method.currentData(),
            threshold=round(self.threshold.value(), 2),
            mask_scale=round(self.mask_scale.value(), 2),
            mask_shape=self.mask_shape.currentData(),
            detector=self.detector.currentData(),
            seed=self.seed.value(),
            weights=self.weights.text().strip(),
            output_dir=self.output_dir.text().strip(),
        )

    def set_settings(self, settings: AnonymizeSettings) -> None:
        widgets = (
            self.method,
            self.threshold,
            self.detector,
            self.mask_scale,
            self.mask_shape,
            self.seed,
            self.weights,
            self.output_dir,
        )
        for w in widgets:
            w.blockSignals(True)
        self.method.setCurrentIndex(max(0, self.method.findData(settings.method)))
        self.threshold.setValue(settings.threshold)
        self.mask_scale.setValue(settings.mask_scale)
        self.mask_shape.setCurrentIndex(max(0, self.mask_shape.findData(settings.mask_shape)))
        self.detector.setCurrentIndex(max(0, self.detector.findData(settings.detector)))
        self.seed.setValue(settings.seed)
        self.weights.setText(settings.weights)
        self.output_dir.setText(settings.output_dir)
        for w in widgets:
            w.blockSignals(False)
        self._update_enabled()
        self._emit()

    def set_output_dir(self, path: str) -> None:
        self._set_text(self.output_dir, str(path))

    def set_weights(self, path: str) -> None:
        self._set_text(self.weights, path)
        self.method.setCurrentIndex(self.method.findData("gan"))

    def _set_text(self, edit: QLineEdit, text: str) -> None:
        edit.setText(text)
        self._emit()

    def _update_enabled(self) -> None:
        gan = self.method.currentData() == "gan"
        for w in (self.seed, self.reroll, self.seed_label, self.weights, self.weights_browse, self.weights_clear):
            w.setEnabled(gan)
        self.mask_shape.setEnabled(not gan)  # the GAN's region comes with its weights

    def _emit(self, *_) -> None:
        self._update_enabled()
        self.changed.emit(self.settings())

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Generator weights", self.weights.text(), "Weights (*.safetensors *.onnx);;All files (*)"
        )
        if path:
            self._set_text(self.weights, path)

    def _browse_output(self) -> None:
        start = self.output_dir.text() or str(Path.home())
        path = QFileDialog.getExistingDirectory(self, "Output folder", start)
        if path:
            self._set_text(self.output_dir, path)


def label_for(settings: AnonymizeSettings) -> str:
    return METHOD_LABELS.get(settings.method, settings.method)
