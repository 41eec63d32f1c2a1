"""Detection benchmark: how many faces we find and hide, against deface, on WIDER FACE photos.

Reproduce (from the repository root; the deface venv is made once, it is git-ignored)::

    python3 -m venv benchmarks/.venv-deface
    benchmarks/.venv-deface/bin/pip install deface==1.5.0
    .venv/bin/python benchmarks/detection.py            # all 400 photos, writes benchmarks/results/
    .venv/bin/python benchmarks/detection.py --limit 40 --out /tmp/det   # a quick run

Data: ``shared/data/wider`` (400 photos, ``boxes.csv``; boxes with invalid=1 are
ignored as faces to find, but a detection on one is not counted as false).

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
* **median s / photo**: wall time of finding the faces in an RGB array already in
  memory: for ours the whole ``detect()`` call, for deface ``centerface(frame,
  threshold)`` (resize, network, decoding, NMS). Image decoding is not timed.

deface runs with ``--backend opencv`` settings (``CenterFace(backend="opencv")``),
threshold 0.2 and mask scale 1.3 (its defaults), in its own venv through a worker
subprocess that answers in JSON.
"""

from __future__ import annotations

import argparse
import csv
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from anonymizer.crops import DEFAULT_MASK_SCALE, hidden_region  # noqa: E402
from anonymizer.detection import box_iou, make_detector  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "wider"
DEFAULT_OUT = ROOT / "benchmarks" / "results"
DEFACE_PYTHON = ROOT / "benchmarks" / ".venv-deface" / "bin" / "python"
DEFACE_WORKER = ROOT / "benchmarks" / "deface_worker.py"

BUCKETS = [("<16", 0, 16), ("16-32", 16, 32), ("32-64", 32, 64), (">=64", 64, 10**9)]
COVER = 0.70  # share of a face's box that must be hidden
MATCH_IOU = 0.5
FALSE_IOU = 0.3

# Our detectors by benchmark name: (make_detector name, label in the table).
OURS = {
    "ours": ("union", "ours (default `union`: YuNet + CenterFace)"),
    "mtcnn": ("mtcnn", "MTCNN alone"),
    "yunet": ("yunet", "YuNet alone"),
    "ours-yunet": ("union-yunet", "ours, YuNet only (`union-yunet`)"),
}


# ---------------------------------------------------------------- ground truth


@dataclass
class Photo:
    path: Path
    name: str
    faces: np.ndarray  # Nx4 int x1y1x2y2 (exclusive ends), valid faces
    ignored: np.ndarray  # Mx4, invalid=1 boxes


def load_photos(data: Path) -> list[Photo]:
    valid: dict[str, list] = {}
    ignored: dict[str, list] = {}
    with open(data / "boxes.csv", newline="") as f:
        for row in csv.DictReader(f):
            x, y, w, h = (int(row[k]) for k in ("x", "y", "w", "h"))
            target = ignored if row["invalid"] == "1" else valid
            target.setdefault(row["image"], []).append([x, y, x + w, y + h])
            valid.setdefault(row["image"], [])
    names = sorted(valid)
    return [
        Photo(
            data / "images" / n,
            n,
            np.asarray(valid[n], dtype=np.int64).reshape(-1, 4),
            np.asarray(ignored.get(n, []), dtype=np.int64).reshape(-1, 4),
        )
        for n in names
    ]


def pick(photos: list[Photo], limit: int | None) -> list[Photo]:
    """``limit`` photos spread evenly over the (event-sorted) list, so every event is in."""
    if not limit or limit >= len(photos):
        return photos
    idx = np.linspace(0, len(photos) - 1, limit).round().astype(int)
    return [photos[i] for i in sorted(set(idx.tolist()))]


def read_rgb(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


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
            if len(every):
                self.false += int(np.count_nonzero(box_iou(boxes, every).max(axis=1) < FALSE_IOU))
            else:
                self.false += len(boxes)

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

    def run(self, photo: Photo) -> tuple[np.ndarray, np.ndarray, float]:
        self.proc.stdin.write(json.dumps({"path": str(photo.path)}) + "\n")
        answer = json.loads(self.proc.stdout.readline())
        dets = np.asarray(answer["dets"], dtype=np.float32).reshape(-1, 5)
        cov = np.zeros((len(photo.faces), len(dets)))
        for j, region in enumerate(answer["regions"]):
            pixels = ellipse_pixels(region)
            for i, face in enumerate(photo.faces):
                cov[i, j] = ellipse_coverage(face, pixels)
        return dets[:, :4], cov, float(answer["seconds"])

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


class Ours:
    def __init__(self, name: str, device: str, mask_scale: float) -> None:
        self.detector = make_detector(name, device=device)
        self.mask_scale = mask_scale

    def run(self, image: np.ndarray, photo: Photo) -> tuple[np.ndarray, np.ndarray, float]:
        start = time.perf_counter()
        faces = self.detector.detect(image)
        seconds = time.perf_counter() - start
        boxes = np.asarray([f.box for f in faces], dtype=np.float32).reshape(-1, 4)
        cov = np.zeros((len(photo.faces), len(faces)))
        for j, face in enumerate(faces):
            region = hidden_region(face.box, self.mask_scale)
            for i, gt in enumerate(photo.faces):
                cov[i, j] = rect_coverage(gt, region)
        return boxes, cov, seconds


# ---------------------------------------------------------------- report


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def markdown(result: dict) -> str:
    s = result["settings"]
    counts = result["faces_per_bucket"]
    lines = [
        f"Detection on {s['photos']} WIDER FACE photos ({result['faces']} faces: "
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
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with images/ and boxes.csv")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for detection.json and detection.md")
    ap.add_argument("--limit", type=int, default=None, help="only N photos, spread over the events")
    ap.add_argument("--tools", default="ours,deface,mtcnn,yunet", help="comma list of: " + ", ".join([*OURS, "deface"]))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--deface-python", type=Path, default=DEFACE_PYTHON)
    ap.add_argument("--dump", type=Path, default=None, help="also write every photo's boxes here (JSON)")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for our detectors (default 1: on a busy machine more threads stall; 0 leaves torch's default)",
    )
    args = ap.parse_args(argv)
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    for t in tools:
        if t not in OURS and t != "deface":
            ap.error(f"unknown tool {t!r}")
    photos = pick(load_photos(args.data), args.limit)

    runners: dict = {}
    for t in tools:
        runners[t] = Deface(args.deface_python) if t == "deface" else Ours(OURS[t][0], args.device, DEFAULT_MASK_SCALE)
    tallies = {t: Tally("deface 1.5.0 (`--backend opencv`, defaults)" if t == "deface" else OURS[t][1]) for t in tools}
    dump: dict = {t: {} for t in tools}

    # Warm-up, untimed: first calls load weights and allocate.
    warm = read_rgb(photos[0].path)
    for t, r in runners.items():
        r.run(photos[0]) if t == "deface" else r.run(warm, photos[0])

    started = time.time()
    for k, photo in enumerate(photos):
        image = read_rgb(photo.path)
        order = tools if k % 2 == 0 else tools[::-1]
        for t in order:
            r = runners[t]
            boxes, cov, secs = r.run(photo) if t == "deface" else r.run(image, photo)
            tallies[t].add(photo, boxes, cov, secs)
            dump[t][photo.name] = np.round(boxes, 1).tolist()
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
        },
        "faces": first.faces,
        "faces_per_bucket": dict(first.total),
        "tools": {t: tallies[t].summary() for t in tools},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "detection.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "detection.md").write_text(markdown(result))
    if args.dump:
        args.dump.write_text(json.dumps(dump))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
