"""Choose how often a video's frames are searched (``VideoOptions.search_every``, ``extra_every``), offline.

Detection is most of a video frame's time (``benchmarks/results/video_profile.md``). The tracker already
bridges frames where the detector sees nothing (it interpolates between detections, hides a face ``lead`` frames
before its first detection and ``tail`` after its last, and carries boxes with the camera's motion), so a frame
need not be searched for its faces to be hidden. An arm ``S/E`` searches every ``S``-th frame with the frame's
pass and every ``E``-th frame (a multiple of ``S``) with the extra passes too (scaled down, turned, RetinaFace,
and the weak finds); the camera's motion is measured on every frame.

Clips are made as ``benchmarks/video.py`` makes them (the same photos, camera paths and seeds, ``--paths
exit``). Each frame is searched once with the frame's pass alone and once with every pass (cached in
``--work``), and each arm picks per frame what it would have found; the tracks are then judged from the pixels
as ``benchmarks/video_edge_study.py`` does (a face-frame is hidden when 70 % of its visible box is covered).
``1/3`` is what the video search did before this study::

    .venv/bin/python -m benchmarks.video_cadence_study --seed 2 --half tune --out /tmp/cadence_2.json

Choose on the tune half; check the choice on the report half with ``benchmarks/video.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import pickle
import sys
from pathlib import Path

import numpy as np

from anonymizer.detection.registry import make_detector
from anonymizer.motion import CameraMotion
from anonymizer.tracking import DEFAULT_WEAK, FaceTracker
from benchmarks import video as V
from benchmarks.video_edge_study import judge
from benchmarks.wider_split import HALVES, select_half


def search(frames: list[np.ndarray]) -> list[tuple[list, list, np.ndarray | None]]:
    """Each frame's faces by the frame's pass alone and by every pass (with weak finds), and the camera's
    motion into it, as ``anonymizer.video`` finds them."""
    detector = make_detector("default").with_border()
    motion = CameraMotion()
    return [
        (detector.detect(rgb, extra=False), detector.detect(rgb, extra=True, weak=DEFAULT_WEAK), motion.update(rgb))
        for rgb in frames
    ]


UNSETTLED_NEW = 2  # a track this new (frames) unsettles the tracker
UNSETTLED_GAP = 2  # and so does one without a detection for this many frames (within the look-ahead)


def unsettled(tracker: FaceTracker) -> bool:
    """Whether a face may be coming, going or lost, from the frames pushed so far: a track (not of weak finds
    alone) that started in the last ``UNSETTLED_NEW`` frames, that the last searches missed, or whose last box
    is at the frame's edge."""
    last = tracker._next_frame - 1
    for track in tracker.tracks:
        if track.strong == 0:
            continue
        gap = last - track.last.frame
        if gap > tracker.lookahead:
            continue
        if track.observations[0].frame >= last - UNSETTLED_NEW or gap >= UNSETTLED_GAP:
            return True
        if tracker._at_edge(track.last.box):
            return True
    return False


def search_scaled(frames: list[np.ndarray], scale: float) -> list[list]:
    """Each frame's faces by the frame's pass alone, run on the frame scaled by ``scale``."""
    detector = make_detector("default").with_border()
    return [detector.detect(rgb, extra=False, scale=scale) for rgb in frames]


def tracked(
    found: list[tuple[list, list, np.ndarray | None]],
    every: int,
    extra_every: int,
    adaptive: bool = False,
    between: list[list] | None = None,
) -> tuple[list[dict], int]:
    """The report's tracks when every ``every``-th frame is searched, every ``extra_every``-th with all passes,
    and with ``adaptive`` every frame too while the tracker is unsettled (decided, as ``anonymizer.video``
    decides, from the frames tracked up to two before); the frames not searched get ``between``'s faces (the
    frame's pass on the frame scaled down) when it is given; and how many frames were searched in full."""
    tracker = FaceTracker(frame_size=V.SIZE)
    decided = {0: True, 1: True}  # frame -> searched: frame k is decided once frame k-2 is tracked
    searched = 0
    for k, (plain, extra, motion) in enumerate(found):
        search = k % every == 0 or (adaptive and decided.get(k, False))
        searched += search
        faces = (between[k] if between else []) if not search else extra if k % extra_every == 0 else plain
        tracker.push(k, [dataclasses.replace(f) for f in faces], motion)
        decided[k + 2] = unsettled(tracker)
    tracker.finish()
    return [t.to_report() for t in tracker.all_tracks if t.hidden], searched


def cost(every: int, extra_every: int, extra_cost: float) -> float:
    """Detection time per frame relative to the frame's pass on every frame (``extra_cost``: the extra passes'
    time over the frame pass's), searching every ``every``-th frame."""
    return 1.0 / every + extra_cost / extra_every


