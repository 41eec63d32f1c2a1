"""Detection benchmark: how many faces we find and hide, against deface, on WIDER FACE photos.

Reproduce (from the repository root; the deface venv is made once, it is git-ignored)::

    python3 -m venv benchmarks/.venv-deface
    benchmarks/.venv-deface/bin/pip install deface==1.5.0
    .venv/bin/python -m benchmarks.detection            # the report half, writes benchmarks/results/
    .venv/bin/python -m benchmarks.detection --half tune --limit 40 --out /tmp/det   # a quick run

Data: ``shared/data/wider`` (400 photos, ``boxes.csv``; boxes with invalid=1 are
ignored as faces to find, but a detection on one is not counted as false).
``--half`` picks the photos (``benchmarks/wider_split.py``): settings are chosen
on ``tune``, figures reported on ``report`` (the default); ``all`` is both.
``--cut`` cuts each photo through the middle of its largest face by its left or
bottom edge (faces cut by the photo's border); ``--turn`` turns the photos.
A tool ``ours-border:MODE:PHOTO:LARGE`` is the default detector with its photo
pass and its scaled-down pass on the frame padded by PHOTO and LARGE of the
longer side (MODE ``reflect`` or ``constant``). A face's box is compared with the
annotated box as it lies in the photo, so a box that runs past the photo's edge
matches a cut face at a lower IoU (recall@0.5) though it hides it.

For each detector, on the same photos in the same run (photo by photo, the
order of the tools alternating, so that both see the same machine load):

* **recall@0.5**: share of faces matched one-to-one by a detection box at IoU >= 0.5.
* **coverage recall** by face size (longer side of the ground-truth box): a face
  counts as hidden when at least 70% of its box's pixels lie inside the region
  that one detection hides. For ours that is
  ``anonymizer.crops.hidden_region(box)`` (the box grown 1.3x about its centre, a
  rectangle, fully replaced). For deface it is what its CLI blurs with default
  settings: its box grown by ``mask_scale`` 1.3 with deface's own ``scale_bb``
  (which adds 0.3 of the side on *each* side, 1.6x in all), clipped, and only the
  ellipse inscribed in that rectangle (its default without ``--boxes``); see
  ``benchmarks/deface_worker.py``.
* **false / photo**: detections whose box overlaps no annotated face (invalid
  ones included) at IoU >= 0.3. WIDER leaves some tiny crowd faces unannotated,
  so part of these are real faces; both tools are judged alike.
* **outside faces px / photo** (``--regions`` table): share of a photo's pixels
  that the hidden regions of all its detections cover (solid fill: the pixels
  changed) outside every annotated face box (invalid ones included) grown 1.6x
  about its centre; the mean over photos. The damage to the rest of the photo.
* **median s / photo**: wall time of finding the faces in an RGB array already in
  memory: for ours the whole ``detect()`` call, for deface ``centerface(frame,
  threshold)`` (resize, network, decoding, NMS). Image decoding is not timed.

``--regions rect:1.0,ellipse:1.2,lm:1.1,...`` adds, from the same detections of
``--regions-of`` (default ``ours``), one row per candidate hidden region, filled
solid: ``rect:s`` the box grown s about its centre; ``ellipse:s`` the ellipse
inscribed in that rectangle; ``lm:s`` that rectangle grown to the bounding
rectangle of the five landmarks padded by 0.2 of the box's longer side. Every
region is rasterised on the photo's pixel grid by pixel centres (a pixel is in
an ellipse when its centre is, as ``anonymizer.crops.region_masks`` fills it),
so ``rect:1.3`` reproduces the tool's own row exactly.

deface runs with ``--backend opencv`` settings (``CenterFace(backend="opencv")``),
threshold 0.2 and mask scale 1.3 (its defaults), in its own venv through a worker
subprocess that answers in JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anonymizer.crops import DEFAULT_MASK_SCALE, hidden_region
from anonymizer.detection import box_iou, make_detector
from benchmarks.common import ROOT
from benchmarks.photo_sets import (
    HARD_MAKERS,
    HARD_SETS,
    Photo,
    cut_photos,
    load_photos,
    pick,
    read_rgb,
    turn_photos,
)
from benchmarks.wider_split import HALVES, select_half
from benchmarks.wider_split import SEED as SPLIT_SEED

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "wider"
DEFAULT_OUT = ROOT / "benchmarks" / "results"
DEFACE_PYTHON = ROOT / "benchmarks" / ".venv-deface" / "bin" / "python"
DEFACE_WORKER = ROOT / "benchmarks" / "deface_worker.py"

BUCKETS = [("<16", 0, 16), ("16-32", 16, 32), ("32-64", 32, 64), (">=64", 64, 10**9)]
COVER = 0.70  # share of a face's box that must be hidden
MATCH_IOU = 0.5
FALSE_IOU = 0.3


# Our detectors by benchmark name: (how to build it, label in the table).
def _cascade(**settings):
    from anonymizer.detection import CascadeDetector

    return lambda device: CascadeDetector(**settings)


def _default_with(**settings):
    """The default detector (the cascade with its RetinaFace pass) with ``settings`` changed."""
    from anonymizer.detection import CascadeDetector
    from anonymizer.detection.cascade import default_retinaface

    return lambda device: CascadeDetector(**default_retinaface(), **settings)


def _named(name: str):
    return lambda device: make_detector(name, device=device)


OURS = {
    "ours": (
        _named("default"),
        "ours (default: CenterFace on the photo, scaled down and turned at 320 px; RetinaFace at 640 px and turned)",
    ),
    "ours-cascade": (_named("cascade"), "ours without RetinaFace (the CenterFace cascade alone)"),
    "ours-before": (_named("yunet+centerface"), "ours before (YuNet + verifier, CenterFace)"),
    "ours-noturn": (_cascade(turned_side=None), "ours without the turned passes"),
    "ours-large640": (_cascade(large_side=640, large_threshold=0.3), "ours, scaled-down pass at 640 px"),
    "ours-turn480": (_cascade(turned_side=480), "ours, turned passes at 480 px"),
    "ours-turn640": (_cascade(turned_side=640), "ours, turned passes at 640 px"),
    "ours-blazeface": (
        _named("default+blazeface"),
        "ours + BlazeFace (short range, 128 px) for faces of 64 px or more that the cascade missed",
    ),
    "blazeface": (_named("blazeface"), "BlazeFace alone (short range, the photo at 128 px)"),
    "mtcnn": (_named("mtcnn"), "MTCNN alone"),
    "yunet": (_named("yunet"), "YuNet alone"),
    "ours-yunet": (_named("union-yunet"), "YuNet on the photo and mirrored, verifier (`union-yunet`)"),
    "ours-newshare": (
        _default_with(known_of="boxes"),
        "ours, a later pass's find dropped only when 0.2 of its own box overlaps an earlier find",
    ),
}
BORDER_TOOL = "ours-border"  # ours-border:MODE:PHOTO:LARGE, e.g. ours-border:reflect:0.05:0.25
RETINA_TOOL = "ours-retina"  # ours-retina:THRESHOLD:MIN:SIDE, e.g. ours-retina:0.7:32:640
DIAGONAL_TOOL = "ours-diagonal"  # ours-diagonal:SIDE:THRESHOLD, e.g. ours-diagonal:320:0.5
# ours-retdiag:SIDE (RetinaFace turned 45 degrees at SIDE px), ours-retdiag:SIDE:diagonal:CF_SIDE (and CenterFace's)
RETINA_DIAGONAL_TOOL = "ours-retdiag"


def _with_retinaface(threshold: float, min_size: float, side: int):
    from anonymizer.detection import CascadeDetector
    from anonymizer.detection.retinaface import RetinaFaceDetector

    return lambda device: CascadeDetector(
        retinaface=RetinaFaceDetector(threshold, side=side, grow=1.2), retinaface_min=min_size
    )


def tool_spec(name: str) -> tuple:
    """(how to build it, label) of a tool of ours: an :data:`OURS` name, or ``ours-border:MODE:PHOTO:LARGE``,
    the default with its photo pass and its scaled-down pass run on the frame padded by PHOTO and LARGE of the
    longer side, MODE ``reflect`` or ``constant``."""
    if name in OURS:
        return OURS[name]
    head, _, rest = name.partition(":")
    parts = rest.split(":")
    if head == DIAGONAL_TOOL and len(parts) == 2:
        side, threshold = int(parts[0]), float(parts[1])
        return (
            _default_with(diagonal_side=side, diagonal_threshold=threshold),
            f"ours + CenterFace at {side} px turned 45, 135, 225 and 315 degrees, score > {threshold:g}",
        )
    if head == RETINA_DIAGONAL_TOOL and len(parts) == 1:
        side = int(parts[0])
        return (
            _default_with(retinaface_diagonal_side=side),
            f"ours + RetinaFace at {side} px turned 45, 135, 225 and 315 degrees",
        )
    if head == RETINA_DIAGONAL_TOOL and len(parts) == 3 and parts[1] == "diagonal":
        side, cf_side = int(parts[0]), int(parts[2])
        return (
            _default_with(retinaface_diagonal_side=side, diagonal_side=cf_side, diagonal_threshold=0.5),
            f"ours + CenterFace at {cf_side} px and RetinaFace at {side} px, both turned 45, 135, 225 and 315 degrees",
        )
    if head == RETINA_TOOL and len(parts) == 3:
        threshold, min_size, side = float(parts[0]), float(parts[1]), int(parts[2])
        return (
            _with_retinaface(threshold, min_size, side),
            f"ours + RetinaFace at {side} px, score > {threshold:g}, faces of {min_size:g} px or more",
        )
    if head != BORDER_TOOL or len(parts) != 3:
        raise KeyError(name)
    mode, photo, large = parts[0], float(parts[1]), float(parts[2])
    return (
        _cascade(border=photo, large_border=large, border_mode=mode),
        f"ours, {mode} border: {photo:g} of the side on the photo pass, {large:g} on the scaled-down pass",
    )


# ---------------------------------------------------------------- regions and metrics


def _pixel_span(lo: float, hi: float, a: int, b: int) -> int:
    """Pixels c in [a, b) whose centre c + 0.5 lies in [lo, hi)."""
    first = max(a, int(np.ceil(lo - 0.5)))
    last = min(b, int(np.ceil(hi - 0.5)))  # exclusive
    return max(0, last - first)


def rect_coverage(face: np.ndarray, rect: np.ndarray) -> float:
    """Share of the face box's pixels whose centres lie inside ``rect`` (as crops.rect_mask counts them)."""
    x1, y1, x2, y2 = (int(v) for v in face)
    area = max(1, (x2 - x1) * (y2 - y1))
    return _pixel_span(rect[0], rect[2], x1, x2) * _pixel_span(rect[1], rect[3], y1, y2) / area


