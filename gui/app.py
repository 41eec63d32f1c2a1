"""``anonymize-gui``: the desktop app."""

from __future__ import annotations

import logging
import sys

from anonymizer.gui.window import MainWindow
from PySide6.QtWidgets import QApplication

ORGANIZATION = "anonymizer"
APPLICATION = "Anonymizer"


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    return app


def main(argv: list[str] | None = None) -> int:
    """Start the app; paths given on the command line are opened as if dropped."""
    from pathlib import Path

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv if argv is None else argv)
    app = create_app(argv)
    window = MainWindow()
    window.show()
    paths = [Path(a) for a in app.arguments()[1:] if not a.startswith("-")]
    if paths:
        window.add_paths(paths)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