def cached(path: Path, make):
    """What ``make()`` gives, kept in ``path`` (pickled) and read from there when it is already there."""
    if path.exists():
        return pickle.loads(path.read_bytes())
    value = make()
    path.write_bytes(pickle.dumps(value))
    return value


def parse_arm(arm: str) -> tuple[int, int, bool, float]:
    """``S/E``, ``Sa/E`` or either with ``hF`` after it (the frames between searched ones get the frame's pass
    at scale F): (S, E, adaptive, F or 0)."""
    head, tail = arm.split("/")
    extra, _, scale = tail.partition("h")
    return int(head.rstrip("a")), int(extra), "a" in head, float(scale) if scale else 0.0


def arm_name(arm: tuple[int, int, bool, float]) -> str:
    return f"{arm[0]}{'a' if arm[2] else ''}/{arm[1]}" + (f"h{arm[3]:g}" if arm[3] else "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", type=Path, default=Path("/tmp/video_cadence"), help="clips and searches are kept here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--half", choices=HALVES, default="tune")
    p.add_argument("--data", type=Path, default=V.DEFAULT_DATA)
    p.add_argument("--clips", type=int, default=8)
    p.add_argument("--frames", type=int, default=150)
    p.add_argument(
        "--arms",
        nargs="+",
        default=["1/3", "2/6", "2a/6", "3a/6", "2a/4"],
        help="S/E pairs; Sa/E: also every frame while the tracker is unsettled; a suffix hF (2/6h0.5): the frames "
        "between searched ones get the frame's pass on the frame scaled by F",
    )
    p.add_argument("--extra-cost", type=float, default=0.35, help="the extra passes' time over the frame pass's")
    p.add_argument("--out", type=Path, help="a JSON file for the figures")
    args = p.parse_args(argv)
    arms = [parse_arm(a) for a in args.arms]
    for s, e, _, _ in arms:
        if e % s:
            raise SystemExit(f"arm {s}/{e}: the extra passes' frames must be searched frames (E a multiple of S)")
    rng = np.random.default_rng(args.seed)
    photos = [
        ph
        for ph in select_half(V.load_photos(args.data), args.half)
        if (np.maximum(ph.faces[:, 2] - ph.faces[:, 0], 1) >= 12).sum() >= 5
    ]
    chosen = [photos[i] for i in sorted(rng.choice(len(photos), size=args.clips, replace=False))]
    work = args.work / f"{args.half}_{args.seed}"
    work.mkdir(parents=True, exist_ok=True)
    per_arm: dict = {a: [] for a in arms}
    outside = {a: [0, 0] for a in arms}
    searched = {a: [0, 0] for a in arms}
    for n, photo in enumerate(chosen):
        clip = work / f"clip_{n:02d}.mp4"
        truth = V.make_clip(photo, clip, args.frames, args.seed * 1000 + n, "exit")
        frames = V.decode(clip)
        found = cached(work / f"search_{n:02d}.pkl", functools.partial(search, frames))
        image = V.read_rgb(photo.path)
        largest = float(np.max(photo.faces[:, 2:] - photo.faces[:, :2])) if len(photo.faces) else 0.0
        cam = V._camera(
            np.random.default_rng(args.seed * 1000 + n), image.shape[1], image.shape[0], args.frames, "exit", largest
        )
        between = {
            scale: cached(work / f"search_{n:02d}_x{scale:g}.pkl", functools.partial(search_scaled, frames, scale))
            for scale in {arm[3] for arm in arms if arm[3]}
        }
        for arm in arms:
            tracks, n_searched = tracked(found, *arm[:3], between.get(arm[3]))
            searched[arm][0] += n_searched
            searched[arm][1] += len(found)
            per_face, covered = judge(tracks, truth, frames, photo, cam)
            per_arm[arm].append(per_face)
            outside[arm][0] += covered[0]
            outside[arm][1] += covered[1]
        print(f"clip {n} ({photo.name}) done", file=sys.stderr)
    result = {}
    for arm in arms:
        s = V.summarize(per_arm[arm])
        s["outside_faces"] = outside[arm][0] / outside[arm][1]
        share = searched[arm][0] / searched[arm][1]  # of the frames, those searched
        s["searched"] = share
        s["detection_cost"] = (share + (1 - share) * arm[3] ** 2 + args.extra_cost / arm[1]) / cost(
            1, 3, args.extra_cost
        )
        name = arm_name(arm)
        result[name] = s
        print(
            f"{name:<5}: searched {100 * share:.0f} % hidden {s['hidden'] * 100:.2f} % cut {s['cut_hidden'] * 100:.2f} % "
            f"single-frame misses {s['single_frame_misses']} longest {s['longest_visible_run']} "
            f"outside faces {s['outside_faces'] * 100:.2f} % detection {s['detection_cost']:.2f}x"
        )
    if args.out:
        args.out.write_text(json.dumps({"seed": args.seed, "half": args.half, "arms": result}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
