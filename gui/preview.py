"""The large preview: the photo, its faces outlined, original/anonymized/split, zoom and pan.

Clicking a face asks to exclude or include it, dragging a rectangle on the photo
asks to add a face; the view only reports these (signals) and the window keeps
the edits, so what is shown is always what will be saved.
"""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

INCLUDED = QColor(40, 200, 90)
EXCLUDED = QColor(230, 60, 60)
ADDED = QColor(40, 170, 255)
FLAGGED = QColor(255, 170, 0)  # the audit's finds in doubt: one key hides one, another dismisses it
MIN_BOX = 4.0  # a drawn rectangle smaller than this (photo pixels) is a stray click


class ViewMode(Enum):
    ORIGINAL = "original"
    ANONYMIZED = "anonymized"
    SPLIT = "split"


class FaceKind(Enum):
    INCLUDED = "included"  # detected, will be replaced
    EXCLUDED = "excluded"  # detected, left as it is
    ADDED = "added"  # drawn by the user, will be replaced
    FLAGGED = "flagged"  # found by the audit outside every face: for the user to hide or dismiss


class FaceItem(QGraphicsRectItem):
    """The outline of one face; ``index`` is its place in the photo's detected or added list."""

    def __init__(self, rect: QRectF, kind: FaceKind, index: int, label: str, current: bool = False) -> None:
        super().__init__(rect)
        self.kind = kind
        self.index = index
        color = {
            FaceKind.INCLUDED: INCLUDED,
            FaceKind.EXCLUDED: EXCLUDED,
            FaceKind.ADDED: ADDED,
            FaceKind.FLAGGED: FLAGGED,
        }[kind]
        pen = QPen(color, 4.0 if current else 2.5)  # the flag the keys act on: drawn thicker
        pen.setCosmetic(True)  # the same width at every zoom
        if kind is FaceKind.EXCLUDED:
            pen.setStyle(Qt.PenStyle.DashLine)
        elif kind is FaceKind.FLAGGED:
            pen.setStyle(Qt.PenStyle.DotLine)
        self.setPen(pen)
        fill = QColor(color)
        fill.setAlpha(22 if kind is not FaceKind.EXCLUDED else 0)
        self.setBrush(QBrush(fill))
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAcceptHoverEvents(True)
        self.setToolTip(
            {
                FaceKind.INCLUDED: "Will be anonymized. Click to leave this face as it is.",
                FaceKind.EXCLUDED: "Left as it is. Click to anonymize this face.",
                FaceKind.ADDED: "Added by you. Click to remove it.",
                FaceKind.FLAGGED: "The audit found what may be a face here. H hides it, D dismisses it "
                "(it stays as it is). Click to choose it.",
            }[kind]
        )
        self.setZValue(2)
        tag = QGraphicsSimpleTextItem(label, self)
        tag.setBrush(QBrush(color))
        font = QFont()
        font.setBold(True)
        tag.setFont(font)
        tag.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        # Just above the box's top-left corner, the same size at every zoom.
        tag.setPos(rect.left(), rect.top())
        tag.setTransform(tag.transform().translate(0, -tag.boundingRect().height() - 3))
        self.tag = tag


class PhotoItem(QGraphicsItem):
    """Paints the original, the anonymized photo, or the two side by side at ``split`` (a fraction of the width)."""

    def __init__(self, original: QPixmap) -> None:
        super().__init__()
        self.original = original
        self.anonymized: QPixmap | None = None
        self.mode = ViewMode.ORIGINAL
        self.split = 0.5

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.original.width(), self.original.height())

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        w, h = self.original.width(), self.original.height()
        other = self.anonymized
        if self.mode is ViewMode.ORIGINAL or other is None:
            painter.drawPixmap(0, 0, self.original)
        elif self.mode is ViewMode.ANONYMIZED:
            painter.drawPixmap(0, 0, other)
        else:
            cut = round(self.split * w)
            painter.drawPixmap(QRectF(0, 0, cut, h), self.original, QRectF(0, 0, cut, h))
            painter.drawPixmap(QRectF(cut, 0, w - cut, h), other, QRectF(cut, 0, w - cut, h))
            pen = QPen(QColor(255, 255, 255), 2)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawLine(QPointF(cut, 0), QPointF(cut, h))


