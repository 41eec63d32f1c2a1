"""Video benchmark: faces hidden in every frame, single-frame misses and speed, ours against deface.

Reproduce (from the repository root; deface's venv as in ``benchmarks/detection.py``)::

    # the training run paused while timing; writes benchmarks/results/video.{json,md}
    .venv/bin/python -m benchmarks.video --pause "$(cat data/resume.pid)"
    .venv/bin/python -m benchmarks.video --half tune --no-time --out /tmp/vb   # for choosing settings
    .venv/bin/python -m benchmarks.video --reuse --rerun-ours --half tune --no-time --out /tmp/vb  # ours again

**Clips with known faces.** Each clip is made from one WIDER photo (``shared/data/wider``, photos with 5 or
more annotated faces of 12 px or more, chosen with a fixed seed from ``--half``: the report half of
``benchmarks/wider_split.py`` by default, the tune half for choosing settings): a virtual camera of 1280x720
moves across the photo and zooms, with a little hand-held shake, so every frame's face boxes are the
photo's, moved and scaled. ``--paths exit`` (the default): a close window (40-65 % of the photo's width)
goes from one place to a second and on to a third over ``--frames`` frames at 25 fps, so faces leave the
frame across its edges and come back in; it never zooms so close that a face grows past 80 % of the
frame's height. ``--paths pan``: one move, the window 60-100 % of the photo's width. The frames are
encoded with libx264 at CRF 12 (``clip_NN.mp4``); the benchmark reads the clip back, so both tools see the
same decoded frames. A face counts in a frame from 20 px (:func:`counts`): 20 px or more on its longer
side, and where the frame's edge cuts it, 20 px or more of it in the picture across the cut; what is judged
is the part of its box inside the frame.

**Hidden**, judged from the pixels: both tools run with a solid fill (``anonymize --method solid``;
``deface --replacewith solid``) and their outputs are decoded; a pixel is hidden when a channel moved by
24 or more against the decoded input (above the encoders' noise), or when it is black (every channel
under 16: the fill, over a face so dark that black hardly changes it), and a face-frame is hidden when
70 % or more of its box is. Per face over the frames it is in: the share of face-frames hidden (all, by
size, and of those the frame's edge cuts), *single-frame misses* (a frame where it shows, with hidden
frames just before and after), and the longest run of consecutive frames it shows (a run ends where the
face is out of the picture).

Tracks and borders are chosen on the tune half's clips (``--half tune``); the figures are the report
half's.

**Speed**: each tool, as a user runs it, from a fresh process, with its default blur, on every clip
(``anonymize --input clips/ --out OUT``; ``deface clip.mp4 -o OUT``, once per clip), wall-clock, start-up
included; frames/s is the clips' frames over the summed time, median of ``--repeats`` alternating runs.
The stage clip of ``shared/data/video`` (640x360, no known boxes) is timed the same way.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.common import (
    ANONYMIZE,
    DEFACE,
    ROOT,
    add_pause_argument,
    paused,
    timed,
    write_results,
)
from benchmarks.detection import DEFAULT_DATA, load_photos, read_rgb
from benchmarks.wider_split import HALVES, select_half

STAGE = ROOT.parent / "shared" / "data" / "video" / "stage_and_audience.mp4"
SIZE = (1280, 720)
FPS = 25
MIN_FACE = 20  # px in the frame
CHANGED = 24
FILL = 16  # an output pixel darker than this in every channel is the solid (black) fill
COVER = 0.7
BUCKETS = (("20-32", 20, 32), ("32-64", 32, 64), (">=64", 64, 10**9))


def _camera(
    rng: np.random.Generator, photo_w: int, photo_h: int, frames: int, paths: str = "pan", largest_face: float = 0.0
) -> np.ndarray:
    """Per frame: the window's top-left corner and width, in photo pixels (height from 16:9).

    ``pan``: one move from one place and zoom to another, the window 60-100 % of the photo's width.
    ``exit``: a closer window (40-65 %) that goes to a second place and on to a third, so that faces
    leave the frame across its edges and come back in; it is never so close that the ``largest_face`` (its
    longer side, photo px) grows past 80 % of the frame's height.
    """
    legs, low, high = (1, 0.6, 1.0) if paths == "pan" else (2, 0.4, 0.65)
    widths = rng.uniform(low, high, size=legs + 1) * photo_w
    if largest_face:  # no face grows past 80 % of the frame's height (a close-up of a forehead is no face)
        widths = np.maximum(widths, largest_face * SIZE[0] / (0.8 * SIZE[1]))
    widths = np.minimum(widths, np.minimum(photo_w, photo_h * 16 / 9))
    places = rng.uniform(0, 1, size=(legs + 1, 2))
    t = np.linspace(0.0, legs, frames)
    leg = np.minimum(t.astype(int), legs - 1)
    ease = (0.5 - 0.5 * np.cos(np.pi * (t - leg)))[:, None]
    w = widths[leg] + (widths[leg + 1] - widths[leg]) * ease[:, 0]
    h = w * 9 / 16
    f = places[leg] + (places[leg + 1] - places[leg]) * ease
    shake = rng.normal(0, 1.0, size=(frames, 2)).cumsum(0) * 0.4  # a slow hand-held wander, in photo px
    x = f[:, 0] * (photo_w - w) + shake[:, 0]
    y = f[:, 1] * (photo_h - h) + shake[:, 1]
    x = np.clip(x, 0, photo_w - w)
    y = np.clip(y, 0, photo_h - h)
    return np.stack([x, y, w], axis=1)


def counts(box: list[float]) -> list[float] | None:
    """The visible part of a face's box in the frame when the face counts there, else None.

    A face counts from 20 px: 20 px or more on its longer side, and, where the frame's edge cuts it, at
    least 20 px of it visible across the cut (or all of it, when it is smaller than that).
    """
    x1, y1, x2, y2 = box
    vx1, vy1, vx2, vy2 = max(x1, 0.0), max(y1, 0.0), min(x2, SIZE[0]), min(y2, SIZE[1])
    fw, fh, vw, vh = x2 - x1, y2 - y1, vx2 - vx1, vy2 - vy1
    if max(fw, fh) < MIN_FACE or vw < min(MIN_FACE, fw) or vh < min(MIN_FACE, fh):
        return None
    return [vx1, vy1, vx2, vy2]


def make_clip(photo, path: Path, frames: int, seed: int, paths: str = "pan") -> list[list[list[float]]]:
    """Write the clip; return per frame the faces that count in it (:func:`counts`): the visible part of the
    box (x1, y1, x2, y2), the face index, its size in the frame and whether the frame's edge cuts it."""
    import av

    image = read_rgb(photo.path)
    ph, pw = image.shape[:2]
    largest = float(np.max(photo.faces[:, 2:] - photo.faces[:, :2])) if len(photo.faces) else 0.0
    cam = _camera(np.random.default_rng(seed), pw, ph, frames, paths, largest)
    truth = []
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "12", "preset": "fast"}
        for x, y, w in cam:
            s = SIZE[0] / w
            warp = np.array([[s, 0, -x * s], [0, s, -y * s]], dtype=np.float64)
            frame = cv2.warpAffine(image, warp, SIZE, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            faces = []
            for i, (x1, y1, x2, y2) in enumerate(photo.faces):
                b = [(x1 - x) * s, (y1 - y) * s, (x2 - x) * s, (y2 - y) * s]
                visible = counts(b)
                if visible is not None:
                    cut = visible != b
                    faces.append([*visible, i, max(b[2] - b[0], b[3] - b[1]), cut])
            truth.append(faces)
        out.mux(stream.encode(None))
    return truth


def clip_photo(data: Path, seed: int):
    """The first tune-half WIDER photo with five or more faces of 12 px or more, in a seeded order."""
    photos = select_half(load_photos(data), "tune")
    usable = [p for p in photos if (np.max(p.faces[:, 2:] - p.faces[:, :2], axis=1) >= 12).sum() >= 5]
    return usable[np.random.default_rng(seed).integers(len(usable))]


def timing_clip(photo, path: Path, size: str, frames: int, seed: int) -> None:
    """The clip the timing benchmarks (``video_profile``, ``video_encoder``) run on: an ``exit`` clip of
    ``photo`` at ``size`` (WxH), which becomes this module's frame size (:data:`SIZE`) from here on."""
    global SIZE
    SIZE = tuple(int(v) for v in size.split("x"))
    make_clip(photo, path, frames, seed, "exit")


def decode(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def measure(inputs: list[np.ndarray], outputs: list[np.ndarray], truth: list[list]) -> dict:
    """Per face: (frame, hidden, size, cut by the edge) for each frame it counts in."""
    per_face: dict[int, list[tuple[int, bool, float, bool]]] = {}
    for k, faces in enumerate(truth):
        if k >= len(outputs) or outputs[k].shape != inputs[k].shape:
            changed = np.zeros(inputs[k].shape[:2], bool)  # a missing or resized frame hides nothing
        else:
            after = outputs[k].astype(np.int16)
            changed = np.abs(after - inputs[k].astype(np.int16)).max(axis=2) >= CHANGED
            changed |= after.max(axis=2) < FILL  # the black fill over pixels that were already nearly black
        for x1, y1, x2, y2, i, size, cut in faces:
            box = changed[int(round(y1)) : int(round(y2)), int(round(x1)) : int(round(x2))]
            hidden = box.size > 0 and box.mean() >= COVER
            per_face.setdefault(int(i), []).append((k, bool(hidden), float(size), bool(cut)))
    return per_face


def summarize(per_face_all: list[dict]) -> dict:
    hidden = {b[0]: 0 for b in BUCKETS}
    total = {b[0]: 0 for b in BUCKETS}
    singles = longest = cut_total = cut_hidden = 0
    for per_face in per_face_all:
        for frames in per_face.values():
            for _, ok, size, cut in frames:
                bucket = next(b[0] for b in BUCKETS if b[1] <= size < b[2])
                total[bucket] += 1
                hidden[bucket] += ok
                cut_total += cut
                cut_hidden += ok and cut
            run = 0
            for j, (k, ok, *_) in enumerate(frames):
                if j and frames[j - 1][0] != k - 1:
                    run = 0  # the face was out of the frame (or under 20 px) in between
                run = 0 if ok else run + 1
                longest = max(longest, run)
                if not ok and 0 < j < len(frames) - 1:
                    prev, nxt = frames[j - 1], frames[j + 1]
                    if prev[1] and nxt[1] and prev[0] == k - 1 and nxt[0] == k + 1:
                        singles += 1
    n_hidden, n_total = sum(hidden.values()), sum(total.values())
    return {
        "face_frames": n_total,
        "hidden": n_hidden / n_total if n_total else None,
        "hidden_by_size": {b: (hidden[b] / total[b] if total[b] else None) for b in hidden},
        "face_frames_by_size": total,
        "cut_face_frames": cut_total,
        "cut_hidden": cut_hidden / cut_total if cut_total else None,
        "single_frame_misses": singles,
        "longest_visible_run": longest,
    }


def run_ours(clips: Path, out: Path, extra: list[str]) -> float:
    shutil.rmtree(out, ignore_errors=True)
    return timed([str(ANONYMIZE), "--input", str(clips), "--out", str(out), "--quiet", *extra])


def run_deface(clip_paths: list[Path], out: Path, extra: list[str]) -> float:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return sum(timed([str(DEFACE), str(p), "-o", str(out / p.name), *extra]) for p in clip_paths)


def markdown(result: dict) -> str:
    lines = [
        "# Video benchmark",
        "",
        f"`{result['command']}`, {result['when']}, {result['machine']}.",
        "",
        f"{result['clips']} {result.get('paths', 'pan')} clips of {SIZE[0]}x{SIZE[1]} at {FPS} fps from WIDER "
        f"photos ({result.get('half', 'all')} half), {result['frames']} frames, "
        f"{result['ours']['face_frames']} face-frames of {MIN_FACE} px or more, "
        f"{result['ours'].get('cut_face_frames', 0)} of them cut by the frame's edge.",
        "",
        "| tool | face-frames hidden | 20-32 px | 32-64 px | >=64 px | cut by the edge | single-frame misses "
        f"| longest visible run | frames/s (blur, {SIZE[1]}p) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for tool in ("ours", "deface"):
        r = result[tool]
        by = r["hidden_by_size"]
        cells = [f"{100 * by[b[0]]:.2f}%" if by[b[0]] is not None else "-" for b in BUCKETS]
        cells.append(f"{100 * r['cut_hidden']:.2f}%" if r.get("cut_hidden") is not None else "-")
        fps = result["speed"].get(tool)
        lines.append(
            f"| {tool} | **{100 * r['hidden']:.2f}%** | {' | '.join(cells)} | {r['single_frame_misses']} "
            f"| {r['longest_visible_run']} | {fps:.2f} |"
            if fps
            else f"| {tool} | **{100 * r['hidden']:.2f}%** | {' | '.join(cells)} | {r['single_frame_misses']} "
            f"| {r['longest_visible_run']} | - |"
        )
    if result["speed"].get("ours") and result["speed"].get("deface"):
        ratio = result["speed"]["deface"] / result["speed"]["ours"]
        lines += [
            "",
            f"Whole-process time, ours over deface's: **{ratio:.2f}x** (median of {len(result['times']['ours'])}).",
        ]
    stage = result.get("stage")
    if stage:
        lines += [
            "",
            f"Stage clip ({stage['frames']} frames, 640x360): ours {stage['ours_fps']:.2f} frames/s, "
            f"deface {stage['deface_fps']:.2f} frames/s (blur, whole process).",
        ]
    if result.get("paused_during_timing"):
        lines += [
            "",
            f"The process given to --pause (pid {result['paused_during_timing']}) was stopped while the tools were timed.",
        ]
    lines += ["", "Frame counts: " + ", ".join(f"{k} {v}" for k, v in result["frame_counts"].items()), ""]
    return "\n".join(lines)


def timings(args, result: dict, clips: Path, clip_paths: list[Path], extra: list[str]) -> None:
    """Each tool's blur, timed on the clips and on the stage clip: ``result["times"]``, ``["speed"]``, ``["stage"]``."""
    times = {"ours": [], "deface": [], "ours_stage": [], "deface_stage": []}
    stage_dir = args.work / "stage"
    stage_dir.mkdir()
    if STAGE.exists():
        shutil.copyfile(STAGE, stage_dir / STAGE.name)
    for _ in range(args.repeats):
        times["ours"].append(run_ours(clips, args.work / "ours-blur", extra))
        times["deface"].append(run_deface(clip_paths, args.work / "deface-blur", []))
        if STAGE.exists():
            times["ours_stage"].append(run_ours(stage_dir, args.work / "ours-stage", extra))
            times["deface_stage"].append(run_deface([stage_dir / STAGE.name], args.work / "deface-stage", []))
    result["times"] = times
    for tool in ("ours", "deface"):
        result["speed"][tool] = result["frames"] / statistics.median(times[tool])
    if STAGE.exists():
        frames = len(decode(STAGE))
        result["stage"] = {
            "frames": frames,
            "ours_fps": frames / statistics.median(times["ours_stage"]),
            "deface_fps": frames / statistics.median(times["deface_stage"]),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--size", default="1280x720", help="the clips' frame size, WxH (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--paths",
        choices=("pan", "exit"),
        default="exit",
        help="pan: one move across the photo; exit: a closer window that carries faces out of the frame and back",
    )
    parser.add_argument("--half", choices=HALVES, default="report", help="the WIDER photos the clips come from")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs of each tool (median)")
    parser.add_argument("--no-time", action="store_true", help="only the pixel measure")
    parser.add_argument("--work", type=Path, default=Path("/tmp/anonymizer-video-bench"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--name", default="video")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the clips and outputs already in --work (no new runs)"
    )
    parser.add_argument(
        "--rerun-ours",
        action="store_true",
        help="with --reuse: run ours again on the clips in --work (deface's outputs there are measured as they are)",
    )
    add_pause_argument(parser)
    parser.add_argument("--ours", default="", help="extra arguments for anonymize, e.g. '--detector centerface'")
    args = parser.parse_args(argv)
    global SIZE
    SIZE = tuple(int(v) for v in args.size.split("x"))

    rng = np.random.default_rng(args.seed)
    photos = [
        p
        for p in select_half(load_photos(args.data), args.half)
        if (np.maximum(p.faces[:, 2] - p.faces[:, 0], 1) >= 12).sum() >= 5
    ]
    chosen = [photos[i] for i in sorted(rng.choice(len(photos), size=args.clips, replace=False))]
    clips = args.work / "clips"
    if not args.reuse:
        shutil.rmtree(args.work, ignore_errors=True)
        clips.mkdir(parents=True)
    truths = []
    for n, photo in enumerate(chosen):
        path = clips / f"clip_{n:02d}.mp4"
        truths.append(
            make_clip(
                photo,
                path if not args.reuse else args.work / "scratch.mp4",
                args.frames,
                args.seed * 1000 + n,
                args.paths,
            )
        )
        print(f"clip {n}: {photo.name}, {sum(len(t) for t in truths[-1])} face-frames", file=sys.stderr)
    clip_paths = sorted(clips.glob("*.mp4"))
    extra = args.ours.split()

    # pixels: solid fill
    if args.rerun_ours:
        run_ours(clips, args.work / "ours-solid", ["--method", "solid", *extra])
    if not args.reuse:
        run_ours(clips, args.work / "ours-solid", ["--method", "solid", *extra])
        run_deface(clip_paths, args.work / "deface-solid", ["--replacewith", "solid"])
    result: dict = {
        "command": "python -m benchmarks.video " + " ".join(argv if argv is not None else sys.argv[1:]),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "size": list(SIZE),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "clips": len(clip_paths),
        "paths": args.paths,
        "half": args.half,
        "frames": args.frames * len(clip_paths),
        "photos": [p.name for p in chosen],
        "frame_counts": {},
    }
    for tool, folder in (("ours", args.work / "ours-solid"), ("deface", args.work / "deface-solid")):
        per_clip = []
        counts = []
        for path, truth in zip(clip_paths, truths):
            inputs, outputs = decode(path), decode(folder / path.name)
            counts.append(f"{len(outputs)}/{len(inputs)}" + ("" if outputs[0].shape == inputs[0].shape else " resized"))
            per_clip.append(measure(inputs, outputs, truth))
        result[tool] = summarize(per_clip)
        result[tool]["per_clip"] = [summarize([c]) for c in per_clip]
        result["frame_counts"][tool] = ", ".join(sorted(set(counts)))
        print(tool, {k: v for k, v in result[tool].items() if k != "per_clip"}, file=sys.stderr)

    result["speed"] = {}
    if not args.no_time and not args.reuse:
        with paused(args.pause):
            timings(args, result, clips, clip_paths, extra)
        result["paused_during_timing"] = args.pause
    earlier = args.out / f"{args.name}.json"
    if args.reuse and earlier.exists():  # the timings of the run that made the outputs
        before = json.loads(earlier.read_text())
        for key in ("speed", "times", "stage", "when", "command"):
            if key in before:
                result[key] = before[key]
    write_results(args.out, args.name, result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
