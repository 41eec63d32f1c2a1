"""Garbage with Qt objects in it is collected on the GUI thread only, while a window's workers run."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported, if conftest has not

import gc  # noqa: E402
import threading  # noqa: E402
import weakref  # noqa: E402

from anonymizer.gui.collector import MainThreadCollector, main_thread_collector  # noqa: E402
from anonymizer.gui.window import MainWindow  # noqa: E402
from PySide6.QtCore import QObject, QSettings  # noqa: E402


class _Cycle:
    """Garbage only the cyclic collector frees: it refers to itself and holds a Qt object."""

    def __init__(self) -> None:
        self.me = self
        self.qt = QObject()


def test_while_acquired_only_the_gui_thread_timer_collects(qtbot):
    collector = MainThreadCollector()
    was_enabled = gc.isenabled()
    collector.acquire()
    collector.acquire()
    try:
        assert not gc.isenabled() and collector.active
        cycle = _Cycle()
        gone = weakref.ref(cycle)
        collected_in: list[str] = []
        weakref.finalize(cycle, lambda: collected_in.append(threading.current_thread().name))
        del cycle

        # A worker allocating (and keeping: the count is allocations less deallocations) far past the
        # threshold no longer triggers a collection in its thread.
        held: list = []
        worker = threading.Thread(target=lambda: held.extend([] for _ in range(5 * gc.get_threshold()[0])))
        worker.start()
        worker.join()
        assert gc.get_count()[0] > gc.get_threshold()[0] and gone() is not None

        # The timer, on this (GUI) thread, collects because the count is past the threshold.
        qtbot.waitUntil(lambda: gone() is None, timeout=5000)
        held.clear()
        assert collected_in == [threading.main_thread().name]
        assert gc.get_count()[0] < gc.get_threshold()[0]

        collector.release()
        assert not gc.isenabled(), "one user still holds it"
    finally:
        collector.release()
    assert gc.isenabled() == was_enabled and not collector.active
    collector.release()  # one too many is harmless
    assert gc.isenabled() == was_enabled


def test_a_window_holds_automatic_collection_off_until_it_is_shut_down(qtbot, tmp_path):
    was_enabled = gc.isenabled()
    window = MainWindow(store=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    try:
        assert main_thread_collector().active and not gc.isenabled()
    finally:
        window.shutdown()
    assert not main_thread_collector().active and gc.isenabled() == was_enabled
    window.shutdown()  # a second shutdown (closeEvent after shutdown) gives nothing back twice
    assert gc.isenabled() == was_enabled
