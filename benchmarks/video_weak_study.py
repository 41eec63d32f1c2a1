"""Choose the video search's weak finds (``VideoOptions.weak``) and how many a track needs (``confirm``), offline.

Some faces the default detector never finds in a clip (a dark photo, a face half behind an arm, a blurred
one) still score 0.1-0.34 on its scaled-down pass, under that pass's threshold (0.45). This study keeps such
finds as *weak* ones: a track made of weak finds only is hidden once ``confirm`` of them are in it.

It runs the video search once per clip of a ``benchmarks/video.py`` work folder (the padded cascade, its extra
passes on every third frame, the camera's motion: what ``anonymizer.video`` does), keeping every weak find
from the lowest ``--weak``. Then, for each pair (weak, confirm), it tracks the kept finds with
:class:`~anonymizer.tracking.FaceTracker` and judges the tracks' hidden boxes as
``benchmarks/video_edge_study.py`` does: the pixels a solid fill changes (a face-frame is hidden when 70 % of
its visible box changed), and the share of the frame covered outside every face (the cost). ``--weak none``
is the search without weak finds; it reproduces ``benchmarks/video.py``'s figures for ours, a check of the
rebuild::

    .venv/bin/python -m benchmarks.video_weak_study --work /tmp/vb_tune4 --seed 4 --half tune \\
        --weak none 0.3 0.25 0.2 0.15 --confirm 2 3 4 6

Choose on the tune half; report on the other with ``benchmarks/video.py`` and the chosen defaults.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np

from anonymizer.detection.registry import make_detector
from anonymizer.motion import CameraMotion
from anonymizer.tracking import FaceTracker
from anonymizer.video import VideoOptions
from benchmarks import video as V
from benchmarks.video_edge_study import judge
from benchmarks.wider_split import HALVES, select_half


def search(frames: list[np.ndarray], weak: float | None, every: int) -> list[tuple[list, np.ndarray | None]]:
    """Each frame's faces and the camera's motion into it, as ``anonymizer.video`` finds them."""
    detector = make_detector("default").with_border()
    motion = CameraMotion()
    out = []
    for k, rgb in enumerate(frames):
        m = motion.update(rgb)
        out.append((detector.detect(rgb, extra=k % every == 0, weak=weak), m))
    return out


def tracked(found: list[tuple[list, np.ndarray | None]], weak: float | None, confirm: int) -> list[dict]:
    """The report's tracks of the frames' finds, weak finds under ``weak`` (all where None) left out."""
    tracker = FaceTracker(confirm=confirm, frame_size=V.SIZE)
    for k, (faces, motion) in enumerate(found):
        kept = [f for f in faces if f.source != "weak" or (weak is not None and f.score >= weak)]
        tracker.push(k, kept, motion)
    tracker.finish()
    return [t.to_report() for t in tracker.all_tracks if t.hidden]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", type=Path, required=True, help="benchmarks/video.py's --work folder (its clips/)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--half", choices=HALVES, default="tune")
    p.add_argument("--data", type=Path, default=V.DEFAULT_DATA)
    p.add_argument("--frames", type=int, default=150)
    p.add_argument("--weak", nargs="+", default=["none", "0.3", "0.25", "0.2"], help="thresholds, or none")
    p.add_argument("--confirm", type=int, nargs="+", default=[2, 3, 4, 6])
    p.add_argument("--out", type=Path, help="a JSON file for the figures")
    args = p.parse_args(argv)
    weaks = [None if w == "none" else float(w) for w in args.weak]
    lowest = min((w for w in weaks if w is not None), default=None)
    every = VideoOptions().extra_every

    photos = [
        ph
        for ph in select_half(V.load_photos(args.data), args.half)
        if (np.maximum(ph.faces[:, 2] - ph.faces[:, 0], 1) >= 12).sum() >= 5
    ]
    clips = sorted((args.work / "clips").glob("clip_*.mp4"))
    rng = np.random.default_rng(args.seed)
    chosen = [photos[i] for i in sorted(rng.choice(len(photos), size=len(clips), replace=False))]
    arms = [(w, c) for w in weaks for c in (args.confirm if w is not None else [args.confirm[0]])]
    per_arm: dict = {a: [] for a in arms}
    outside = {a: [0, 0] for a in arms}
    scratch = Path("/tmp") / f"video_weak_study_{args.seed}.mp4"
    for n, photo in enumerate(chosen):
        truth = V.make_clip(photo, scratch, args.frames, args.seed * 1000 + n, "exit")
        frames = V.decode(clips[n])
        cache = args.work / f"weak_search_{n:02d}_{lowest}.pkl"
        if cache.exists():
            found = pickle.loads(cache.read_bytes())
        else:
            found = search(frames, lowest, every)
            cache.write_bytes(pickle.dumps(found))
        image = V.read_rgb(photo.path)
        largest = float(np.max(photo.faces[:, 2:] - photo.faces[:, :2])) if len(photo.faces) else 0.0
        cam = V._camera(
            np.random.default_rng(args.seed * 1000 + n), image.shape[1], image.shape[0], args.frames, "exit", largest
        )
        for arm in arms:
            tracks = tracked(found, *arm)
            per_face, covered = judge(tracks, truth, frames, photo, cam)
            per_arm[arm].append(per_face)
            outside[arm][0] += covered[0]
            outside[arm][1] += covered[1]
        print(f"clip {n} ({photo.name}) done", file=sys.stderr)
    scratch.unlink(missing_ok=True)
    result = {}
    for arm in arms:
        s = V.summarize(per_arm[arm])
        s["outside_faces"] = outside[arm][0] / outside[arm][1]
        name = "none" if arm[0] is None else f"weak {arm[0]} confirm {arm[1]}"
        result[name] = s
        print(
            f"{name:>24}: hidden {s['hidden'] * 100:.2f} % cut {s['cut_hidden'] * 100:.2f} % single-frame misses "
            f"{s['single_frame_misses']} longest {s['longest_visible_run']} outside faces {s['outside_faces'] * 100:.2f} %"
        )
    if args.out:
        args.out.write_text(json.dumps({"seed": args.seed, "half": args.half, "arms": result}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