def ellipse_pixels(region: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns deface's ``draw_det`` blurs for a region (its ellipse, photo coordinates)."""
    import skimage.draw

    x1, y1, x2, y2 = region
    h, w = y2 - y1, x2 - x1
    if h <= 1 or w <= 1:
        return np.zeros(0, int), np.zeros(0, int)
    ey, ex = skimage.draw.ellipse(h // 2, w // 2, h // 2, w // 2)
    return ey + y1, ex + x1


def ellipse_coverage(face: np.ndarray, pixels: tuple[np.ndarray, np.ndarray]) -> float:
    x1, y1, x2, y2 = (int(v) for v in face)
    ey, ex = pixels
    inside = (ey >= y1) & (ey < y2) & (ex >= x1) & (ex < x2)
    return float(np.count_nonzero(inside)) / max(1, (x2 - x1) * (y2 - y1))


def shape_mask(kind: str, rect: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """Pixels of [x0, x1) x [y0, y1) whose centres lie in ``rect`` or, for "ellipse", the ellipse inscribed in it."""
    xs = np.arange(x0, x1, dtype=np.float64)[None, :] + 0.5
    ys = np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5
    r = [float(v) for v in rect]
    if kind == "rect":
        return (xs >= r[0]) & (xs < r[2]) & (ys >= r[1]) & (ys < r[3])
    cx, cy = (r[0] + r[2]) / 2, (r[1] + r[3]) / 2
    a, b = max((r[2] - r[0]) / 2, 1e-3), max((r[3] - r[1]) / 2, 1e-3)
    return ((xs - cx) / a) ** 2 + ((ys - cy) / b) ** 2 <= 1.0


REGION_KINDS = {
    "rect": "rectangle, box grown {s}x",
    "ellipse": "ellipse in the box grown {s}x",
    "lm": "rectangle, box grown {s}x, extended to the landmarks + 0.2 face",
}
LANDMARK_PAD = 0.2  # lm: padding around the landmarks' bounding rectangle, in face sizes (longer box side)


@dataclass(frozen=True)
class RegionSpec:
    """A candidate hidden region for one detection (``--regions``)."""

    kind: str
    scale: float

    @classmethod
    def parse(cls, text: str) -> RegionSpec:
        kind, _, scale = text.strip().partition(":")
        if kind not in REGION_KINDS or not scale:
            raise ValueError(f"region {text!r}: expected KIND:SCALE with KIND one of {', '.join(REGION_KINDS)}")
        return cls(kind, float(scale))

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.scale:g}"

    @property
    def area(self) -> float | None:
        """Area as a multiple of the box's (None where it depends on the landmarks)."""
        return {"rect": self.scale**2, "ellipse": np.pi / 4 * self.scale**2}.get(self.kind)

    def shape(self, box: np.ndarray, landmarks: np.ndarray) -> tuple[str, np.ndarray]:
        rect = hidden_region(box, self.scale).astype(np.float64)
        if self.kind == "ellipse":
            return "ellipse", rect
        if self.kind == "lm":
            pad = LANDMARK_PAD * max(float(box[2] - box[0]), float(box[3] - box[1]))
            lm = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
            lo, hi = lm.min(axis=0) - pad, lm.max(axis=0) + pad
            rect = np.array([min(rect[0], lo[0]), min(rect[1], lo[1]), max(rect[2], hi[0]), max(rect[3], hi[1])])
        return "rect", rect


def shapes_coverage(gt: np.ndarray, shapes: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """``[i, j]``: share of face box i's pixels inside shape j (pixel centres, as the fill counts them)."""
    cov = np.zeros((len(gt), len(shapes)))
    for i, face in enumerate(gt):
        x1, y1, x2, y2 = (int(v) for v in face)
        area = max(1, (x2 - x1) * (y2 - y1))
        for j, (kind, rect) in enumerate(shapes):
            if rect[0] >= x2 or rect[2] <= x1 or rect[1] >= y2 or rect[3] <= y1:
                continue
            cov[i, j] = np.count_nonzero(shape_mask(kind, rect, x1, y1, x2, y2)) / area
    return cov


def paint(mask: np.ndarray, kind: str, rect: np.ndarray) -> None:
    """Set the pixels of ``mask`` (the photo's grid) that the shape covers."""
    h, w = mask.shape
    x0, y0 = max(0, int(np.floor(rect[0]))), max(0, int(np.floor(rect[1])))
    x1, y1 = min(w, int(np.ceil(rect[2])) + 1), min(h, int(np.ceil(rect[3])) + 1)
    if x1 > x0 and y1 > y0:
        mask[y0:y1, x0:x1] |= shape_mask(kind, rect, x0, y0, x1, y1)


def face_zone(photo: Photo, shape: tuple[int, int], grow: float = 1.6) -> np.ndarray:
    """Pixels inside any annotated face box (invalid ones included) grown ``grow``x about its centre."""
    zone = np.zeros(shape, dtype=bool)
    for box in np.concatenate([photo.faces, photo.ignored]).reshape(-1, 4):
        paint(zone, "rect", hidden_region(box, grow).astype(np.float64))
    return zone


def damage(covered: np.ndarray, zone: np.ndarray) -> tuple[float, float]:
    """(share of the photo covered, share covered outside the face zone)."""
    n = covered.size
    return np.count_nonzero(covered) / n, np.count_nonzero(covered & ~zone) / n


def unmatched(boxes: np.ndarray, annotated: np.ndarray, iou: float) -> np.ndarray:
    """True for each of ``boxes`` whose IoU with every ``annotated`` box is under ``iou`` (all, when there is
    none): a false find, or a face nobody annotated."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    annotated = np.asarray(annotated, np.float32).reshape(-1, 4)
    if not len(annotated):
        return np.ones(len(boxes), dtype=bool)
    return box_iou(boxes, annotated).max(axis=1) < iou


def match_count(gt: np.ndarray, det: np.ndarray, thr: float) -> int:
    """Faces matched one-to-one (greedily, by IoU) at IoU >= ``thr``."""
    if len(gt) == 0 or len(det) == 0:
        return 0
    iou = box_iou(gt, det)
    pairs = np.argwhere(iou >= thr)
    order = np.argsort(-iou[pairs[:, 0], pairs[:, 1]])
    used_g, used_d, n = set(), set(), 0
    for g, d in pairs[order]:
        if g in used_g or d in used_d:
            continue
        used_g.add(g)
        used_d.add(d)
        n += 1
    return n


@dataclass
class Tally:
    label: str
    faces: int = 0
    matched: int = 0
    hidden: dict = field(default_factory=lambda: {b[0]: 0 for b in BUCKETS})
    total: dict = field(default_factory=lambda: {b[0]: 0 for b in BUCKETS})
    false: int = 0
    detections: int = 0
    seconds: list = field(default_factory=list)
    photos: int = 0
    covered: list = field(default_factory=list)  # per photo: share of its pixels hidden
    outside: list = field(default_factory=list)  # per photo: share hidden outside the face zone
    meta: dict = field(default_factory=dict)

    def add(self, photo: Photo, boxes: np.ndarray, coverage: np.ndarray, seconds: float) -> None:
        """``coverage[i, j]``: share of face i hidden by detection j."""
        self.photos += 1
        self.seconds.append(seconds)
        self.faces += len(photo.faces)
        self.detections += len(boxes)
        self.matched += match_count(photo.faces, boxes, MATCH_IOU)
        sizes = np.maximum(photo.faces[:, 2] - photo.faces[:, 0], photo.faces[:, 3] - photo.faces[:, 1])
        best = coverage.max(axis=1) if coverage.size else np.zeros(len(photo.faces))
        for size, cov in zip(sizes, best):
            name = next(b[0] for b in BUCKETS if b[1] <= size < b[2])
            self.total[name] += 1
            self.hidden[name] += int(cov >= COVER)
        if len(boxes):
            every = np.concatenate([photo.faces, photo.ignored]).reshape(-1, 4)
            self.false += int(np.count_nonzero(unmatched(boxes, every, FALSE_IOU)))

    def summary(self) -> dict:
        cov = {k: (self.hidden[k] / self.total[k] if self.total[k] else None) for k in self.hidden}
        return {
            "label": self.label,
            "photos": self.photos,
            "faces": self.faces,
            "recall_iou50": self.matched / max(1, self.faces),
            "coverage_recall": cov,
            "coverage_recall_16_up": sum(self.hidden[k] for k in list(self.hidden)[1:])
            / max(1, sum(self.total[k] for k in list(self.total)[1:])),
            "coverage_recall_all": sum(self.hidden.values()) / max(1, sum(self.total.values())),
            "faces_per_bucket": dict(self.total),
            "hidden_per_bucket": dict(self.hidden),
            "detections_per_photo": self.detections / max(1, self.photos),
            "false_per_photo": self.false / max(1, self.photos),
            "median_seconds": statistics.median(self.seconds) if self.seconds else None,
            "mean_seconds": statistics.fmean(self.seconds) if self.seconds else None,
            "covered_per_photo": statistics.fmean(self.covered) if self.covered else None,
            "outside_faces_per_photo": statistics.fmean(self.outside) if self.outside else None,
            **self.meta,
        }


# ---------------------------------------------------------------- the tools


class Deface:
    """deface's CenterFace in its own venv, one JSON line per photo."""

    def __init__(self, python: Path, backend: str = "opencv") -> None:
        if not python.exists():
            raise SystemExit(
                f"{python} not found: make deface's venv first (see the top of {Path(__file__).name}), "
                "or leave deface out with --tools"
            )
        self.proc = subprocess.Popen(
            [str(python), str(DEFACE_WORKER), backend],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        hello = json.loads(self.proc.stdout.readline())
        self.backend = hello["backend"]

    def run(self, photo: Photo, shape: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray, float]:
        """Boxes, coverage and seconds; with the photo's ``shape``, ``self.covered`` its hidden pixels."""
        self.proc.stdin.write(json.dumps({"path": str(photo.path)}) + "\n")
        answer = json.loads(self.proc.stdout.readline())
        dets = np.asarray(answer["dets"], dtype=np.float32).reshape(-1, 5)
        cov = np.zeros((len(photo.faces), len(dets)))
        self.covered = np.zeros(shape, dtype=bool) if shape is not None else None
        for j, region in enumerate(answer["regions"]):
            pixels = ellipse_pixels(region)
            for i, face in enumerate(photo.faces):
                cov[i, j] = ellipse_coverage(face, pixels)
            if self.covered is not None:
                ey, ex = pixels
                keep = (ey >= 0) & (ey < shape[0]) & (ex >= 0) & (ex < shape[1])
                self.covered[ey[keep], ex[keep]] = True
        return dets[:, :4], cov, float(answer["seconds"])

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def face_coverage(gt: np.ndarray, faces: list, mask_scale: float = DEFAULT_MASK_SCALE) -> tuple[np.ndarray, ...]:
    """Our detections' boxes (Nx4) and ``cov[i, j]``, the share of annotated face i (``gt``, Mx4) inside the
    region detection j hides (``hidden_region`` of its box, a rectangle)."""
    boxes = np.asarray([f.box for f in faces], dtype=np.float32).reshape(-1, 4)
    cov = np.zeros((len(gt), len(faces)))
    for j, face in enumerate(faces):
        region = hidden_region(face.box, mask_scale)
        for i, face_box in enumerate(gt):
            cov[i, j] = rect_coverage(face_box, region)
    return boxes, cov


class Ours:
    def __init__(self, name: str, device: str, mask_scale: float) -> None:
        self.detector = tool_spec(name)[0](device)
        self.mask_scale = mask_scale

    def run(self, image: np.ndarray, photo: Photo) -> tuple[np.ndarray, np.ndarray, float]:
        start = time.perf_counter()
        faces = self.detector.detect(image)
        seconds = time.perf_counter() - start
        self.faces = faces
        boxes, cov = face_coverage(photo.faces, faces, self.mask_scale)
        return boxes, cov, seconds

    def covered(self, shape: tuple[int, int]) -> np.ndarray:
        """The last photo's pixels hidden (its regions filled solid)."""
        mask = np.zeros(shape, dtype=bool)
        for face in self.faces:
            paint(mask, "rect", hidden_region(face.box, self.mask_scale).astype(np.float64))
        return mask


def run_candidate(spec: RegionSpec, faces: list, photo: Photo, shape: tuple[int, int]) -> tuple:
    """Coverage and hidden pixels of one candidate region over one photo's detections."""
    shapes = [spec.shape(f.box, f.landmarks) for f in faces]
    mask = np.zeros(shape, dtype=bool)
    for kind, rect in shapes:
        paint(mask, kind, rect)
    return shapes_coverage(photo.faces, shapes), mask


# ---------------------------------------------------------------- report


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def markdown(result: dict) -> str:
    s = result["settings"]
    counts = result["faces_per_bucket"]
    lines = [
        f"Detection on {s['photos']} WIDER FACE photos"
        + ("" if s.get("half", "all") == "all" else f" of the {s['half']} half")
        + f" ({result['faces']} faces: "
        + ", ".join(f"{k} px: {v}" for k, v in counts.items())
        + f"), {s['machine']}. Command: `{s['command']}`",
        "",
        "| detector | recall@IoU0.5 | hidden <16 px | hidden 16-32 px | hidden 32-64 px | hidden >=64 px "
        "| hidden, all | false / photo | median s / photo |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in result["tools"].values():
        c = row["coverage_recall"]
        lines.append(
            f"| {row['label']} | {_pct(row['recall_iou50'])} | {_pct(c['<16'])} | {_pct(c['16-32'])} "
            f"| {_pct(c['32-64'])} | {_pct(c['>=64'])} | {_pct(row['coverage_recall_all'])} "
            f"| {row['false_per_photo']:.2f} | {row['median_seconds']:.3f} |"
        )
    lines += [
        "",
        "*hidden*: share of faces with >= 70% of their box inside the region one detection hides "
        "(ours: the box grown 1.3x, a rectangle; deface: its box grown 1.6x by its `--mask-scale 1.3`, "
        "and the ellipse inside that). *false*: detections overlapping no annotated face at IoU >= 0.3.",
        "",
    ]
    if result.get("regions"):
        lines += regions_markdown(result)
    return "\n".join(lines)


def regions_markdown(result: dict) -> list[str]:
    tools, cands = result["tools"], result["regions"]
    base = tools.get("deface")
    big = [b[0] for b in BUCKETS[1:]]
    of = result["settings"]["regions_of"]
    rows = ([("deface", base)] if base else []) + [(of, tools[of])] + [(k, v) for k, v in cands.items()]
    lines = [
        f"Candidate hidden regions, filled solid, from the same detections of `{of}` "
        "(faces hidden by bucket; the margin is faces hidden minus deface's):",
        "",
        "| region | area / box | hidden <16 px | hidden 16-32 px | hidden 32-64 px | hidden >=64 px "
        "| hidden 16-32 / 32-64 / >=64 (faces) | vs deface 16-32 / 32-64 / >=64 | >= deface from 16 px "
        "| covered px / photo | outside faces px / photo |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: | ---: | ---: |",
    ]
    best = None
    for key, row in rows:
        c, h = row["coverage_recall"], row["hidden_per_bucket"]
        area = row.get("area_per_box")
        if base and key != "deface":
            diff = [h[b] - base["hidden_per_bucket"][b] for b in big]
            vs, ok = " / ".join(f"{d:+d}" for d in diff), all(d >= 0 for d in diff)
            if ok and key in cands and (best is None or row["covered_per_photo"] < best[1]["covered_per_photo"]):
                best = (key, row)
        else:
            vs, ok = "–", None
        lines.append(
            f"| {row.get('region_label', row['label'])} | {'–' if area is None else f'{area:.2f}'} "
            f"| {_pct(c['<16'])} | {_pct(c['16-32'])} | {_pct(c['32-64'])} | {_pct(c['>=64'])} "
            f"| {' / '.join(str(h[b]) for b in big)} | {vs} | {'–' if ok is None else ('yes' if ok else 'no')} "
            f"| {_pct(row['covered_per_photo'])} | {_pct(row['outside_faces_per_photo'])} |"
        )
    lines += [
        "",
        "*area / box*: the region's area as a multiple of the detection box's (deface: its ellipse in the box "
        "grown 1.6x). *covered px / photo*: share of a photo's pixels inside some detection's region, the mean "
        "over photos; *outside faces*: the part of it outside every annotated face box (invalid ones included) "
        "grown 1.6x about its centre. Regions are rasterised by pixel centres.",
    ]
    if best:
        lines.append(
            f"Smallest candidate (by covered px / photo) hiding at least deface's faces in every bucket from 16 px: "
            f"**{best[0]}**."
        )
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with images/ and boxes.csv")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for detection.json and detection.md")
    ap.add_argument("--limit", type=int, default=None, help="only N photos (of --half), spread over the events")
    ap.add_argument(
        "--half",
        choices=HALVES,
        default="report",
        help="the photos: the half settings are reported on (default), the half they are tuned on "
        "(benchmarks/wider_split.py), or all",
    )
    ap.add_argument("--name", default="detection", help="results file stem: writes NAME.json and NAME.md in --out")
    ap.add_argument(
        "--tools",
        default="ours,deface,mtcnn,yunet",
        help="comma list of: "
        + ", ".join([*OURS, "deface", f"{BORDER_TOOL}:MODE:PHOTO:LARGE", f"{DIAGONAL_TOOL}:SIDE:THRESHOLD"]),
    )
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--deface-python", type=Path, default=DEFACE_PYTHON)
    ap.add_argument(
        "--regions",
        default="",
        help="comma list of candidate hidden regions KIND:SCALE (KIND: " + ", ".join(REGION_KINDS) + "), "
        "scored on the detections of --regions-of, e.g. rect:1.0,rect:1.1,ellipse:1.2,lm:1.1",
    )
    ap.add_argument("--regions-of", default="ours", help="the tool whose detections --regions uses")
    ap.add_argument("--dump", type=Path, default=None, help="also write every photo's boxes here (JSON)")
    ap.add_argument(
        "--turn",
        type=int,
        choices=(90, 180, 270),
        default=None,
        help="turn every photo (and its boxes) this many degrees clockwise: faces sideways or upside down",
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for our detectors (default 1: on a busy machine more threads stall; 0 leaves torch's default)",
    )
    ap.add_argument(
        "--cut",
        action="store_true",
        help="cut every photo through the middle of its largest face (32 px or more) by its left or bottom edge",
    )
    ap.add_argument(
        "--hard",
        choices=HARD_SETS,
        default=None,
        help="a harder set made from the photos of --half: upscale (largest face 300-800 px), dark (dim, flat, "
        "noisy), tilt (turned by any angle), occluded (each face of 24 px or more partly covered: sunglasses, a "
        "hand, a microphone, food, another head), pasted (face photos of ../shared/data/faces pasted into the "
        "scenes at 12-640 px, as prints or blended; benchmarks/photo_sets.py)",
    )
    args = ap.parse_args(argv)
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    for t in tools:
        if t != "deface":
            try:
                tool_spec(t)
            except (KeyError, ValueError):
                ap.error(f"unknown tool {t!r}")
    try:
        specs = [RegionSpec.parse(t) for t in args.regions.split(",") if t.strip()]
    except ValueError as e:
        ap.error(str(e))
    if specs and args.regions_of not in tools:
        ap.error(f"--regions needs --regions-of {args.regions_of!r} among --tools")
    photos = pick(select_half(load_photos(args.data), args.half), args.limit)
    if args.turn:
        import tempfile

        turned_dir = Path(tempfile.mkdtemp(prefix="turned-"))
        photos = turn_photos(photos, args.turn, turned_dir)
    if args.cut:
        import tempfile

        photos = cut_photos(photos, Path(tempfile.mkdtemp(prefix="cut-")))
    if args.hard:
        import tempfile

        photos = HARD_MAKERS[args.hard](photos, Path(tempfile.mkdtemp(prefix=f"{args.hard}-")))

    runners: dict = {}
    for t in tools:
        runners[t] = Deface(args.deface_python) if t == "deface" else Ours(t, args.device, DEFAULT_MASK_SCALE)
    tallies = {
        t: Tally("deface 1.5.0 (`--backend opencv`, defaults)" if t == "deface" else tool_spec(t)[1]) for t in tools
    }
    for t in tools:
        tallies[t].meta = (
            {"region_label": "deface 1.5.0: ellipse in its box grown 1.6x", "area_per_box": np.pi / 4 * 1.6**2}
            if t == "deface"
            else {
                "region_label": f"{t}, today: rectangle, box grown {DEFAULT_MASK_SCALE:g}x",
                "area_per_box": DEFAULT_MASK_SCALE**2,
            }
        )
    cands = {
        s.name: Tally(
            f"{args.regions_of}, {s.name}",
            meta={
                "region": s.name,
                "region_label": f"`{s.name}`: " + REGION_KINDS[s.kind].format(s=f"{s.scale:g}"),
                "area_per_box": s.area,
            },
        )
        for s in specs
    }
    dump: dict = {t: {} for t in tools}

    # Warm-up, untimed: first calls load weights and allocate.
    warm = read_rgb(photos[0].path)
    for t, r in runners.items():
        r.run(photos[0]) if t == "deface" else r.run(warm, photos[0])

    started = time.time()
    for k, photo in enumerate(photos):
        image = read_rgb(photo.path)
        order = tools if k % 2 == 0 else tools[::-1]
        shape = image.shape[:2]
        zone = face_zone(photo, shape)
        for t in order:
            r = runners[t]
            boxes, cov, secs = r.run(photo, shape) if t == "deface" else r.run(image, photo)
            tallies[t].add(photo, boxes, cov, secs)
            covered, outside = damage(r.covered if t == "deface" else r.covered(shape), zone)
            tallies[t].covered.append(covered)
            tallies[t].outside.append(outside)
            dump[t][photo.name] = np.round(boxes, 1).tolist()
            if t == args.regions_of:
                for spec in specs:
                    cov_s, mask = run_candidate(spec, r.faces, photo, shape)
                    cands[spec.name].add(photo, boxes, cov_s, secs)
                    covered, outside = damage(mask, zone)
                    cands[spec.name].covered.append(covered)
                    cands[spec.name].outside.append(outside)
        if (k + 1) % 25 == 0:
            print(f"{k + 1}/{len(photos)} photos, {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    if "deface" in runners:
        runners["deface"].close()

    first = next(iter(tallies.values()))
    command = "python " + " ".join([os.path.relpath(__file__, ROOT), *(argv if argv is not None else sys.argv[1:])])
    result = {
        "settings": {
            "photos": len(photos),
            "data": str(args.data),
            "cover_threshold": COVER,
            "match_iou": MATCH_IOU,
            "false_iou": FALSE_IOU,
            "our_mask_scale": DEFAULT_MASK_SCALE,
            "deface": {"version": "1.5.0", "backend": "opencv", "thresh": 0.2, "mask_scale": 1.3, "region": "ellipse"},
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, CPU only",
            "command": command.strip(),
            "date": time.strftime("%Y-%m-%d"),
            "wall_seconds": round(time.time() - started, 1),
            "regions_of": args.regions_of if specs else None,
            "face_zone_grow": 1.6,
            "turned": args.turn,
            "cut": args.cut,
            "hard": args.hard,
            "half": args.half,
            "split_seed": SPLIT_SEED,
        },
        "faces": first.faces,
        "faces_per_bucket": dict(first.total),
        "tools": {t: tallies[t].summary() for t in tools},
        "regions": {k: v.summary() for k, v in cands.items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"{args.name}.md").write_text(markdown(result))
    if args.dump:
        args.dump.write_text(json.dumps(dump))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
