"""The About box: what the app is, and the shipped model's card when it is there."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

import anonymizer

REPO_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def model_card_path() -> Path | None:
    """``weights/README.md`` of the installed package, or of the source tree."""
    candidates = []
    spec = importlib.util.find_spec("weights")
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / "README.md" for p in spec.submodule_search_locations]
    candidates.append(REPO_WEIGHTS / "README.md")
    return next((p for p in candidates if p.is_file()), None)


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, card: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Anonymizer")
        self.resize(640, 560)
        layout = QVBoxLayout(self)
        header = QLabel(
            f"<h2>Anonymizer {anonymizer.__version__}</h2>"
            "<p>Finds every face in your photos and replaces it with a generated face, "
            "a blur, pixelation or a solid fill. Photos never leave this computer.</p>"
        )
        header.setWordWrap(True)
        layout.addWidget(header)
        self.card = card if card is not None else model_card_path()
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        if self.card is not None:
            self.text.setMarkdown(self.card.read_text(encoding="utf-8", errors="replace"))
        else:
            self.text.setMarkdown(
                "**No model card found.** The generator's weights and their card "
                "(`weights/README.md`) are not installed; blur, pixelate and solid still work."
            )
        layout.addWidget(QLabel("<b>The face generator's model card</b>"))
        layout.addWidget(self.text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)
