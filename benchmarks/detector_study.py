"""Study of the default detector's cascade: what each pass finds, what it costs.

Runs every candidate pass once per WIDER photo and stores what it found, with
its time, so that cascades can be compared offline without re-running the
networks::

    .venv/bin/python -m benchmarks.detector_study dump --out /tmp/study.pkl        # ~10 min, 400 photos
    .venv/bin/python -m benchmarks.detector_study eval --dump /tmp/study.pkl

Passes (one thread each, the machine otherwise idle):

* ``yunet``: YuNet on the photo; for its weak candidates (0.2 <= score < 0.6)
  the verifier's features (YuNet re-run on zoomed crops with 1.5 and 2.5 sides
  of context, MTCNN O-Net) each timed.
* ``cf``: CenterFace (onnxruntime) on the photo, all detections down to 0.05.
* ``cf@S`` / ``yunet@S``: the photo scaled so that its longer side is S px.
* ``cf-rot90@S`` etc.: the photo turned by 90, 180 or 270 degrees, longer side S.

``eval`` scores cascades by the benchmark's measure (a face is hidden when
>= 70% of its box lies in the rectangle one detection hides, the box grown
1.3x) per size bucket, with false detections and the summed time of the passes
a cascade uses.
"""

from __future__ import annotations

import argparse
import pickle
import time
from pathlib import Path

import numpy as np

from anonymizer.boxes import box_iou, overlaps_any
from anonymizer.crops import hidden_region
from anonymizer.imageio import scaled_down
from benchmarks.detection import BUCKETS, COVER, DEFAULT_DATA, load_photos, read_rgb, rect_coverage

ROTATIONS = {90: 0, 180: 1, 270: 2}  # cv2.rotate codes: 90 clockwise, 180, 90 counter-clockwise


def rotate(image: np.ndarray, angle: int) -> np.ndarray:
    import cv2

    return np.ascontiguousarray(cv2.rotate(image, ROTATIONS[angle]))


def unrotate_boxes(boxes: np.ndarray, angle: int, shape: tuple[int, int]) -> np.ndarray:
    """Boxes found on the turned photo, as boxes of the photo itself (bounding rectangle of the corners)."""
    h, w = shape  # the original photo's
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    if (
        angle == 90
    ):  # turned clockwise: (x, y) on the turned photo was (y, h - 1 - x)... in continuous coords (y, h - x)
        return np.stack([y1, h - x2, y2, h - x1], axis=1)
    if angle == 180:
        return np.stack([w - x2, h - y2, w - x1, h - y1], axis=1)
    return np.stack([w - y2, x1, w - y1, x2], axis=1)  # 270