class PreviewView(QGraphicsView):
    faceClicked = Signal(object, int)  # FaceKind, index
    boxDrawn = Signal(QRectF)  # in photo pixels
    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setBackgroundBrush(QBrush(QColor(38, 38, 40)))
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        # Drops go to the main window, which knows what to do with them.
        self.setAcceptDrops(False)
        self.viewport().setAcceptDrops(False)
        self.photo: PhotoItem | None = None
        self.key: int | None = None
        self.faces: list[FaceItem] = []
        self.mode = ViewMode.ORIGINAL
        self.empty_text = "Drop photos or folders here\n\nor use File › Open (Ctrl+O)"
        self._fit = True
        self._drawing: QGraphicsRectItem | None = None
        self._draw_start = QPointF()
        self._pan_from = None

    # -- content ----------------------------------------------------------
    def show_photo(self, image: QImage | None, key: int | None = None) -> None:
        """Show a new photo (None: the empty state), fitted to the view; ``key`` says which."""
        self.key = key
        self.scene().clear()
        self.faces = []
        self.photo = None
        self._drawing = None
        if image is None:
            self.scene().setSceneRect(QRectF())
            self.viewport().update()
            return
        self.photo = PhotoItem(QPixmap.fromImage(image))
        self.photo.mode = self.mode
        self.scene().addItem(self.photo)
        self.scene().setSceneRect(self.photo.boundingRect())
        self.fit()

    def show_frame(self, image: QImage) -> None:
        """Another picture in place of the shown one (a video's next frame): zoom and scroll stay as they are."""
        if self.photo is None or image.size() != self.photo.original.size():
            self.show_photo(image, self.key)
            return
        self.photo.original = QPixmap.fromImage(image)
        self.photo.anonymized = None
        self.photo.update()

    def set_anonymized(self, image: QImage | None) -> None:
        if self.photo is not None:
            self.photo.anonymized = None if image is None else QPixmap.fromImage(image)
            self.photo.update()

    def set_faces(self, faces: list[tuple]) -> None:
        """Outline these faces: (rect, kind, index, label), or with a fifth item, True for the current flag."""
        for item in self.faces:
            self.scene().removeItem(item)
        self.faces = []
        if self.photo is None:
            return
        for rect, kind, index, label, *current in faces:
            item = FaceItem(rect, kind, index, label, bool(current and current[0]))
            self.scene().addItem(item)
            self.faces.append(item)

    def set_mode(self, mode: ViewMode) -> None:
        self.mode = mode
        if self.photo is not None:
            self.photo.mode = mode
            self.photo.update()

    # -- zoom -------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def fit(self) -> None:
        self._fit = True
        if self.photo is not None:
            self.fitInView(self.photo, Qt.AspectRatioMode.KeepAspectRatio)
            self.zoomChanged.emit(self.zoom)

    def set_zoom(self, zoom: float) -> None:
        zoom = min(max(zoom, 0.02), 32.0)
        self._fit = False
        self.setTransform(self.transform().fromScale(zoom, zoom))
        self.zoomChanged.emit(self.zoom)

    def zoom_by(self, factor: float) -> None:
        self.set_zoom(self.zoom * factor)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit:
            self.fit()

    def wheelEvent(self, event) -> None:
        if self.photo is None:
            return
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.25**steps)
        event.accept()

    # -- mouse: click a face, draw a box, pan ---------------------------------
    def mousePressEvent(self, event) -> None:
        if self.photo is None:
            return super().mousePressEvent(event)
        if event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        item = self.itemAt(event.position().toPoint())
        while item is not None and not isinstance(item, FaceItem):
            item = item.parentItem()
        if isinstance(item, FaceItem):
            self.faceClicked.emit(item.kind, item.index)
            event.accept()
            return
        pos = self.mapToScene(event.position().toPoint())
        if not self.photo.boundingRect().contains(pos):
            return
        self._draw_start = pos
        pen = QPen(ADDED, 2, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self._drawing = self.scene().addRect(QRectF(pos, pos), pen)
        self._drawing.setZValue(3)
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
            event.accept()
            return
        if self._drawing is not None:
            self._drawing.setRect(self._drawn_rect(event))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        if self._drawing is not None:
            rect = self._drawn_rect(event)
            self.scene().removeItem(self._drawing)
            self._drawing = None
            if rect.width() >= MIN_BOX and rect.height() >= MIN_BOX:
                self.boxDrawn.emit(rect)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def _drawn_rect(self, event) -> QRectF:
        end = self.mapToScene(event.position().toPoint())
        rect = QRectF(self._draw_start, end).normalized()
        return rect.intersected(self.photo.boundingRect())

    # -- empty state --------------------------------------------------------
    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        super().drawForeground(painter, rect)
        if self.photo is not None:
            return
        painter.save()
        painter.resetTransform()
        area = self.viewport().rect().adjusted(40, 40, -40, -40)
        pen = QPen(QColor(120, 120, 125), 2, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawRoundedRect(area, 16, 16)
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        painter.setFont(font)
        painter.setPen(QColor(190, 190, 195))
        painter.drawText(area, Qt.AlignmentFlag.AlignCenter, self.empty_text)
        painter.restore()
