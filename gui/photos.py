"""The photos in the window: where each came from, its faces, the user's edits, its status."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from anonymizer.gui.images import THUMBNAIL_SIZE
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap

from anonymizer import Face
from anonymizer.audit import INSIDE, Residual, Reviewed, inside_share
from anonymizer.detection import box_iou
from anonymizer.faces import estimate_landmarks
from anonymizer.tracking import boxes_at
from anonymizer.video import KEEP_MATCH_IOU, VideoEdits, is_video_path

PENDING, FACES, DONE, ERROR = "pending", "faces", "done", "error"
FLAG_COLOR = QColor(255, 170, 0)  # what the audit is in doubt about: in the list and on the photo
_keys = itertools.count(1)


@dataclass(eq=False)
class Photo:
    """One photo in the list.

    ``root`` is what was opened: the folder its output and report paths are
    relative to, or the photo itself when it was opened on its own (as with
    the CLI's ``--input``).
    """

    path: Path
    root: Path
    key: int = field(default_factory=lambda: next(_keys))
    status: str = PENDING
    detected: list[Face] | None = None  # None until the detector has run
    generation: int = -1  # which detector settings found ``detected``
    excluded: set[int] = field(default_factory=set)  # indices into ``detected`` left as they are
    # Boxes the user drew (in a video: hidden in every frame), and flags they hid (source "review").
    added: list[Face] = field(default_factory=list)
    # Of a video: (frame, box) pointers at faces whose whole track stays visible (VideoEdits.keep); ``excluded``
    # then marks the shown frame's detections that a pointer of that frame points at.
    kept: list[tuple[int, np.ndarray]] = field(default_factory=list)
    error: str | None = None
    output: Path | None = None
    width: int = 0
    height: int = 0
    thumbnail: QImage | None = None
    frame: int = 0  # of a video: the frame shown, whose faces ``detected`` holds
    frames: int = 0  # of a video: how many it has (0 until known, or when the file does not say)
    fps: float = 0.0
    tracks: list[dict] | None = None  # of a written video: the report's tracks (what its file hides where)
    kept_tracks: list[dict] = field(default_factory=list)  # of a written video: the tracks it left visible
    # Of a photo: what the audit found outside the faces to hide (on the photo when its faces were found; on the
    # written file after a run), and the boxes of those the user said are no face (they stay visible).
    flags: list[Residual] = field(default_factory=list)
    dismissed: list[np.ndarray] = field(default_factory=list)
    # Of a written video: the audit's flagged frames as time ranges (the report's "flagged_ranges").
    flagged_ranges: list[dict] = field(default_factory=list)

    @property
    def relative(self) -> str:
        if self.root == self.path:  # a file opened on its own
            return self.path.name
        try:
            return self.path.relative_to(self.root).as_posix()
        except ValueError:
            return self.path.name

    @property
    def is_video(self) -> bool:
        return is_video_path(self.path)

    @property
    def edited(self) -> bool:
        return bool(self.excluded or self.added or self.kept or self.dismissed)

    def open_flags(self) -> list[int]:
        """Indices into ``flags`` still waiting for the user: neither dismissed nor inside a face to hide (a flag
        the user hid, or covered with a box of their own, is no longer in doubt)."""
        if not self.flags:
            return []
        faces = self.faces() or []
        covered = inside_share(np.stack([r.box for r in self.flags]), np.array([f.box for f in faces]).reshape(-1, 4))
        gone = _matching(self.dismissed, [r.as_face() for r in self.flags]) if self.dismissed else set()
        return [i for i in range(len(self.flags)) if covered[i] < INSIDE and i not in gone]

    @property
    def needs_review(self) -> bool:
        if self.is_video:
            return bool(self.flagged_ranges)
        return bool(self.open_flags())

    def hide_flag(self, index: int) -> None:
        """The user says the audit's find ``index`` is a face: it is hidden like a box they drew."""
        face = self.flags[index].as_face()
        face.source = "review"  # as one the user drew, but the report says it came from a flag
        self.added.append(face)

    def dismiss_flag(self, index: int) -> None:
        """The user says the audit's find ``index`` is no face: it stays as it is, and the run is told."""
        self.dismissed.append(self.flags[index].box.copy())

    def run_faces(self) -> list[Face] | Reviewed | None:
        """What the run is given for this photo: its faces, with what the user chose to leave visible (the
        audit's finds they dismissed, and the faces they kept) when there is any, so that the run's audit leaves
        those as they are too."""
        faces = self.faces()
        visible = self.dismissed + [f.box for f in self.excluded_faces()]
        if faces is None or not visible:
            return faces
        return Reviewed(tuple(faces), tuple(tuple(float(v) for v in b) for b in visible))

    def faces(self) -> list[Face] | None:
        """The faces to hide, the user's edits applied (copies: the pipeline writes into them)."""
        if self.detected is None:
            return None
        kept = [f for i, f in enumerate(self.detected) if i not in self.excluded]
        return [dataclasses.replace(f) for f in kept + self.added]

    def excluded_faces(self) -> list[Face]:
        return [f for i, f in enumerate(self.detected or []) if i in self.excluded]

    def set_detected(self, faces: list[Face]) -> None:
        """New detections (e.g. at another threshold); a face excluded before stays excluded."""
        if self.is_video:  # the faces of the frame shown: marked as the keep pointers of that frame say
            self.detected = list(faces)
            self._mark_kept()
            return
        old = self.excluded_faces()
        self.detected = list(faces)
        self.excluded = _matching([f.box for f in old], self.detected)

    def toggle(self, index: int) -> None:
        if self.is_video:  # a video's face: its whole track kept visible, or hidden again
            box = self.detected[index].box
            if index in self.excluded:
                self.kept = [(f, b) for f, b in self.kept if f != self.frame or _iou(b, box) < 0.5]
            else:
                self.kept.append((self.frame, box.copy()))
            self._mark_kept()
            return
        self.excluded ^= {index}

    def _mark_kept(self) -> None:
        self.excluded = _matching([b for f, b in self.kept if f == self.frame], self.detected or [])

    def track_kept(self, track: dict) -> bool:
        """Whether a keep pointer points at ``track`` (a report's track of this video), as the run matches them."""
        for frame, box in self.kept:
            at = boxes_at([track], frame)
            if at and _iou(at[0][1], box) >= KEEP_MATCH_IOU:
                return True
        return False

    def toggle_track(self, track: dict) -> None:
        """Keep a written video's track visible (a pointer at its box in the frame shown), or hide it again."""
        if self.track_kept(track):
            self.kept = [
                (f, b) for f, b in self.kept if not (at := boxes_at([track], f)) or _iou(at[0][1], b) < KEEP_MATCH_IOU
            ]
        else:
            here = boxes_at([track], self.frame)
            if not here:
                return  # not in the frame shown
            self.kept.append((self.frame, here[0][1]))
        self._mark_kept()

    def video_edits(self) -> VideoEdits | None:
        """A video's edits for the run (None: none)."""
        keep = tuple((int(f), tuple(float(v) for v in b)) for f, b in self.kept)
        add = tuple(tuple(float(v) for v in face.box) for face in self.added)
        return VideoEdits(keep=keep, add=add) if keep or add else None

    def add_box(self, box: tuple[float, float, float, float]) -> None:
        box = np.asarray(box, dtype=np.float32)
        self.added.append(Face(box, score=1.0, landmarks=estimate_landmarks(box), source="user"))

    def status_text(self) -> str:
        if self.status == ERROR:
            return f"Error: {self.error}"
        if self.detected is None:
            return "Looking for faces…"
        if self.is_video:
            return self._video_status()
        n = len(self.detected) - len(self.excluded) + len(self.added)
        text = "No faces" if n == 0 else f"{n} face{'s' if n != 1 else ''}"
        text = _with_edits(
            text,
            f"{len(self.excluded)} kept" if self.excluded else "",
            f"{len(self.added)} added" if self.added else "",
        )
        flags = len(self.open_flags())
        if flags:
            text += f" · {flags} to look at"
        if self.status == DONE:
            text = f"Done · {text.lower() if n == 0 else text}"
        return text

    def _video_status(self) -> str:
        n = len(self.detected or [])
        text = "No faces in this frame" if n == 0 else f"{n} face{'s' if n != 1 else ''} in this frame"
        if self.status == DONE and self.tracks is not None:
            hidden = sum(1 for t in self.tracks if t["id"] >= 0)
            text = f"Done · {hidden} track{'s' if hidden != 1 else ''} hidden"
        return _with_edits(
            text,
            f"{len(self.kept)} kept visible" if self.kept else "",
            f"{len(self.added)} box{'es' if len(self.added) != 1 else ''} added" if self.added else "",
        )


def _with_edits(text: str, *edits: str) -> str:
    """``text``, then the user's edits that say something, in brackets."""
    said = [e for e in edits if e]
    return f"{text} ({', '.join(said)})" if said else text


def _matching(boxes: list[np.ndarray], faces: list[Face]) -> set[int]:
    """Indices of ``faces`` that one of ``boxes`` overlaps most, at IoU 0.5 or more: the same face again."""
    if not boxes or not faces:
        return set()
    iou = box_iou(np.stack(boxes), np.stack([f.box for f in faces]))
    return {int(j) for j in iou.argmax(axis=1)[iou.max(axis=1) >= 0.5]}


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(box_iou(np.asarray(a, np.float32).reshape(1, 4), np.asarray(b, np.float32).reshape(1, 4))[0, 0])


PhotoRole = Qt.ItemDataRole.UserRole + 1


def _placeholder(color: QColor) -> QIcon:
    pixmap = QPixmap(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(color)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(8, 16, THUMBNAIL_SIZE - 16, THUMBNAIL_SIZE - 32, 8, 8)
    painter.end()
    return QIcon(pixmap)


class PhotoListModel(QAbstractListModel):
    """The photos, one row each: thumbnail, name and status."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.photos: list[Photo] = []
        self._rows: dict[int, int] = {}
        self._icons: dict[int, QIcon] = {}
        self._loading = _placeholder(QColor(90, 90, 95))
        self._broken = _placeholder(QColor(170, 60, 60))

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.photos)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        photo = self.photos[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{photo.relative}\n{photo.status_text()}"
        if role == Qt.ItemDataRole.DecorationRole:
            if photo.status == ERROR and photo.thumbnail is None:
                return self._broken
            if photo.thumbnail is None:
                return self._loading
            if photo.key not in self._icons:
                self._icons[photo.key] = QIcon(QPixmap.fromImage(photo.thumbnail))
            return self._icons[photo.key]
        if role == Qt.ItemDataRole.ToolTipRole:
            return str(photo.path) + (f"\n{photo.error}" if photo.error else "")
        if role == Qt.ItemDataRole.ForegroundRole and photo.status == ERROR:
            return QColor(220, 70, 70)
        if role == Qt.ItemDataRole.ForegroundRole and photo.needs_review:
            return FLAG_COLOR
        if role == Qt.ItemDataRole.SizeHintRole:
            return QSize(0, THUMBNAIL_SIZE + 8)
        if role == PhotoRole:
            return photo
        return None

    def add(self, photos: list[Photo]) -> list[Photo]:
        """Append the photos not in the list yet; returns those appended."""
        known = {p.path for p in self.photos}
        new = []
        for photo in photos:
            if photo.path not in known:
                known.add(photo.path)
                new.append(photo)
        if new:
            first = len(self.photos)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self.photos.extend(new)
            self._rows.update({p.key: first + i for i, p in enumerate(new)})
            self.endInsertRows()
        return new

    def remove(self, rows: list[int]) -> None:
        for row in sorted(set(rows), reverse=True):
            self.beginRemoveRows(QModelIndex(), row, row)
            photo = self.photos.pop(row)
            self._icons.pop(photo.key, None)
            self.endRemoveRows()
        self._rows = {p.key: i for i, p in enumerate(self.photos)}

    def clear(self) -> None:
        self.beginResetModel()
        self.photos, self._rows, self._icons = [], {}, {}
        self.endResetModel()

    def raise_for_review(self, photo: Photo) -> None:
        """Move a photo with open flags up to just after the others that have some: those in doubt come first,
        each group in the order it was opened. A selection follows the row it was on."""
        row = self._rows.get(photo.key)
        if row is None or not photo.needs_review:
            return
        target = next((i for i, p in enumerate(self.photos) if not p.needs_review or p is photo), row)
        if target >= row:
            return
        self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), target)
        self.photos.insert(target, self.photos.pop(row))
        self._rows = {p.key: i for i, p in enumerate(self.photos)}
        self.endMoveRows()

    def next_for_review(self, after: Photo | None) -> Photo | None:
        """The first photo with open flags after ``after`` (wrapping round), or None."""
        start = self._rows.get(after.key, -1) + 1 if after is not None else 0
        order = self.photos[start:] + self.photos[:start]
        return next((p for p in order if p is not after and p.needs_review), None)

    def find(self, key: int) -> Photo | None:
        row = self._rows.get(key)
        return None if row is None else self.photos[row]

    def row_of(self, photo: Photo) -> int:
        return self._rows.get(photo.key, -1)

    def changed(self, photo: Photo) -> None:
        row = self._rows.get(photo.key)
        if row is not None:
            self._icons.pop(photo.key, None)
            index = self.index(row)
            self.dataChanged.emit(index, index)
