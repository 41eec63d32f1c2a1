"""``anonymize-gui``: starts the desktop app, or says how to install it when Qt is missing.

The app needs PySide6, which comes with the ``gui`` extra; a server or CI install of the
command-line tool does without it.
"""

from __future__ import annotations

import sys

INSTALL = "pip install 'anonymizer[gui]'  (or, in a checkout: pip install -e '.[gui]')"


def main(argv: list[str] | None = None) -> int:
    try:
        import PySide6.QtWidgets  # noqa: F401
    except ImportError as err:
        print(
            f"anonymize-gui: the desktop app needs Qt (PySide6), which is not installed ({err}).\n"
            f"Install the app's extra:\n    {INSTALL}\n"
            "The command-line tool, anonymize, works without it.",
            file=sys.stderr,
        )
        return 1
    from anonymizer.gui.app import main as app_main

    return app_main(argv)


if __name__ == "__main__":
    sys.exit(main())
