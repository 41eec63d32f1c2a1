"""Video benchmark: faces hidden in every frame, single-frame misses and speed, ours against deface.

Reproduce (from the repository root; deface's venv as in ``benchmarks/detection.py``)::

    .venv/bin/python benchmarks/video.py                  # writes benchmarks/results/video.{json,md}
    .venv/bin/python benchmarks/video.py --clips 2 --frames 60 --out /tmp/vb   # a quick run

**Clips with known faces.** Each clip is made from one WIDER photo (``shared/data/wider``, photos with 5 or
more annotated faces of 12 px or more, chosen with a fixed seed): a virtual camera of 1280x720 pans across
the photo and zooms in or out (the window 60-100 % of the photo's width, moving from one corner region to
another over ``--frames`` frames at 25 fps, with a little hand-held shake), so every frame's face boxes are
the photo's, moved and scaled. The frames are encoded with libx264 at CRF 12 (``clip_NN.mp4``); the
benchmark reads the clip back, so both tools see the same decoded frames. A face counts in a frame when its
box lies wholly inside the frame and is 20 px or more on its longer side there.

**Hidden**, judged from the pixels: both tools run with a solid fill (``anonymize --method solid``;
``deface --replacewith solid``) and their outputs are decoded; a pixel is hidden when a channel moved by
24 or more against the decoded input (above the encoders' noise), or when it is black (every channel
under 16: the fill, over a face so dark that black hardly changes it), and a face-frame is hidden when
70 % or more of its box is. Per face over the frames it is in: the share of face-frames hidden (all, and by
size), *single-frame misses* (a frame where it shows, with hidden frames just before and after), and the
longest run of consecutive frames it shows.

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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from crowd import timed  # noqa: E402
from detection import DEFAULT_DATA, load_photos, read_rgb  # noqa: E402

DEFACE = ROOT / "benchmarks" / ".venv-deface" / "bin" / "deface"
ANONYMIZE = Path(sys.executable).parent / "anonymize"
STAGE = ROOT.parent / "shared" / "data" / "video" / "stage_and_audience.mp4"
SIZE = (1280, 720)
FPS = 25
MIN_FACE = 20  # px in the frame
CHANGED = 24
FILL = 16  # an output pixel darker than this in every channel is the solid (black) fill
COVER = 0.7
BUCKETS = (("20-32", 20, 32), ("32-64", 32, 64), (">=64", 64, 10**9))


def _camera(rng: np.random.Generator, photo_w: int, photo_h: int, frames: int) -> np.ndarray:
    """Per frame: the window's top-left corner and width, in photo pixels (height from 16:9)."""
    widths = rng.uniform(0.6, 1.0, size=2) * photo_w
    widths = np.minimum(widths, photo_h * 16 / 9)
    t = np.linspace(0.0, 1.0, frames)
    ease = 0.5 - 0.5 * np.cos(np.pi * t)
    w = widths[0] + (widths[1] - widths[0]) * ease
    h = w * 9 / 16
    start, end = rng.uniform(0, 1, size=2), rng.uniform(0, 1, size=2)
    fx = start[0] + (end[0] - start[0]) * ease
    fy = start[1] + (end[1] - start[1]) * ease
    shake = rng.normal(0, 1.0, size=(frames, 2)).cumsum(0) * 0.4  # a slow hand-held wander, in photo px
    x = fx * (photo_w - w) + shake[:, 0]
    y = fy * (photo_h - h) + shake[:, 1]
    x = np.clip(x, 0, photo_w - w)
    y = np.clip(y, 0, photo_h - h)
    return np.stack([x, y, w], axis=1)


def make_clip(photo, path: Path, frames: int, seed: int) -> list[list[list[float]]]:
    """Write the clip; return per frame the face boxes (x1, y1, x2, y2, face index) that count in it."""
    import av

    image = read_rgb(photo.path)
    ph, pw = image.shape[:2]
    cam = _camera(np.random.default_rng(seed), pw, ph, frames)
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
                inside = b[0] >= 0 and b[1] >= 0 and b[2] <= SIZE[0] and b[3] <= SIZE[1]
                if inside and max(b[2] - b[0], b[3] - b[1]) >= MIN_FACE:
                    faces.append([*b, i])
            truth.append(faces)
        out.mux(stream.encode(None))
    return truth


