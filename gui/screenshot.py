"""Save a screenshot of the real window with a photo loaded: ``python -m anonymizer.gui.screenshot PHOTO OUT.png``.

Used for the README's picture (``xvfb-run -s "-screen 0 1600x1000x24" python -m anonymizer.gui.screenshot ...``).
The real detector runs; the user's own settings are not read or changed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from anonymizer.gui.app import create_app
from anonymizer.gui.preview import FaceKind, ViewMode
from anonymizer.gui.window import MainWindow
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication


def _wait(app: QApplication, done, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if done():
            return True
        time.sleep(0.02)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("photos", nargs="+", type=Path, help="photos or folders to load; the first is shown")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--mode", choices=[m.value for m in ViewMode], default=ViewMode.SPLIT.value)
    parser.add_argument("--method", default="blur")
    parser.add_argument("--size", default="1360x860", help="window size, WxH")
    parser.add_argument("--frame", type=int, default=0, help="of a video shown first: the frame to show (from 0)")
    parser.add_argument(
        "--keep",
        type=int,
        action="append",
        default=[],
        help="click the face of this index (0: the first found) "
        "to keep it, as a user would (of a video: its track); repeatable",
    )
    parser.add_argument(
        "--write",
        type=Path,
        help="write everything loaded into this folder first, then show the review of what was written",
    )
    parser.add_argument("--tab", choices=("photos", "retrain"), default="photos", help="the tab shown")
    parser.add_argument(
        "--review",
        action="store_true",
        help="once every photo's faces are found, show the first photo the audit is in doubt about (R)",
    )
    args = parser.parse_args(argv)
    app = create_app([sys.argv[0]])
    with tempfile.TemporaryDirectory() as tmp:
        store = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(store=store)
        w, h = (int(v) for v in args.size.split("x"))
        window.resize(w, h)
        panel = window.settings_panel
        panel.method.setCurrentIndex(panel.method.findData(args.method))
        panel.set_output_dir(str(args.write or Path.home() / "Pictures" / "anonymized"))
        window.set_mode(ViewMode(args.mode))
        window.show()
        window.add_paths(args.photos)
        ok = _wait(app, lambda: window.current is not None and window.current.detected is not None, 300)
        if ok and args.frame and window.current.is_video:
            _wait(app, lambda: window.current.frames > 0, 30)
            window.show_frame(args.frame)
            ok = _wait(app, lambda: window.current.detected is not None, 300)
        if ok and args.review:
            ok = _wait(app, lambda: all(p.detected is not None for p in window.model.photos), 600)
            window.next_for_review()
            ok = ok and _wait(app, lambda: window.current.detected is not None and window.current.needs_review, 60)
        if ok:
            for index in args.keep:
                window._face_clicked(FaceKind.INCLUDED, index)
        if ok and args.write:
            ok = window.anonymize() and _wait(app, lambda: not window.running, 3600)
            _wait(app, lambda: False, 0.5)
            window._request_preview()
        ok = ok and _wait(
            app, lambda: window.preview.photo is not None and window.preview.photo.anonymized is not None, 120
        )
        _wait(app, lambda: all(p.thumbnail is not None for p in window.model.photos), 60)
        window.preview.fit()
        if args.tab == "retrain":
            window.tabs.setCurrentWidget(window.training)
        _wait(app, lambda: False, 0.5)  # let the last repaints land
        args.out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(args.out))
        faces = len(window.current.detected or []) if window.current else 0
        print(f"{args.out}: {faces} faces outlined{'' if ok else ' (timed out waiting)'}")
        window.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