def dump(args) -> None:
    from anonymizer.detection.centerface import CenterFace
    from anonymizer.detection.comparison.verify import onet_scores, recheck
    from anonymizer.detection.comparison.yunet import yunet_rows as _yunet_raw
    from anonymizer.device import set_threads

    set_threads(1)
    photos = load_photos(args.data)
    if args.limit:
        photos = photos[:: max(1, len(photos) // args.limit)][: args.limit]
    net = CenterFace()
    img0 = read_rgb(photos[0].path)
    _yunet_raw(img0), net.find(img0, 0.05), onet_scores(img0, np.array([[0, 0, 20, 20]]))  # warm up
    out = []
    for n, photo in enumerate(photos):
        image = read_rgb(photo.path)
        rec = {"name": photo.name, "faces": photo.faces, "ignored": photo.ignored, "shape": image.shape[:2], "t": {}}
        t = time.perf_counter()
        rows = _yunet_raw(image)
        rec["t"]["yunet"] = time.perf_counter() - t
        rec["yunet"] = rows
        t = time.perf_counter()
        boxes, scores, marks = net.find(image, 0.05)
        rec["t"]["cf"] = time.perf_counter() - t
        rec["cf"] = (boxes, scores, marks)
        score = rows[:, 0] / 100
        size = np.maximum(rows[:, 3], rows[:, 4])
        weak = np.flatnonzero((score < 0.6) & (score >= 0.2) & (size >= 8))
        feats = []
        for i in weak:
            r = rows[i]
            box = np.array([r[1], r[2], r[1] + r[3], r[2] + r[4]], np.float32)
            t = time.perf_counter()
            near = recheck(image, box, 1.5, _yunet_raw)
            t_near = time.perf_counter() - t
            t = time.perf_counter()
            wide = recheck(image, box, 2.5, _yunet_raw)
            t_wide = time.perf_counter() - t
            t = time.perf_counter()
            on = float(onet_scores(image, box[None])[0])
            t_onet = time.perf_counter() - t
            cfh = 0.0  # CenterFace's heat at the candidate: recorded by the first dump, never used
            feats.append((int(i), near, wide, on, cfh, t_near, t_wide, t_onet))
        rec["weak"] = feats
        for longer in (320, 480, 640):
            small, f = scaled_down(image, longer)
            t = time.perf_counter()
            b, s, m = net.find(small, 0.05)
            rec["t"][f"cf@{longer}"] = time.perf_counter() - t
            rec[f"cf@{longer}"] = (b / f, s, m / f)
            t = time.perf_counter()
            r = _yunet_raw(small)
            rec["t"][f"yunet@{longer}"] = time.perf_counter() - t
            r = r.copy()
            r[:, 1:15] /= f
            rec[f"yunet@{longer}"] = r
        for longer in (320, 480, 640):
            small, f = scaled_down(image, longer)
            for angle in ROTATIONS:
                turned = rotate(small, angle)
                t = time.perf_counter()
                b, s, m = net.find(turned, 0.05)
                rec["t"][f"cf-rot{angle}@{longer}"] = time.perf_counter() - t
                rec[f"cf-rot{angle}@{longer}"] = (unrotate_boxes(b, angle, small.shape[:2]) / f, s)
                t = time.perf_counter()
                r = _yunet_raw(turned)
                rec["t"][f"yunet-rot{angle}@{longer}"] = time.perf_counter() - t
                yb = np.c_[r[:, 1], r[:, 2], r[:, 1] + r[:, 3], r[:, 2] + r[:, 4]]
                rec[f"yunet-rot{angle}@{longer}"] = (unrotate_boxes(yb, angle, small.shape[:2]) / f, r[:, 0] / 100)
        out.append(rec)
        if n % 20 == 0:
            print(n, photo.name, {k: round(v, 3) for k, v in rec["t"].items() if "rot" not in k}, flush=True)
    with open(args.out, "wb") as f:
        pickle.dump(out, f)


def augment(args) -> None:
    """Add O-Net's face probability (and its time) for every CenterFace find on the photo."""
    from anonymizer.detection.comparison.verify import onet_scores

    with open(args.dump, "rb") as f:
        recs = pickle.load(f)
    photos = {p.name: p for p in load_photos(args.data)}
    for n, rec in enumerate(recs):
        image = read_rgb(photos[rec["name"]].path)
        boxes = rec["cf"][0]
        t = time.perf_counter()
        rec["cf_onet"] = onet_scores(image, boxes)
        rec["t"]["cf_onet"] = time.perf_counter() - t
        if n % 50 == 0:
            print(n, len(boxes), rec["t"]["cf_onet"], flush=True)
    with open(args.dump, "wb") as f:
        pickle.dump(recs, f)


# ---------------------------------------------------------------- eval


def yunet_boxes(rows: np.ndarray) -> np.ndarray:
    return np.c_[rows[:, 1], rows[:, 2], rows[:, 1] + rows[:, 3], rows[:, 2] + rows[:, 4]].astype(np.float32)


def grow(boxes: np.ndarray, g: float) -> np.ndarray:
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * g / 2
    return np.concatenate([c - half, c + half], axis=1)


def new_only(extra: np.ndarray, found: np.ndarray) -> np.ndarray:
    """The boxes of ``extra`` that overlap no box of ``found`` (the rule the default detector's extra passes use)."""
    return extra[~overlaps_any(extra, found)]


def merged(boxes: np.ndarray, iou: float = 0.3) -> np.ndarray:
    """One box per cluster overlapping at IoU >= ``iou`` (the union of the cluster), as merge_faces does."""
    if len(boxes) < 2:
        return boxes
    m = box_iou(boxes, boxes)
    used = np.zeros(len(boxes), bool)
    out = []
    for i in range(len(boxes)):
        if used[i]:
            continue
        members = np.flatnonzero(~used & (m[i] >= iou))
        used[members] = True
        out.append(np.r_[boxes[members, :2].min(0), boxes[members, 2:].max(0)])
    return np.asarray(out, np.float32)


def score_boxes(recs, pick, mask_scale: float = 1.3):
    """Hidden share per bucket, false per photo, for ``pick(rec) -> boxes``."""
    from types import SimpleNamespace

    from benchmarks.detection import face_zone, paint

    hidden = {b[0]: 0 for b in BUCKETS}
    total = {b[0]: 0 for b in BUCKETS}
    false = 0
    missed = []
    outside = []
    for rec in recs:
        boxes = merged(np.asarray(pick(rec), np.float32).reshape(-1, 4))
        faces = rec["faces"]
        if OUTSIDE:
            zone = face_zone(SimpleNamespace(faces=faces, ignored=rec["ignored"]), rec["shape"])
            covered = np.zeros(rec["shape"], bool)
            for b in boxes:
                paint(covered, "rect", hidden_region(b, mask_scale * (1 + 2 * FEATHER)).astype(np.float64))
            outside.append(np.count_nonzero(covered & ~zone) / covered.size)
        sizes = np.maximum(faces[:, 2] - faces[:, 0], faces[:, 3] - faces[:, 1])
        regions = [hidden_region(b, mask_scale) for b in boxes]
        for _k, (gt, size) in enumerate(zip(faces, sizes)):
            name = next(b[0] for b in BUCKETS if b[1] <= size < b[2])
            total[name] += 1
            ok = any(rect_coverage(gt, r) >= COVER for r in regions)
            hidden[name] += ok
            if not ok and size >= 64:
                missed.append((rec["name"], gt.tolist()))
        every = np.concatenate([faces, rec["ignored"]]).reshape(-1, 4)
        if len(boxes):
            false += int(np.count_nonzero(box_iou(boxes, every).max(axis=1) < 0.3)) if len(every) else len(boxes)
    frac = {k: hidden[k] / max(1, total[k]) for k in hidden}
    if OUTSIDE:
        frac["outside"] = float(np.mean(outside))
    return frac, hidden, false / len(recs), missed


OUTSIDE = False
FEATHER = 0.0  # paint the region grown by this share of its side on each side (the fill's fade band)


VW, VB = (1.90, 0.91, 3.13, 1.54), -3.56


def verifier(rec, thr=0.7, skip=None, prune=True):
    """Weak YuNet candidates kept by the logistic verifier, and the seconds its checks cost.

    ``skip``: boxes already found by another pass; a candidate overlapping one at IoU >= 0.3 is
    kept unexamined (it merges with that face). ``prune``: stop examining once the verdict is certain.
    """
    rows = rec["yunet"]
    cut = np.log(thr / (1 - thr))
    keep, cost = [], 0.0
    for i, near, wide, on, _cfh, tn, tw, to in rec["weak"]:
        box = yunet_boxes(rows[i : i + 1])
        if skip is not None and len(skip) and box_iou(box, skip).max() >= 0.3:
            keep.append(i)
            continue
        s = rows[i, 0] / 100
        known = VW[0] * s + VW[3] * on + VB
        cost += to
        if prune:
            if known + VW[1] + VW[2] < cut:
                continue
            if known >= cut:
                keep.append(i)
                continue
            known += VW[2] * wide
            cost += tw
            if known >= cut:
                keep.append(i)
                continue
            if known + VW[1] < cut:
                continue
            known += VW[1] * near
            cost += tn
        else:
            known += VW[2] * wide + VW[1] * near
            cost += tw + tn
        if known >= cut:
            keep.append(i)
    return keep, cost


def eval_(args) -> None:
    with open(args.dump, "rb") as f:
        recs = pickle.load(f)
    global OUTSIDE, FEATHER
    OUTSIDE = args.outside
    FEATHER = args.feather
    if args.crowd:
        recs = [r for r in recs if len(r["faces"]) >= 8]
    if args.half:
        recs = recs[args.half - 1 :: 2]
    print(f"{len(recs)} photos, {sum(len(r['faces']) for r in recs)} faces")

    def strong_yunet(rec, thr=0.6, key="yunet", min_size=8):
        r = rec[key]
        s = r[:, 0] / 100
        size = np.maximum(r[:, 3], r[:, 4])
        return yunet_boxes(r[(s >= thr) & (size >= min_size)])

    def cf(rec, key="cf", thr=0.2, small_thr=0.22, g=1.2, min_size=8):
        b, s = rec[key][0], rec[key][1]
        size = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
        ok = (size >= min_size) & (s > np.where(size < 32, small_thr, thr))
        return grow(b[ok], g)

    def rot(rec, longer, thr, min_size, net="cf", g=1.2):
        out = []
        for angle in ROTATIONS:
            b, s = rec[f"{net}-rot{angle}@{longer}"]
            size = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
            out.append(grow(b[(s > thr) & (size >= min_size)], g))
        return np.concatenate(out)

    def verified(rec, **kw):
        keep, _ = verifier(rec, **kw)
        return yunet_boxes(rec["yunet"][keep])

    def cat(*parts):
        return np.concatenate([np.asarray(p, np.float32).reshape(-1, 4) for p in parts])

    def t(rec, *keys):
        return sum(rec["t"][k] for k in keys)

    def rot_t(rec, longer, net="cf"):
        return sum(rec["t"][f"{net}-rot{a}@{longer}"] for a in ROTATIONS)

    base = lambda r: cat(strong_yunet(r), cf(r))  # noqa: E731
    configs = {
        "current (yunet+verify+cf)": (
            lambda r: cat(base(r), verified(r, prune=False)),
            lambda r: t(r, "yunet", "cf") + verifier(r, prune=False)[1],
        ),
        "current, pruned verifier": (
            lambda r: cat(base(r), verified(r)),
            lambda r: t(r, "yunet", "cf") + verifier(r)[1],
        ),
        "pruned, skip found": (
            lambda r: cat(base(r), verified(r, skip=base(r))),
            lambda r: t(r, "yunet", "cf") + verifier(r, skip=base(r))[1],
        ),
        "yunet strong + cf": (base, lambda r: t(r, "yunet", "cf")),
        "cf only": (lambda r: cf(r), lambda r: t(r, "cf")),
        "yunet only + verify": (lambda r: cat(strong_yunet(r), verified(r)), lambda r: t(r, "yunet") + verifier(r)[1]),
    }
    for longer in (320, 480, 640):
        for net in ("cf", "yunet"):
            configs[f"skip + {net}@{longer}>=48"] = (
                lambda r, lo=longer, n=net: cat(
                    base(r),
                    verified(r, skip=base(r)),
                    cf(r, f"cf@{lo}", 0.3, 0.3, min_size=48) if n == "cf" else strong_yunet(r, 0.6, f"yunet@{lo}", 48),
                ),
                lambda r, lo=longer, n=net: t(r, "yunet", "cf", f"{n}@{lo}") + verifier(r, skip=base(r))[1],
            )
    for longer in (320, 480, 640):
        for net in ("cf", "yunet"):
            for thr in (0.4, 0.6):
                configs[f"skip + rot {net}@{longer} t{thr}"] = (
                    lambda r, lo=longer, n=net, th=thr: cat(base(r), verified(r, skip=base(r)), rot(r, lo, th, 48, n)),
                    lambda r, lo=longer, n=net: t(r, "yunet", "cf") + verifier(r, skip=base(r))[1] + rot_t(r, lo, n),
                )

    def cf_gated(rec, hi_big, hi_small, lo, gate, g=1.2):
        b, sc, on = rec["cf"][0], rec["cf"][1], rec["cf_onet"]
        size = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
        hi = np.where(size < 32, hi_small, hi_big)
        ok = (size >= 8) & ((sc > hi) | ((sc > lo) & (on >= gate)))
        return grow(b[ok], g)

    if args.gated:
        configs = {}
        for hi_big in (0.15, 0.2):
            for hi_small in (0.2, 0.22, 0.25):
                for lo in (0.08, 0.1, 0.12, 0.14):
                    for gate in (0.5, 0.8, 0.9, 0.95):
                        configs[f"gated {hi_big}/{hi_small} lo {lo} onet {gate} + cf@480"] = (
                            lambda r, a=hi_big, b=hi_small, c=lo, d=gate: cat(
                                cf_gated(r, a, b, c, d), cf(r, "cf@480", 0.3, 0.3, min_size=48)
                            ),
                            lambda r: t(r, "cf", "cf@480", "cf_onet"),
                        )
    if args.large:
        configs = {}
        for key in ("cf@320", "cf@480", "cf@640"):
            for thr in (0.3, 0.45, 0.6, 0.75):
                for min_size in (48, 96, 160):
                    configs[f"cf 0.2/0.16 + {key} t{thr} >= {min_size}"] = (
                        lambda r, k=key, a=thr, m=min_size: cat(
                            cf(r, thr=0.2, small_thr=0.16), cf(r, k, a, a, min_size=m)
                        ),
                        lambda r, k=key: t(r, "cf", k),
                    )
    if args.final:
        configs = {"current (yunet+verify+cf)": configs["current (yunet+verify+cf)"]}
        for big in (0.15, 0.17, 0.2):
            for small in (0.16, 0.18):
                for key, thr in (("cf@640", 0.3), ("cf@640", 0.45), ("cf@480", 0.3), ("cf@480", 0.45)):
                    configs[f"cf {big}/{small} + {key} t{thr} >= 48"] = (
                        lambda r, b=big, sm=small, k=key, a=thr: cat(
                            cf(r, thr=b, small_thr=sm), cf(r, k, a, a, min_size=48)
                        ),
                        lambda r, k=key: t(r, "cf", k),
                    )
    if args.rot:
        chosen = lambda r: cat(cf(r, thr=0.17, small_thr=0.16), cf(r, "cf@640", 0.3, 0.3, min_size=48))  # noqa: E731
        configs = {"chosen": (chosen, lambda r: t(r, "cf", "cf@640"))}
        for longer in (320, 480):
            for thr in (0.4, 0.5, 0.6):
                configs[f"chosen + rot cf@{longer} t{thr}"] = (
                    lambda r, lo=longer, th=thr: cat(chosen(r), rot(r, lo, th, 48)),
                    lambda r, lo=longer: t(r, "cf", "cf@640") + rot_t(r, lo),
                )
                configs[f"chosen + new-only rot cf@{longer} t{thr}"] = (
                    lambda r, lo=longer, th=thr: cat(chosen(r), new_only(rot(r, lo, th, 48), chosen(r))),
                    lambda r, lo=longer: t(r, "cf", "cf@640") + rot_t(r, lo),
                )
    if args.thresholds:
        configs = {"current (yunet+verify+cf)": configs["current (yunet+verify+cf)"]}
        for big in (0.17, 0.2, 0.22):
            for small in (0.16, 0.18, 0.2, 0.22):
                for lt in (0.45, 0.6):

                    def base_(r, a=big, b=small, c=lt):
                        return cat(cf(r, thr=a, small_thr=b), cf(r, "cf@320", c, c, min_size=48))  # noqa: E731

                    configs[f"cf {big}/{small} + cf@320 t{lt} + rot@320"] = (
                        lambda r, b=base_: cat(b(r), new_only(rot(r, 320, 0.5, 48), b(r))),
                        lambda r: t(r, "cf", "cf@320") + rot_t(r, 320),
                    )
    if args.newonly:
        configs = {"current (yunet+verify+cf)": configs["current (yunet+verify+cf)"]}
        configs["cf 0.2/0.22 alone"] = (lambda r: cf(r), lambda r: t(r, "cf"))
        configs["cf 0.17/0.16 alone"] = (lambda r: cf(r, thr=0.17, small_thr=0.16), lambda r: t(r, "cf"))
        for lt in (0.3, 0.45, 0.6):
            for sm in (0.16, 0.18, 0.2):

                def pick(r, c=lt, sm=sm):
                    photo = cf(r, thr=0.17, small_thr=sm)
                    up = cat(photo, new_only(cf(r, "cf@320", c, c, min_size=48), photo))
                    return cat(up, new_only(rot(r, 320, 0.5, 48), up))

                configs[f"cf 0.17/{sm} + new-only cf@320 t{lt} + rot@320"] = (
                    pick,
                    lambda r: t(r, "cf", "cf@320") + rot_t(r, 320),
                )
    if args.small:
        configs = {}
        for key in ("cf@320", "cf@480", "cf@640"):
            for thr in (0.3, 0.45, 0.6):
                base_ = lambda r, k=key, a=thr: cat(cf(r, thr=0.17, small_thr=0.16), cf(r, k, a, a, min_size=48))  # noqa: E731
                configs[f"cf 0.17/0.16 + {key} t{thr} + rot@320"] = (
                    lambda r, b=base_: cat(b(r), new_only(rot(r, 320, 0.5, 48), b(r))),
                    lambda r, k=key: t(r, "cf", k) + rot_t(r, 320),
                )
    if args.grid:
        configs = {}
        for thr in (0.15, 0.2, 0.25):
            for small in (0.14, 0.16, 0.18, 0.2, 0.22):
                configs[f"cf {thr}/{small}"] = (
                    lambda r, a=thr, b=small: cf(r, thr=a, small_thr=b),
                    lambda r: t(r, "cf"),
                )
                configs[f"cf {thr}/{small} + cf@480"] = (
                    lambda r, a=thr, b=small: cat(cf(r, thr=a, small_thr=b), cf(r, "cf@480", 0.3, 0.3, min_size=48)),
                    lambda r: t(r, "cf", "cf@480"),
                )
                configs[f"yunet + cf {thr}/{small} + cf@480"] = (
                    lambda r, a=thr, b=small: cat(
                        strong_yunet(r), cf(r, thr=a, small_thr=b), cf(r, "cf@480", 0.3, 0.3, min_size=48)
                    ),
                    lambda r: t(r, "yunet", "cf", "cf@480"),
                )
    results = {}
    for name, (pick, cost) in configs.items():
        frac, hidden, false, missed = score_boxes(recs, pick)
        secs = sum(cost(r) for r in recs)
        results[name] = dict(frac=frac, false=false, secs=secs, missed=missed)
        print(
            f"{name:34s} "
            + " ".join(f"{k}:{v:.4f}" for k, v in frac.items())
            + f" false/photo {false:.2f} cpu-s/photo {secs / len(recs):.3f} missed>=64 {len(missed)}"
        )
    weak = sum(len(r["weak"]) for r in recs)
    print("weak candidates", weak)
    if args.missed:
        for name in args.missed.split(","):
            print(name, results[name]["missed"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("--data", type=Path, default=DEFAULT_DATA)
    d.add_argument("--out", type=Path, required=True)
    d.add_argument("--limit", type=int, default=None)
    a = sub.add_parser("augment")
    a.add_argument("--data", type=Path, default=DEFAULT_DATA)
    a.add_argument("--dump", type=Path, required=True)
    e = sub.add_parser("eval")
    e.add_argument("--dump", type=Path, required=True)
    e.add_argument("--crowd", action="store_true", help="only photos with 8 faces or more")
    e.add_argument("--gated", action="store_true", help="CenterFace with O-Net on its weak finds")
    e.add_argument("--outside", action="store_true", help="also the share of pixels hidden outside faces")
    e.add_argument("--feather", type=float, default=0.0, help="--outside counts the fill's fade band this wide")
    e.add_argument("--half", type=int, choices=(1, 2), help="only every other photo (1: the first of each pair)")
    e.add_argument("--large", action="store_true", help="the downscaled pass's settings")
    e.add_argument("--final", action="store_true", help="the last candidates")
    e.add_argument("--rot", action="store_true", help="the chosen cascade with turned passes")
    e.add_argument("--thresholds", action="store_true", help="the photo pass's thresholds, with the 320 px passes")
    e.add_argument("--newonly", action="store_true", help="the scaled-down pass keeping only new faces")
    e.add_argument("--small", action="store_true", help="the scaled-down pass at several sizes")
    e.add_argument("--grid", action="store_true", help="CenterFace thresholds instead of the cascades")
    e.add_argument("--missed", default="", help="comma list of configs whose missed faces >= 64 px to list")
    args = ap.parse_args(argv)
    {"dump": dump, "augment": augment, "eval": eval_}[args.cmd](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def turned(dump: Path) -> None:
    """How well CenterFace finds turned faces: its finds on the turned photo, faces upright in the photo,
    are what it finds of faces turned the other way (by symmetry)."""
    with open(dump, "rb") as f:
        recs = pickle.load(f)
    for longer in (320, 480, 640):
        for angle in ROTATIONS:
            for thr in (0.3, 0.5):

                def pick(r, a=angle, lo=longer, th=thr):
                    b, s = r[f"cf-rot{a}@{lo}"]
                    return grow(b[s > th], 1.2)

                frac, hidden, false, missed = score_boxes(recs, pick)
                print(
                    f"faces turned {360 - angle if angle != 180 else 180:3d} deg, CenterFace at {longer}, t{thr}: "
                    + " ".join(f"{k}:{v:.3f}" for k, v in frac.items())
                    + f" false/photo {false:.2f}"
                )
