"""The About box: what the app is, and the shipped model's card when it is there."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

import anonymizer


def model_card_path() -> Path | None:
    """``weights/README.md`` beside the shipped generator, wherever the package is installed."""
    from anonymizer.gan import default_weights

    card = default_weights().parent / "README.md"
    return card if card.is_file() else None


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
