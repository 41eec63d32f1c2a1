"""Choose how much to widen a box the frame's border cuts (``anonymizer.tracking.EDGE_WIDEN``), offline.

A face cut by the frame's border shows a strip (a chin at the top, an ear at a side), and the detector's box
for it is often narrower than the face. This study rebuilds, from a video run's report (its tracks' hidden
boxes, ``anonymize --report``), the pixels a solid fill changes, under one rule per candidate: where a box
touches the border (within ``EDGE_TOUCH`` px, or past it), its hidden region spans ``G`` times the box along that border
(``G`` = 1.3, the usual region, is no widening). It judges them as ``benchmarks/video.py`` does (a face-frame is
hidden when 70 % of its visible box changed), and also gives the share of the frame's pixels covered outside
every face (annotated boxes grown 1.6x): the cost.

The report must come from a run made **without** the widening (``EDGE_WIDEN = 1.0``, e.g. commit 4824b5e), on
the clips ``benchmarks/video.py`` made in its ``--work`` folder (the same ``--seed`` and ``--half``)::

    anonymize --input WORK/clips --out /tmp/ours-solid --method solid --report /tmp/report.json -q
    .venv/bin/python -m benchmarks.video_edge_study --work WORK --report /tmp/report.json --seed 2 --half tune

Choose on the tune half; the report half is measured by ``benchmarks/video.py`` with the rule in the code.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from anonymizer.boxes import grow_boxes
from anonymizer.crops import DEFAULT_MASK_SCALE, _feather_width, feather_alpha
from anonymizer.tracking import boxes_at, widen_at_edge
from benchmarks import video as V
from benchmarks.wider_split import HALVES, select_half


def region(box: np.ndarray, along: float) -> np.ndarray:
    """The hidden rectangle of ``box``: grown as usual, and spanning ``along`` times the box along a cut border
    (the tracker's :func:`~anonymizer.tracking.widen_at_edge`, then the usual growth; never less than that)."""
    widened = widen_at_edge(np.asarray(box, np.float64), V.SIZE, max(along / DEFAULT_MASK_SCALE, 1.0))
    return grow_boxes(widened, DEFAULT_MASK_SCALE).astype(np.float64)


def changed(boxes: list, along: float, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pixels a black fill changes as video.py counts them, pixels at least half covered)."""
    W, H = V.SIZE
    alpha = np.zeros((H, W), np.float32)
    for _, box in boxes:
        hid = region(box, along)
        f = _feather_width(hid)
        x0, y0 = max(int(np.floor(hid[0] - f)) - 1, 0), max(int(np.floor(hid[1] - f)) - 1, 0)
        x1, y1 = min(int(np.ceil(hid[2] + f)) + 1, W), min(int(np.ceil(hid[3] + f)) + 1, H)
        if x1 <= x0 or y1 <= y0:
            continue
        a = feather_alpha((y1 - y0, x1 - x0), (hid - np.array([x0, y0, x0, y0])).astype(np.float32), f)
        np.maximum(alpha[y0:y1, x0:x1], a, out=alpha[y0:y1, x0:x1])
    peak = frame.max(axis=2).astype(np.float32)
    return (alpha * peak >= V.CHANGED) | ((1 - alpha) * peak < V.FILL), alpha >= 0.5


def judge(tracks: list[dict], truth: list, frames: list[np.ndarray], photo, cam: np.ndarray, along: float = 1.3):
    """A clip's per-face record as ``benchmarks/video.py``'s ``measure`` gives it, rebuilt from its tracks (a
    report's), and (pixels covered outside every face, pixels in all): annotated boxes grown 1.6x are faces."""
    per_face: dict[int, list] = {}
    outside = [0, 0]
    for k, faces in enumerate(truth):
        mask, covered = changed(boxes_at(tracks, k), along, frames[k])
        x, y, w = cam[k]
        s = V.SIZE[0] / w
        face_px = np.zeros(mask.shape, bool)
        for fx1, fy1, fx2, fy2 in grow_boxes((photo.faces.astype(np.float64) - [x, y, x, y]) * s, 1.6):
            face_px[max(int(fy1), 0) : max(int(np.ceil(fy2)), 0), max(int(fx1), 0) : max(int(np.ceil(fx2)), 0)] = 1
        outside[0] += int((covered & ~face_px).sum())
        outside[1] += mask.size
        for x1, y1, x2, y2, i, size, cut in faces:
            box = mask[int(round(y1)) : int(round(y2)), int(round(x1)) : int(round(x2))]
            per_face.setdefault(int(i), []).append((k, bool(box.size and box.mean() >= V.COVER), size, cut))
    return per_face, outside


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", type=Path, required=True, help="benchmarks/video.py's --work folder (its clips/)")
    p.add_argument("--report", type=Path, required=True, help="the report of a run without the widening")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--half", choices=HALVES, default="tune")
    p.add_argument("--data", type=Path, default=V.DEFAULT_DATA)
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--along", type=float, nargs="+", default=[1.3, 1.5, 1.7, 2.0])
    p.add_argument("--out", type=Path, help="a JSON file for the figures")
    args = p.parse_args(argv)

    photos = [
        ph
        for ph in select_half(V.load_photos(args.data), args.half)
        if (np.maximum(ph.faces[:, 2] - ph.faces[:, 0], 1) >= 12).sum() >= 5
    ]
    clips = sorted((args.work / "clips").glob("clip_*.mp4"))
    rng = np.random.default_rng(args.seed)
    chosen = [photos[i] for i in sorted(rng.choice(len(photos), size=len(clips), replace=False))]
    report = {r["input"]: r for r in json.loads(args.report.read_text())["images"]}
    per_rule: dict[float, list] = {g: [] for g in args.along}
    outside = {g: [0, 0] for g in args.along}
    scratch = Path("/tmp") / f"video_edge_study_{args.seed}.mp4"
    for n, photo in enumerate(chosen):
        truth = V.make_clip(photo, scratch, args.frames, args.seed * 1000 + n, "exit")
        tracks = report[clips[n].name]["tracks"]
        frames = V.decode(clips[n])
        image = V.read_rgb(photo.path)
        largest = float(np.max(photo.faces[:, 2:] - photo.faces[:, :2])) if len(photo.faces) else 0.0
        cam = V._camera(
            np.random.default_rng(args.seed * 1000 + n), image.shape[1], image.shape[0], args.frames, "exit", largest
        )
        for g in args.along:
            per_face, covered = judge(tracks, truth, frames, photo, cam, g)
            outside[g][0] += covered[0]
            outside[g][1] += covered[1]
            per_rule[g].append(per_face)
    scratch.unlink(missing_ok=True)
    result = {}
    for g in args.along:
        s = V.summarize(per_rule[g])
        s["outside_faces"] = outside[g][0] / outside[g][1]
        result[str(g)] = s
        print(
            f"along {g}: hidden {s['hidden'] * 100:.2f} % cut {s['cut_hidden'] * 100:.2f} % single-frame misses "
            f"{s['single_frame_misses']} longest {s['longest_visible_run']} outside faces {s['outside_faces'] * 100:.2f} %"
        )
    if args.out:
        args.out.write_text(json.dumps({"seed": args.seed, "half": args.half, "rules": result}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