def decode(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def measure(inputs: list[np.ndarray], outputs: list[np.ndarray], truth: list[list]) -> dict:
    """Per face: hidden or not in each frame it is in."""
    per_face: dict[int, list[tuple[int, bool, float]]] = {}
    for k, faces in enumerate(truth):
        if k >= len(outputs) or outputs[k].shape != inputs[k].shape:
            changed = np.zeros(inputs[k].shape[:2], bool)  # a missing or resized frame hides nothing
        else:
            after = outputs[k].astype(np.int16)
            changed = np.abs(after - inputs[k].astype(np.int16)).max(axis=2) >= CHANGED
            changed |= after.max(axis=2) < FILL  # the black fill over pixels that were already nearly black
        for x1, y1, x2, y2, i in faces:
            box = changed[int(round(y1)) : int(round(y2)), int(round(x1)) : int(round(x2))]
            hidden = box.size > 0 and box.mean() >= COVER
            per_face.setdefault(int(i), []).append((k, bool(hidden), max(x2 - x1, y2 - y1)))
    return per_face


def summarize(per_face_all: list[dict]) -> dict:
    hidden = {b[0]: 0 for b in BUCKETS}
    total = {b[0]: 0 for b in BUCKETS}
    singles = longest = 0
    for per_face in per_face_all:
        for frames in per_face.values():
            for _, ok, size in frames:
                bucket = next(b[0] for b in BUCKETS if b[1] <= size < b[2])
                total[bucket] += 1
                hidden[bucket] += ok
            run = 0
            for j, (k, ok, _) in enumerate(frames):
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
        f"{result['clips']} pan-and-zoom clips of {SIZE[0]}x{SIZE[1]} at {FPS} fps from WIDER photos, "
        f"{result['frames']} frames, {result['ours']['face_frames']} face-frames of {MIN_FACE} px or more.",
        "",
        "| tool | face-frames hidden | 20-32 px | 32-64 px | >=64 px | single-frame misses | longest visible run "
        "| frames/s (blur, 720p) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for tool in ("ours", "deface"):
        r = result[tool]
        by = r["hidden_by_size"]
        cells = [f"{100 * by[b[0]]:.2f}%" if by[b[0]] is not None else "-" for b in BUCKETS]
        fps = result["speed"].get(tool)
        lines.append(
            f"| {tool} | **{100 * r['hidden']:.2f}%** | {' | '.join(cells)} | {r['single_frame_misses']} "
            f"| {r['longest_visible_run']} | {fps:.2f} |"
            if fps
            else f"| {tool} | **{100 * r['hidden']:.2f}%** | {' | '.join(cells)} | {r['single_frame_misses']} "
            f"| {r['longest_visible_run']} | - |"
        )
    stage = result.get("stage")
    if stage:
        lines += [
            "",
            f"Stage clip ({stage['frames']} frames, 640x360): ours {stage['ours_fps']:.2f} frames/s, "
            f"deface {stage['deface_fps']:.2f} frames/s (blur, whole process).",
        ]
    lines += ["", "Frame counts: " + ", ".join(f"{k} {v}" for k, v in result["frame_counts"].items()), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="timed runs of each tool (median)")
    parser.add_argument("--no-time", action="store_true", help="only the pixel measure")
    parser.add_argument("--work", type=Path, default=Path("/tmp/anonymizer-video-bench"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--name", default="video")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the clips and outputs already in --work (no new runs)"
    )
    parser.add_argument("--ours", default="", help="extra arguments for anonymize, e.g. '--detector centerface'")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    photos = [p for p in load_photos(args.data) if (np.maximum(p.faces[:, 2] - p.faces[:, 0], 1) >= 12).sum() >= 5]
    chosen = [photos[i] for i in sorted(rng.choice(len(photos), size=args.clips, replace=False))]
    clips = args.work / "clips"
    if not args.reuse:
        shutil.rmtree(args.work, ignore_errors=True)
        clips.mkdir(parents=True)
    truths = []
    for n, photo in enumerate(chosen):
        path = clips / f"clip_{n:02d}.mp4"
        truths.append(
            make_clip(photo, path if not args.reuse else args.work / "scratch.mp4", args.frames, args.seed * 1000 + n)
        )
        print(f"clip {n}: {photo.name}, {sum(len(t) for t in truths[-1])} face-frames", file=sys.stderr)
    clip_paths = sorted(clips.glob("*.mp4"))
    extra = args.ours.split()

    # pixels: solid fill
    if not args.reuse:
        run_ours(clips, args.work / "ours-solid", ["--method", "solid", *extra])
        run_deface(clip_paths, args.work / "deface-solid", ["--replacewith", "solid"])
    result: dict = {
        "command": "python benchmarks/video.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "clips": len(clip_paths),
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
    earlier = args.out / f"{args.name}.json"
    if args.reuse and earlier.exists():  # the timings of the run that made the outputs
        before = json.loads(earlier.read_text())
        for key in ("speed", "times", "stage", "when", "command"):
            if key in before:
                result[key] = before[key]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"{args.name}.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
