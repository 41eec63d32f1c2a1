"""The main window: the photo list, the preview, the settings and retrain panels, the run."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
from anonymizer.gui.about import AboutDialog
from anonymizer.gui.collector import main_thread_collector
from anonymizer.gui.images import THUMBNAIL_SIZE, to_qimage
from anonymizer.gui.photos import DONE, ERROR, FACES, Photo, PhotoListModel, PhotoRole
from anonymizer.gui.preview import FaceKind, PreviewView, ViewMode
from anonymizer.gui.settings import AnonymizeSettings, SettingsPanel
from anonymizer.gui.training import TrainingPanel
from anonymizer.gui.workers import DetectorProvider, LoaderThread, PreviewThread, RunItem, RunSummary, RunThread
from PySide6.QtCore import QItemSelectionModel, QRectF, QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QStyle,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from anonymizer.crops import DEFAULT_MASK_SHAPE, VIDEO_MASK_SHAPE
from anonymizer.imageio import IMAGE_EXTENSIONS, is_image_path
from anonymizer.tracking import boxes_at
from anonymizer.video import VIDEO_EXTENSIONS, is_video_path

MAX_RECENT = 8
IMAGE_CACHE = 3  # full-size photos kept in memory (the selected one and its neighbours)


class MainWindow(QMainWindow):
    def __init__(
        self,
        store: QSettings | None = None,
        detectors: DetectorProvider | None = None,
        train_command: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.store = store if store is not None else QSettings()
        self.detectors = detectors or DetectorProvider()
        self.setWindowTitle("Anonymizer")
        self.setAcceptDrops(True)
        self.resize(1360, 860)
        self.setMinimumSize(900, 560)

        self.model = PhotoListModel(self)
        self.current: Photo | None = None
        self.images: OrderedDict[int, np.ndarray] = OrderedDict()
        self.generation = 0  # bumped when the detector changes; older detections are dropped
        self.preview_request = 0
        self.flag = 0  # the current photo's flag (an index into its flags) the review keys act on
        self.run_thread: RunThread | None = None
        self.last_summary: RunSummary | None = None
        self._shut = False
        # Before any worker thread starts: garbage holding Qt objects must only be collected here.
        main_thread_collector().acquire()

        self.loader = LoaderThread(self.detectors, self)
        self.loader.thumbnailReady.connect(self._thumbnail_ready)
        self.loader.imageReady.connect(self._image_ready)
        self.loader.facesReady.connect(self._faces_ready)
        self.loader.videoInfo.connect(self._video_info)
        self.loader.writtenReady.connect(self._written_ready)
        self.loader.failed.connect(self._load_failed)
        self.previewer = PreviewThread(self)
        self.previewer.ready.connect(self._preview_ready)
        self.previewer.failed.connect(self._preview_failed)

        self._build_ui(train_command)
        self._build_actions()
        self.settings = self.settings_panel.settings()
        self._restore()
        self.loader.start()
        self.previewer.start()
        self._update_actions()

    # == layout ====================================================================
    def _build_ui(self, train_command: list[str] | None) -> None:
        self.list = QListView()
        self.list.setModel(self.model)
        self.list.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.list.setUniformItemSizes(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setWordWrap(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.list.setSpacing(2)
        self.list.setMinimumWidth(240)
        self.list.selectionModel().currentChanged.connect(lambda cur, _prev: self._select(cur.data(PhotoRole)))

        self.preview = PreviewView()
        self.preview.faceClicked.connect(self._face_clicked)
        self.preview.boxDrawn.connect(self._box_drawn)
        self.preview.zoomChanged.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f} %"))
        self.info = QLabel()
        self.info.setTextFormat(Qt.TextFormat.PlainText)
        self.zoom_label = QLabel()
        self.mode_buttons: dict[ViewMode, QToolButton] = {}
        bar = QHBoxLayout()
        bar.setContentsMargins(8, 4, 8, 4)
        bar.addWidget(self.info, 1)
        for mode, text in (
            (ViewMode.ORIGINAL, "Original"),
            (ViewMode.ANONYMIZED, "Anonymized"),
            (ViewMode.SPLIT, "Split"),
        ):
            button = QToolButton()
            button.setText(text)
            button.setCheckable(True)
            button.setAutoExclusive(True)
            button.clicked.connect(lambda _=False, m=mode: self.set_mode(m))
            self.mode_buttons[mode] = button
            bar.addWidget(button)
        bar.addSpacing(12)
        bar.addWidget(self.zoom_label)
        center = QWidget()
        column = QVBoxLayout(center)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addLayout(bar)
        column.addWidget(self.preview, 1)
        column.addWidget(self._build_frame_bar())

        self.settings_panel = SettingsPanel(AnonymizeSettings.load(self.store))
        self.settings_panel.changed.connect(self._settings_changed)
        self.run_button = QPushButton("Anonymize all")
        self.run_button.setToolTip("Write every photo in the list to the output folder (Ctrl+Shift+S)")
        self.run_button.setMinimumHeight(36)
        self.run_button.clicked.connect(lambda: self.anonymize())
        settings_tab = QWidget()
        settings_column = QVBoxLayout(settings_tab)
        settings_column.addWidget(self.settings_panel)
        legend = QLabel(
            "<p><span style='color:#28c85a'>■</span> will be anonymized &nbsp; "
            "<span style='color:#e63c3c'>■</span> kept as it is &nbsp; "
            "<span style='color:#28aaff'>■</span> added by you &nbsp; "
            "<span style='color:#ffaa00'>■</span> a face? (the audit's doubt)</p>"
            "<p>Click a face to keep or hide it. Drag on the photo to add a face the detector missed. "
            "Wheel to zoom, right-drag to pan.</p>"
            "<p>Photos the audit is in doubt about come first: <b>H</b> hides the orange box, <b>D</b> dismisses it, "
            "<b>R</b> goes to the next photo in doubt.</p>"
        )
        legend.setWordWrap(True)
        settings_column.addWidget(legend)
        settings_column.addStretch(1)
        settings_column.addWidget(self.run_button)
        self.training = TrainingPanel(self.store, train_command)
        self.training.useWeights.connect(self._use_weights)
        self.tabs = QTabWidget()
        self.tabs.addTab(settings_tab, "Anonymize")
        self.tabs.addTab(self.training, "Retrain")
        self.tabs.setMinimumWidth(340)

        self.splitter = QSplitter()
        self.splitter.addWidget(self.list)
        self.splitter.addWidget(center)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([280, 700, 380])
        self.setCentralWidget(self.splitter)

        self.progress = QProgressBar()
        self.progress.setMaximumWidth(320)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)
        self.progress.hide()
        self.cancel_button.hide()
        self._show_info()

    def _build_frame_bar(self) -> QWidget:
        """Under the preview, for a video: a slider over its frames and where the shown frame lies."""
        self.frame_slider = QSlider(Qt.Orientation.Horizontal)
        self.frame_slider.setToolTip("Show another frame of the video and the faces found in it (, and . step)")
        self.frame_slider.valueChanged.connect(lambda _value: self._frame_timer.start())
        self.frame_label = QLabel()
        self.frame_label.setMinimumWidth(190)
        # A written video's frames the audit flagged, as time ranges: choosing one shows its first frame.
        self.range_box = QComboBox()
        self.range_box.setToolTip("Frames of the written video the audit flagged a possible face in: choose to look")
        self.range_box.activated.connect(self._range_chosen)
        # Dragging the slider asks for the frame it rests on, not for every frame it passes.
        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.setInterval(120)
        self._frame_timer.timeout.connect(lambda: self.show_frame(self.frame_slider.value()))
        self.frame_bar = QWidget()
        row = QHBoxLayout(self.frame_bar)
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.frame_slider, 1)
        row.addWidget(self.range_box)
        row.addWidget(self.frame_label)
        self.range_box.hide()
        self.frame_bar.hide()
        return self.frame_bar

    def _build_actions(self) -> None:
        def action(text: str, slot, shortcut=None, tip: str | None = None) -> QAction:
            a = QAction(text, self)
            if shortcut is not None:
                keys: list[QKeySequence] = []
                for key in shortcut if isinstance(shortcut, list) else [shortcut]:
                    if isinstance(key, QKeySequence.StandardKey):
                        keys += QKeySequence.keyBindings(key)  # the platform's own keys
                    else:
                        keys.append(key)
                a.setShortcuts(keys)
            if tip:
                a.setStatusTip(tip)
            a.triggered.connect(slot)
            self.addAction(a)
            return a

        self.open_action = action("&Open Photos…", self.open_files, QKeySequence.StandardKey.Open)
        self.open_folder_action = action("Open &Folder…", self.open_folder, QKeySequence("Ctrl+Shift+O"))
        self.save_action = action(
            "&Save Selected",
            lambda: self.anonymize(self.selected_photos()),
            QKeySequence.StandardKey.Save,
            "Anonymize and write the selected photos",
        )
        self.run_action = action("&Anonymize All", lambda: self.anonymize(), QKeySequence("Ctrl+Shift+S"))
        self.cancel_action = action("&Cancel Run", self.cancel, QKeySequence("Esc"))
        self.remove_action = action("&Remove from List", self.remove_selected, QKeySequence.StandardKey.Delete)
        self.clear_action = action("C&lear List", self.clear)
        quit_action = action("&Quit", self.close, QKeySequence.StandardKey.Quit)

        self.next_action = action(
            "&Next Photo", lambda: self.step(1), [QKeySequence("PgDown"), QKeySequence("Ctrl+Right")]
        )
        self.prev_action = action(
            "&Previous Photo", lambda: self.step(-1), [QKeySequence("PgUp"), QKeySequence("Ctrl+Left")]
        )
        self.next_frame_action = action("Next &Frame", lambda: self.step_frame(1), QKeySequence("."))
        self.prev_frame_action = action("Previous F&rame", lambda: self.step_frame(-1), QKeySequence(","))
        self.hide_flag_action = action(
            "&Hide Flagged Face",
            lambda: self.review_flag(hide=True),
            QKeySequence("H"),
            "Hide the possible face the audit flagged (outlined in orange)",
        )
        self.dismiss_flag_action = action(
            "&Dismiss Flag",
            lambda: self.review_flag(hide=False),
            QKeySequence("D"),
            "Leave the flagged place as it is: it is no face",
        )
        self.next_review_action = action(
            "Next Photo to Revie&w",
            self.next_for_review,
            QKeySequence("R"),
            "The next photo the audit is in doubt about",
        )
        self.toggle_action = action(
            "&Toggle Original", self.toggle_original, [QKeySequence("Space"), QKeySequence("O")]
        )
        self.mode_actions: dict[ViewMode, QAction] = {}
        group = QActionGroup(self)
        for mode, text, key in (
            (ViewMode.ORIGINAL, "&Original", "1"),
            (ViewMode.ANONYMIZED, "&Anonymized", "2"),
            (ViewMode.SPLIT, "&Split View", "3"),
        ):
            a = action(text, lambda _=False, m=mode: self.set_mode(m), QKeySequence(key))
            a.setCheckable(True)
            group.addAction(a)
            self.mode_actions[mode] = a
        zoom_in = action(
            "Zoom &In", lambda: self.preview.zoom_by(1.25), [QKeySequence.StandardKey.ZoomIn, QKeySequence("Ctrl+=")]
        )
        zoom_out = action("Zoom &Out", lambda: self.preview.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut)
        zoom_fit = action("&Fit to Window", self.preview.fit, QKeySequence("Ctrl+0"))
        zoom_100 = action("&Actual Size", lambda: self.preview.set_zoom(1.0), QKeySequence("Ctrl+1"))
        self.retrain_action = action("&Retrain the Generator…", lambda: self.tabs.setCurrentWidget(self.training))
        about = action("&About Anonymizer", self.about, QKeySequence.StandardKey.HelpContents)

        menu = self.menuBar().addMenu("&File")
        menu.addActions([self.open_action, self.open_folder_action])
        self.recent_menu = menu.addMenu("Open &Recent")
        menu.addSeparator()
        menu.addActions([self.save_action, self.run_action, self.cancel_action])
        menu.addSeparator()
        menu.addActions([self.remove_action, self.clear_action])
        menu.addSeparator()
        menu.addAction(quit_action)
        menu = self.menuBar().addMenu("&View")
        menu.addActions([self.prev_action, self.next_action])
        menu.addSeparator()
        menu.addAction(self.toggle_action)
        menu.addActions(list(self.mode_actions.values()))
        menu.addSeparator()
        menu.addActions([zoom_in, zoom_out, zoom_fit, zoom_100])
        menu = self.menuBar().addMenu("&Review")
        menu.addActions([self.hide_flag_action, self.dismiss_flag_action, self.next_review_action])
        menu = self.menuBar().addMenu("&Tools")
        menu.addAction(self.retrain_action)
        menu = self.menuBar().addMenu("&Help")
        menu.addAction(about)

        style = self.style()
        for a, icon in (
            (self.open_action, QStyle.StandardPixmap.SP_DialogOpenButton),
            (self.open_folder_action, QStyle.StandardPixmap.SP_DirOpenIcon),
            (self.prev_action, QStyle.StandardPixmap.SP_ArrowBack),
            (self.next_action, QStyle.StandardPixmap.SP_ArrowForward),
            (self.save_action, QStyle.StandardPixmap.SP_DialogSaveButton),
            (self.run_action, QStyle.StandardPixmap.SP_MediaPlay),
            (self.cancel_action, QStyle.StandardPixmap.SP_MediaStop),
            (about, QStyle.StandardPixmap.SP_MessageBoxInformation),
        ):
            a.setIcon(style.standardIcon(icon))
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addActions([self.open_action, self.open_folder_action])
        toolbar.addSeparator()
        toolbar.addActions([self.prev_action, self.next_action])
        toolbar.addSeparator()
        toolbar.addActions([zoom_fit, zoom_100])
        toolbar.addSeparator()
        toolbar.addActions([self.save_action, self.run_action])
        self._rebuild_recent()

    # == settings kept between runs ================================================
    def _restore(self) -> None:
        geometry = self.store.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        splitter = self.store.value("window/splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
        mode = self.store.value("view/mode", ViewMode.ORIGINAL.value)
        self.set_mode(ViewMode(mode) if mode in {m.value for m in ViewMode} else ViewMode.ORIGINAL)

    def _save(self) -> None:
        self.store.setValue("window/geometry", self.saveGeometry())
        self.store.setValue("window/splitter", self.splitter.saveState())
        self.store.setValue("view/mode", self.preview.mode.value)
        self.settings.save(self.store)
        self.store.sync()

    def recent_folders(self) -> list[str]:
        value = self.store.value("recent/folders", [])
        if isinstance(value, str):  # QSettings gives a lone string for a one-item list
            value = [value]
        return [str(v) for v in value or []]

    def _remember_folder(self, folder: Path) -> None:
        folders = [str(folder)] + [f for f in self.recent_folders() if f != str(folder)]
        self.store.setValue("recent/folders", folders[:MAX_RECENT])
        self._rebuild_recent()

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        folders = self.recent_folders()
        for i, folder in enumerate(folders):
            a = self.recent_menu.addAction(f"&{i + 1}  {folder}")
            a.triggered.connect(lambda _=False, f=folder: self.add_paths([Path(f)]))
            a.setEnabled(Path(folder).is_dir())
        if not folders:
            self.recent_menu.addAction("No recent folders").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Menu").triggered.connect(
                lambda: (self.store.setValue("recent/folders", []), self._rebuild_recent())
            )

    # == bringing photos in ========================================================
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    def open_files(self) -> None:
        photos = " ".join(f"*{ext}" for ext in IMAGE_EXTENSIONS)
        videos = " ".join(f"*{ext}" for ext in VIDEO_EXTENSIONS)
        files, _ = QFileDialog.getOpenFileNames(
            self,
            "Open Photos and Videos",
            self._last_dir(),
            f"Photos and videos ({photos} {videos});;Photos ({photos});;Videos ({videos});;All files (*)",
        )
        if files:
            self.store.setValue("recent/last_dir", str(Path(files[0]).parent))
            self.add_paths([Path(f) for f in files])

    def open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a Folder of Photos", self._last_dir())
        if folder:
            self.add_paths([Path(folder)])

    def _last_dir(self) -> str:
        return str(self.store.value("recent/last_dir", str(Path.home())))

    def add_paths(self, paths: list[Path]) -> list[Photo]:
        """Add files and folders (searched recursively, photos chosen by extension as the CLI does)."""
        photos: list[Photo] = []
        for path in paths:
            path = Path(os.path.abspath(path))
            if path.is_dir():
                self._remember_folder(path)
                self.store.setValue("recent/last_dir", str(path))
                for folder, dirnames, filenames in os.walk(path):
                    dirnames.sort()
                    photos += [Photo(Path(folder, n), path) for n in sorted(filenames) if _wanted(n)]
            else:
                photo = Photo(path, path)
                if not path.exists():
                    photo.status, photo.error = ERROR, "no such file"
                elif not _wanted(path):
                    photo.status = ERROR
                    photo.error = (
                        f"not a supported photo or video type (use one of {' '.join(IMAGE_EXTENSIONS)}, "
                        f"{' '.join(VIDEO_EXTENSIONS)})"
                    )
                photos.append(photo)
        new = self.model.add(photos)
        for photo in new:  # every thumbnail first, then the faces: the list fills in quickly
            if photo.status != ERROR:
                self._request(photo, detect=False)
        for photo in new:
            if photo.status != ERROR:
                self._request(photo, thumb=False)
        if new:
            self.statusBar().showMessage(f"Added {_count(new)}", 4000)
            if self.current is None:
                self.list.setCurrentIndex(self.model.index(self.model.row_of(new[0])))
        self._update_actions()
        return new

    def _request(
        self,
        photo: Photo,
        urgent: bool = False,
        redetect: bool = False,
        detect: bool = True,
        thumb: bool | None = None,
        want_frame: bool = False,
        written: Path | None = None,
    ) -> None:
        want_image = photo is self.current and (photo.key not in self.images or want_frame)
        thumb = photo.thumbnail is None if thumb is None else thumb
        detect = detect and (redetect or photo.detected is None)
        if not (want_image or detect or thumb or written):
            return
        if urgent and (want_image or detect):
            self.loader.forget({photo.key})  # the urgent job does what the queued one would
        self.loader.request(
            photo.key,
            photo.path,
            thumb=thumb,
            detect=detect,
            want_image=want_image,
            threshold=self.settings.threshold,
            detector=self.settings.detector,
            generation=self.generation,
            urgent=urgent,
            frame=photo.frame,
            written=written,
            mask_scale=0.0 if photo.is_video else self.settings.mask_scale,
        )

    def remove_selected(self) -> None:
        rows = [i.row() for i in self.list.selectionModel().selectedIndexes()]
        if not rows or self.running:
            return
        keys = {self.model.photos[r].key for r in rows}
        self.loader.forget(keys)
        for key in keys:
            self.images.pop(key, None)
        self.model.remove(rows)
        if self.current is not None and self.current.key in keys:
            self.current = None
            index = self.model.index(min(min(rows), self.model.rowCount() - 1))
            if index.isValid():
                self.list.setCurrentIndex(index)
            else:
                self._select(None)
        self._update_actions()

    def clear(self) -> None:
        if self.running:
            return
        self.loader.forget()
        self.model.clear()
        self.images.clear()
        self._select(None)
        self._update_actions()

    # == loader results ============================================================
    def _thumbnail_ready(self, key: int, image, width: int, height: int) -> None:
        photo = self.model.find(key)
        if photo is not None:
            photo.thumbnail, photo.width, photo.height = image, width, height
            self.model.changed(photo)

    def _video_info(self, key: int, frames: int, fps: float) -> None:
        photo = self.model.find(key)
        if photo is not None and (photo.frames, photo.fps) != (frames, fps):
            photo.frames, photo.fps = frames, fps
            if photo is self.current:
                self._show_frame_bar()

    def _image_ready(self, key: int, rgb: np.ndarray, frame: int) -> None:
        photo = self.model.find(key)
        if photo is None or photo.frame != frame:
            return  # a frame of a video the user has since moved away from
        if photo.is_video and key in self.images and self.preview.key == key:
            self.preview.show_frame(to_qimage(rgb))  # another frame: same size, same zoom
        self.images[key] = rgb
        self.images.move_to_end(key)
        while len(self.images) > IMAGE_CACHE:
            self.images.popitem(last=False)
        if self.current is not None and self.current.key == key:
            self._show_current()

    def _faces_ready(self, key: int, faces: list, generation: int, frame: int, flags: list) -> None:
        photo = self.model.find(key)
        if photo is None or generation != self.generation or frame != photo.frame:
            return
        if photo.detected is not None and photo.generation == generation:
            return  # found already (by the run, or by a job queued twice)
        photo.set_detected(faces)
        photo.generation = generation
        photo.status, photo.error = FACES, None
        if not photo.is_video:
            photo.flags = list(flags)
            self.model.raise_for_review(photo)  # the photos in doubt come first
        self.model.changed(photo)
        if photo is self.current:
            self._show_faces()
            self._request_preview()

    def _load_failed(self, key: int, message: str) -> None:
        photo = self.model.find(key)
        if photo is None:
            return
        photo.status, photo.error = ERROR, message
        self.model.changed(photo)
        if photo is self.current:
            self._show_current()

    # == the selected photo ========================================================
    def selected_photos(self) -> list[Photo]:
        rows = sorted(i.row() for i in self.list.selectionModel().selectedIndexes())
        return [self.model.photos[r] for r in rows]

    def select_row(self, row: int) -> None:
        index = self.model.index(row)
        if index.isValid():
            self.list.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def step(self, delta: int) -> None:
        if self.model.rowCount() == 0:
            return
        row = self.list.currentIndex().row()
        self.select_row(min(max(row + delta, 0), self.model.rowCount() - 1) if row >= 0 else 0)

    def _select(self, photo: Photo | None) -> None:
        self.current = photo
        self.flag = -1  # the first open flag, until one is clicked
        self._show_frame_bar()
        self._show_current()
        if photo is not None and photo.status != ERROR:
            self._request(photo, urgent=True)

    def _show_current(self) -> None:
        photo = self.current
        if photo is None:
            self.preview.empty_text = "Drop photos or folders here\n\nor use File › Open (Ctrl+O)"
            self.preview.show_photo(None)
        elif photo.status == ERROR and photo.key not in self.images:
            self.preview.empty_text = f"{photo.relative}\n\ncannot be used: {photo.error}"
            self.preview.show_photo(None)
        elif photo.key in self.images:
            if self.preview.photo is None or self.preview.key != photo.key:
                self.preview.show_photo(to_qimage(self.images[photo.key]), photo.key)
            self._show_faces()
            self._request_preview()
        else:
            self.preview.empty_text = f"Loading {photo.relative}…"
            self.preview.show_photo(None)
        self._show_info()

    def _show_faces(self) -> None:
        photo = self.current
        if photo is None or self.preview.photo is None:
            return
        if _written_video(photo):  # what the written file hides in this frame, track by track
            self.preview.set_faces(self._track_items(photo))
            self._show_info()
            return
        items = []
        for i, face in enumerate(photo.detected or []):
            kind = FaceKind.EXCLUDED if i in photo.excluded else FaceKind.INCLUDED
            items.append((_rect(face.box), kind, i, f"{face.score:.2f}"))
        for i, face in enumerate(photo.added):
            label = (
                "added · every frame"
                if photo.is_video
                else "hidden after review"
                if face.source == "review"
                else "added"
            )
            items.append((_rect(face.box), FaceKind.ADDED, i, label))
        current = self._current_flag()
        for i in photo.open_flags():
            flag = photo.flags[i]
            items.append((_rect(flag.box), FaceKind.FLAGGED, i, f"a face? {flag.score:.2f}", i == current))
        self.preview.set_faces(items)
        self._show_info()

    def _track_items(self, photo: Photo) -> list:
        """A written video's frame: its tracks (hidden, or kept visible), as the file has them and as the
        user has since marked them; the boxes drawn to hide in every frame."""
        items = []
        for track in (photo.tracks or []) + photo.kept_tracks:
            if track["id"] < 0:
                continue  # a drawn box: shown below from the photo's own list
            for _, box in boxes_at([track], photo.frame):
                kept = photo.track_kept(track)
                label = f"track {track['id']}" + (" · kept" if kept else "")
                items.append((_rect(box), FaceKind.EXCLUDED if kept else FaceKind.INCLUDED, track["id"], label))
        for i, face in enumerate(photo.added):
            items.append((_rect(face.box), FaceKind.ADDED, i, "added · every frame"))
        for i, r in enumerate(photo.flagged_ranges):  # the audit's best find of a range, in the frames it spans
            if r["first_frame"] <= photo.frame <= r["last_frame"]:
                items.append((_rect(r["box"]), FaceKind.FLAGGED, i, f"a face? {r['score']:.2f} (audit)"))
        return items

    def _show_info(self) -> None:
        photo = self.current
        if photo is None:
            n = self.model.rowCount()
            self.info.setText("No photos yet" if n == 0 else _count(self.model.photos))
            self.setWindowTitle("Anonymizer")
            return
        text = f"{photo.relative}"
        if photo.width:
            text += f"  ·  {photo.width}×{photo.height}"
        text += f"  ·  {photo.status_text()}"
        if _written_video(photo):
            text += "  ·  showing the written file and the faces it hides"
            if photo.status != DONE:
                text += "; changed since: write it again"
        elif photo.is_video:
            text += "  ·  click a face: that person stays visible throughout"
        elif photo.needs_review:
            text += "  ·  orange: the audit's doubts; H hides one, D dismisses it, R goes to the next photo"
        self.info.setText(text)
        self.info.setToolTip(text)  # the whole line, where the window is too narrow for it
        self.setWindowTitle(f"{photo.path.name} — Anonymizer")

    # == a video's frames =========================================================
    def _show_frame_bar(self) -> None:
        photo = self.current
        video = photo is not None and photo.is_video
        self.frame_bar.setVisible(video)
        if not video:
            return
        self.frame_slider.blockSignals(True)
        self.frame_slider.setRange(0, max(photo.frames - 1, photo.frame))
        self.frame_slider.setValue(photo.frame)
        self.frame_slider.blockSignals(False)
        self.frame_slider.setEnabled(photo.frames > 1)
        self._show_ranges(photo)
        text = f"frame {photo.frame + 1}" + (f" of {photo.frames}" if photo.frames else "")
        if photo.fps:
            text += f"  ·  {_timestamp(photo.frame / photo.fps)}"
        self.frame_label.setText(text)

    def _show_ranges(self, photo: Photo) -> None:
        """The written video's flagged ranges in the box beside the slider (hidden when there are none)."""
        ranges = photo.flagged_ranges if _written_video(photo) else []
        self.range_box.setVisible(bool(ranges))
        if not ranges:
            return
        self.range_box.blockSignals(True)
        self.range_box.clear()
        self.range_box.addItem(f"{len(ranges)} flagged range{'s' if len(ranges) != 1 else ''}…", None)
        for r in ranges:
            when = (
                f"{_timestamp(r['start_s'])}–{_timestamp(r['end_s'])}"
                if "start_s" in r
                else f"frames {r['first_frame'] + 1}–{r['last_frame'] + 1}"
            )
            self.range_box.addItem(f"{when}  ·  a face? {r['score']:.2f}", r["first_frame"])
        here = next((i + 1 for i, r in enumerate(ranges) if r["first_frame"] <= photo.frame <= r["last_frame"]), 0)
        self.range_box.setCurrentIndex(here)
        self.range_box.blockSignals(False)

    def _range_chosen(self, index: int) -> None:
        frame = self.range_box.itemData(index)
        if frame is not None:
            self.show_frame(int(frame))

    def show_frame(self, index: int) -> None:
        """Show frame ``index`` of the selected video, and look for its faces (as the run will in every frame)."""
        photo = self.current
        if photo is None or not photo.is_video or photo.status == ERROR:
            return
        index = max(0, min(index, photo.frames - 1)) if photo.frames else max(0, index)
        if index == photo.frame:
            return
        photo.frame = index
        if _written_video(photo):  # the written file's frame and its tracks; nothing to detect
            self._show_frame_bar()
            self._show_faces()
            self.preview.set_anonymized(None)  # not the previous frame's pixels while this one is read
            self._request(photo, urgent=True, want_frame=True, thumb=False, detect=False)
            return
        photo.detected, photo.generation = None, -1
        self.model.changed(photo)
        self._show_frame_bar()
        self._show_faces()
        self.preview.set_anonymized(None)
        self._request(photo, urgent=True, want_frame=True, thumb=False)

    def step_frame(self, delta: int) -> None:
        if self.current is not None and self.current.is_video:
            self.show_frame(self.current.frame + delta)

    def _face_clicked(self, kind: FaceKind, index: int) -> None:
        photo = self.current
        if photo is None:
            return
        if kind is FaceKind.FLAGGED and photo.is_video:
            self.statusBar().showMessage(
                "The audit found what may be a face here in these frames; if it is one, draw a box over it and "
                "write the video again",
                8000,
            )
            return
        if kind is FaceKind.FLAGGED:  # choose the flag the review keys act on
            self.flag = index
            self._show_faces()
            self.statusBar().showMessage("H hides this possible face, D dismisses it (it stays as it is)", 6000)
            return
        if kind is FaceKind.ADDED:
            del photo.added[index]
        elif _written_video(photo):  # a track of the written file: keep it visible, or hide it again
            track = next((t for t in (photo.tracks or []) + photo.kept_tracks if t["id"] == index), None)
            if track is None:
                return
            photo.toggle_track(track)
            kept = photo.track_kept(track)
            self.statusBar().showMessage(
                f"Track {index} {'stays visible' if kept else 'is hidden'} in every frame it spans once the video "
                "is written again",
                6000,
            )
        else:
            photo.toggle(index)
            if photo.is_video:
                kept = index in photo.excluded
                self.statusBar().showMessage(
                    "This person stays visible in every frame the tracker follows them through"
                    if kept
                    else "This person is hidden again",
                    6000,
                )
        self._edited(photo)

    def _box_drawn(self, rect: QRectF) -> None:
        photo = self.current
        if photo is not None and photo.is_video and self.preview.photo is not None:
            photo.add_box((rect.left(), rect.top(), rect.right(), rect.bottom()))
            self.statusBar().showMessage("This box is hidden in every frame of the video, where it is drawn", 6000)
            self._edited(photo)
            return
        if photo is None or photo.detected is None:
            self.statusBar().showMessage("Wait until the faces are found before adding one", 3000)
            return
        photo.add_box((rect.left(), rect.top(), rect.right(), rect.bottom()))
        self._edited(photo)

    # == the review of what the audit is in doubt about ============================
    def _current_flag(self) -> int | None:
        """The current photo's flag the review keys act on: the one clicked, else the first still open."""
        photo = self.current
        open_flags = photo.open_flags() if photo is not None else []
        if not open_flags:
            return None
        return self.flag if self.flag in open_flags else open_flags[0]

    def review_flag(self, hide: bool) -> None:
        """Hide (``hide``) or dismiss the current flag; when the photo has none left, go on to the next photo
        that has some."""
        photo = self.current
        index = self._current_flag()
        if photo is None or index is None:
            self.next_for_review()
            return
        if hide:
            photo.hide_flag(index)
            said = "Hidden: it is anonymized like a box you drew"
        else:
            photo.dismiss_flag(index)
            said = "Dismissed: it stays as it is, and the report says you looked"
        left = len(photo.open_flags())
        self.statusBar().showMessage(f"{said}; {left} left in this photo" if left else said, 6000)
        self._edited(photo)
        if not left and self.model.next_for_review(photo) is not None:
            self.next_for_review()

    def next_for_review(self) -> None:
        photo = self.model.next_for_review(self.current)
        if photo is None:
            if self.current is None or not self.current.needs_review:
                self.statusBar().showMessage("Nothing left to look at: the audit has no doubts", 4000)
            return
        self.select_row(self.model.row_of(photo))

    def _edited(self, photo: Photo) -> None:
        if photo.status == DONE:
            photo.status = FACES  # the file written no longer matches the review
        self.model.changed(photo)
        self._show_faces()
        self._request_preview()

    # == view modes ================================================================
    def set_mode(self, mode: ViewMode) -> None:
        self.preview.set_mode(mode)
        self.mode_buttons[mode].setChecked(True)
        if hasattr(self, "mode_actions"):
            self.mode_actions[mode].setChecked(True)

    def toggle_original(self) -> None:
        self.set_mode(ViewMode.ANONYMIZED if self.preview.mode is ViewMode.ORIGINAL else ViewMode.ORIGINAL)

    # == settings and the live preview =============================================
    def _settings_changed(self, settings: AnonymizeSettings) -> None:
        old = getattr(self, "settings", None)
        self.settings = settings
        settings.save(self.store)
        if old is None:
            return
        if settings.threshold != old.threshold or settings.detector != old.detector:
            self._redetect()
        self._request_preview()

    def _redetect(self) -> None:
        self.generation += 1
        self.loader.forget()
        if self.current is not None and self.current.status != ERROR:
            self._request(self.current, urgent=True, redetect=True)
        for photo in self.model.photos:
            if photo is not self.current and photo.status != ERROR:
                self._request(photo, redetect=True)

    def _request_preview(self) -> None:
        photo = self.current
        if photo is not None and _written_video(photo):  # the anonymized view is the written file itself
            self.preview.set_anonymized(None)
            self._request(photo, urgent=True, detect=False, thumb=False, written=photo.output)
            return
        if photo is None or photo.key not in self.images or photo.detected is None:
            return
        self.preview_request += 1
        self.preview.set_anonymized(None)
        self.previewer.request(
            self.preview_request,
            photo.key,
            self.images[photo.key],
            photo.faces(),
            self.settings,
            default_shape=VIDEO_MASK_SHAPE if photo.is_video else DEFAULT_MASK_SHAPE,
        )

    def _written_ready(self, key: int, rgb: np.ndarray, frame: int) -> None:
        photo = self.current
        if photo is not None and photo.key == key and photo.frame == frame and _written_video(photo):
            self.preview.set_anonymized(to_qimage(rgb))

    def _preview_ready(self, key: int, request_id: int, image) -> None:
        if request_id == self.preview_request and self.current is not None and self.current.key == key:
            self.preview.set_anonymized(image)

    def _preview_failed(self, key: int, request_id: int, message: str) -> None:
        if request_id == self.preview_request:
            self.statusBar().showMessage(f"Preview failed: {message}", 8000)

    def _use_weights(self, path: str) -> None:
        self.settings_panel.set_weights(path)
        self.tabs.setCurrentIndex(0)
        self.statusBar().showMessage(f"Anonymizing with the generator {path}", 6000)

    # == the run ===================================================================
    @property
    def running(self) -> bool:
        return self.run_thread is not None

    def anonymize(self, photos: list[Photo] | None = None) -> bool:
        """Write ``photos`` (default: all) in a background thread; False if it could not start."""
        if self.running:
            return False
        photos = self.model.photos if photos is None else photos
        if not photos:
            self.statusBar().showMessage("No photos to anonymize: drop some on the window first", 4000)
            return False
        if not self.settings.output_dir:
            folder = QFileDialog.getExistingDirectory(self, "Where should the anonymized photos go?", self._last_dir())
            if not folder:
                return False
            self.settings_panel.set_output_dir(folder)
        items = [
            RunItem(p.key, p.path, p.root, p.video_edits(), [])
            if p.is_video
            else RunItem(p.key, p.path, p.root, p.run_faces(), p.excluded_faces())
            for p in photos
        ]
        thread = RunThread(items, self.settings, self.detectors, self)
        thread.progress.connect(self._run_progress)
        thread.frameProgress.connect(self._frame_progress)
        thread.entryDone.connect(self._run_entry)
        thread.done.connect(self._run_done)
        self.run_thread = thread
        self.last_summary = None
        self.progress.setRange(0, len(items))
        self.progress.setValue(0)
        noun = "videos" if all(p.is_video for p in photos) else "files" if any(p.is_video for p in photos) else "photos"
        self.progress.setFormat(f"%v / %m {noun}")
        self.progress.show()
        self.cancel_button.setEnabled(True)
        self.cancel_button.show()
        self.statusBar().showMessage(f"Anonymizing {_count(photos)} into {self.settings.output_dir}…")
        self._update_actions()
        thread.start()
        return True

    def cancel(self) -> None:
        if self.run_thread is not None:
            self.run_thread.cancel()
            self.cancel_button.setEnabled(False)
            self.statusBar().showMessage("Cancelling after the current photo…")

    def _run_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(total)
        self.progress.setValue(done)

    def _frame_progress(self, key: int, done: int, total: int) -> None:
        """A video being written: its frames in the status bar (``total`` 0 when its length is unknown)."""
        photo = self.model.find(key)
        name = photo.relative if photo is not None else "video"
        doing = "Anonymizing"
        if photo is not None and photo.frames and total == 2 * photo.frames:  # kept tracks: searched, then written
            total = photo.frames
            doing, done = ("Searching", done) if done <= total else ("Writing", done - total)
        of = f" of {total}" if total else ""
        self.statusBar().showMessage(f"{doing} {name}: frame {done}{of}…")

    def _run_entry(self, key: int, entry) -> None:
        photo = self.model.find(key)
        if photo is None:
            return
        if entry.status == "ok":
            photo.status, photo.error = DONE, None
            photo.output = Path(self.settings.output_dir) / entry.output
            if photo.detected is None and not photo.is_video:
                photo.set_detected([f for f in entry.faces if f.source not in ("user", "review", "audit")])
                photo.generation = self.generation
            if not photo.is_video:  # what the audit found in the written file; those dismissed stay dismissed
                photo.flags = list(entry.residuals)
                self.model.raise_for_review(photo)
            if photo.is_video:
                photo.tracks = list(entry.tracks or [])
                photo.kept_tracks = list(entry.kept_tracks or [])
                photo.flagged_ranges = list(entry.review or [])
                self.model.raise_for_review(photo)
                if entry.unmatched_keeps:
                    n = entry.unmatched_keeps
                    self.statusBar().showMessage(
                        f"{photo.relative}: {n} face{'s' if n != 1 else ''} marked to keep matched no track and "
                        f"{'were' if n != 1 else 'was'} hidden",
                        10000,
                    )
        else:
            photo.status, photo.error = ERROR, entry.error
        self.model.changed(photo)
        if photo is self.current:
            self._show_frame_bar()
            self._show_faces()
            self._request_preview()
            self._show_info()

    def _run_done(self, summary: RunSummary) -> None:
        thread = self.run_thread
        self.run_thread = None
        if thread is not None:
            thread.wait()
            thread.deleteLater()
        self.last_summary = summary
        self.cancel_button.hide()
        QTimer.singleShot(3000, self, lambda: self.run_thread is None and self.progress.hide())
        text = summary.text()
        if summary.report is not None:
            text += f" · report: {summary.report}"
        self.statusBar().showMessage(text)
        self._update_actions()

    def _update_actions(self) -> None:
        has = self.model.rowCount() > 0
        idle = not self.running
        for a in (self.save_action, self.run_action):
            a.setEnabled(has and idle)
        self.run_button.setEnabled(has and idle)
        self.cancel_action.setEnabled(not idle)
        self.remove_action.setEnabled(has and idle)
        self.clear_action.setEnabled(has and idle)
        self._show_info()

    # == the rest ==================================================================
    def about(self) -> None:
        AboutDialog(self).exec()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.running:
            answer = QMessageBox.question(
                self, "Anonymizer", "Photos are still being written. Stop after the current one and quit?"
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop every worker: the run (after its current photo), loading, the preview, training."""
        if self._shut:
            return
        self._shut = True
        self._save()
        if self.run_thread is not None:
            self.run_thread.cancel()
            self.run_thread.wait()
            self.run_thread = None
        self.loader.stop()
        self.previewer.stop()
        self.training.shutdown()
        main_thread_collector().release()


def _wanted(path) -> bool:
    """A photo or a video, by extension, as the CLI chooses them."""
    return is_image_path(path) or is_video_path(path)


def _written_video(photo: Photo) -> bool:
    """A video written in this session: the review shows its file and the tracks it hides (also once the user
    has changed what to keep since, until it is written again)."""
    return photo.is_video and photo.status in (DONE, FACES) and photo.tracks is not None and photo.output is not None


def _count(photos: list[Photo]) -> str:
    """'3 photos', '1 video', '2 photos and 1 video'."""
    videos = sum(p.is_video for p in photos)
    parts = [(len(photos) - videos, "photo"), (videos, "video")]
    said = [f"{n} {what}{'s' if n != 1 else ''}" for n, what in parts if n]
    return " and ".join(said) or "0 photos"


def _timestamp(seconds: float) -> str:
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{seconds:05.2f}" if hours else f"{minutes}:{seconds:05.2f}"


def _rect(box) -> QRectF:
    x1, y1, x2, y2 = (float(v) for v in box)
    return QRectF(x1, y1, x2 - x1, y2 - y1)
