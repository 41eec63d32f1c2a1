"""The Qt binding itself: what the app relies on for long runs (thousands of signals from worker threads)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported, if conftest has not

import sys  # noqa: E402

from PySide6.QtCore import QObject, QThread, Signal  # noqa: E402


class _Emitter(QObject):
    value = Signal(int, int, int)


def test_emitting_signals_keeps_the_reference_counts_of_true_and_false(qtbot):
    """PySide6 6.12.0's ``Signal.emit`` returns True without taking a reference: on Python 3.11, where True
    is not immortal, every emit steals one, and after a few thousand (a long video's frame progress) the
    interpreter aborts ("deallocating True or False"). The project excludes that release; this fails on it."""
    emitter = _Emitter()
    got = []
    emitter.value.connect(lambda *v: got.append(v))

    class Worker(QThread):
        def run(self) -> None:
            for i in range(300):
                emitter.value.emit(i, 0, 0)

    before = sys.getrefcount(True), sys.getrefcount(False)
    for i in range(300):
        emitter.value.emit(i, 0, 0)
    worker = Worker()
    worker.start()
    worker.wait()
    qtbot.waitUntil(lambda: len(got) == 600, timeout=5000)
    after = sys.getrefcount(True), sys.getrefcount(False)
    assert after[0] >= before[0] - 50 and after[1] >= before[1] - 50, (before, after)
