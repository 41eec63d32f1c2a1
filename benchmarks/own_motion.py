"""How far the tracker's estimate of a face's own motion carries a still face's box off it.

``benchmarks/video.py``'s clips are made by a virtual camera moving over a still photo: no face moves in
the photo, so every own motion the tracker finds (``FaceTracker._own_velocity``: a track's detections'
motion with the camera's taken out) is an error, made of the detector's jitter. When a face is lost on its
way out of the frame, its box is carried at the camera's motion plus that own motion, for as many frames as
the face takes to leave; an error of 1 % of the face's size a frame has moved the box a quarter of the face
away after 25 frames.

This runs ``anonymize --method solid`` in this process on the clips of a ``benchmarks/video.py`` work folder
(make them with ``--half tune``: choose on the tune half), records the last estimate at each end of every
track, and writes their spread (px a frame, and share of the face's size a frame) to ``--out``::

    .venv/bin/python -m benchmarks.video --half tune --seed 5 --no-time --work /tmp/vb_tune5 --out /tmp/vb
    .venv/bin/python -m benchmarks.own_motion --work /tmp/vb_tune5 --out benchmarks/results/own_motion_tune5.md
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from anonymizer import tracking

CARRY = 25  # frames: a typical carry on the way out


def record(clips: Path) -> list[tuple[float, np.ndarray]]:
    """Per track end: the face's size and the last own-motion estimate asked for there."""
    answers: dict[tuple[int, int, bool], tuple[float, np.ndarray]] = {}
    original = tracking.FaceTracker._own_velocity

    def own(self, track, newest=True):
        v = original(self, track, newest)
        size = float(tracking.box_sizes(track.observations[-1 if newest else 0].box)[0])
        answers[(id(self), track.id, newest)] = (size, v.copy())
        return v

    from anonymizer.cli import main

    tracking.FaceTracker._own_velocity = own
    try:
        with tempfile.TemporaryDirectory() as out:
            rc = main(["--input", str(clips), "--out", out, "--method", "solid", "--quiet", "--workers", "1"])
    finally:
        tracking.FaceTracker._own_velocity = original
    if rc:
        raise SystemExit(f"anonymize failed ({rc})")
    return list(answers.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="a benchmarks/video.py --work folder")
    parser.add_argument("--out", type=Path, required=True, help="the results file (markdown)")
    args = parser.parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    ends = record(args.work / "clips")
    speed = np.array([float(np.abs(v).max()) for _, v in ends])
    share = np.array([float(np.abs(v).max()) / max(size, 1.0) for size, v in ends])
    lines = [
        "# A still face's own motion, as the tracker estimates it",
        "",
        f"`python -m benchmarks.own_motion --work {args.work} --out {args.out}`, {started}, "
        f"`OWN_WINDOW` {tracking.OWN_WINDOW}, `OWN_MIN` {getattr(tracking, 'OWN_MIN', '-')}, "
        f"`OWN_SIGNIFICANT` {getattr(tracking, 'OWN_SIGNIFICANT', '-')}.",
        "",
        f"{len(ends)} track ends (clips of a still photo: the true own motion is 0). Largest corner's motion:",
        "",
        "| | median | 90th percentile | largest |",
        "|---|---:|---:|---:|",
        f"| px a frame | {np.median(speed):.2f} | {np.percentile(speed, 90):.2f} | {speed.max():.2f} |",
        f"| share of the face a frame | {np.median(share):.4f} | {np.percentile(share, 90):.4f} | {share.max():.4f} |",
        "",
        f"Track ends whose box would drift more than a quarter of the face in {CARRY} frames: "
        f"{100 * float((share * CARRY > 0.25).mean()):.1f} %.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
