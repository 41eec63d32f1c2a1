"""Python's cyclic garbage collector, run on the GUI thread only while the app's worker threads run.

Left automatic, a collection runs in whichever thread happens to allocate when the count passes its
threshold. If that is a worker thread and the garbage holds a Qt object (a closed dialog, a window's
leftovers), Qt deletes it off the GUI thread and the process dies with a segmentation fault. So while a
window is open, automatic collection is off and a timer on the GUI thread collects, by the same
thresholds Python would use.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 100


class MainThreadCollector(QObject):
    """Holds automatic collection off while anyone has acquired it; collects from a GUI-thread timer."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._users = 0
        self._was_enabled = False
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self.check)

    @property
    def active(self) -> bool:
        return self._users > 0

    def acquire(self) -> None:
        if self._users == 0:
            self._was_enabled = gc.isenabled()
            gc.disable()
            self._timer.start()
        self._users += 1

    def release(self) -> None:
        """Give back; the last user's release collects once here and restores automatic collection."""
        if self._users == 0:
            return
        self._users -= 1
        if self._users == 0:
            self._timer.stop()
            gc.collect()
            if self._was_enabled:
                gc.enable()

    def check(self) -> int | None:
        """Collect the oldest generation whose count is past its threshold; the generation, or None."""
        counts = gc.get_count()
        thresholds = gc.get_threshold()
        if thresholds[0] == 0 or counts[0] <= thresholds[0]:
            return None
        generation = 0
        for g in (1, 2):
            if counts[g] > thresholds[g]:
                generation = g
        gc.collect(generation)
        return generation


_collector: MainThreadCollector | None = None


def main_thread_collector() -> MainThreadCollector:
    """The app's one collector (created on first use, which must be on the GUI thread)."""
    global _collector
    if _collector is None:
        _collector = MainThreadCollector()
    return _collector
