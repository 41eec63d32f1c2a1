"""Where a video frame's time goes: stage by stage, on a 720p and a 1080p clip.

Reproduce (from the repository root)::

    .venv/bin/python -m benchmarks.video_profile --pause PID   # writes benchmarks/results/video_profile.{json,md}

Each clip is made as ``benchmarks/video.py`` makes its clips (a virtual camera moving across a WIDER photo
with five or more faces, from the tune half), at each ``--sizes``, ``--frames`` frames at 25 fps. It is then
anonymized in this process with :func:`anonymizer.video.anonymize_video` and the default settings (blur,
``--method`` to change), after one warm-up run on the same clip (models loaded, caches warm), with a timer
around each stage: the writer's demuxing and decoding, the search's decoding ahead, the conversion to RGB, each
detector pass, the camera's motion, tracking, replacing and pasting, and encoding. A stage's time is its own
(the stages it calls are counted apart, and shown under it). The detection runs in a thread of its own beside
the writer, and frames are replaced and pasted in painters' threads, so the threads' times add up to more than
the wall time: what the profile shows is which thread the others wait for (``wait for detection``, ``wait for
its painter``) and what each is made of.

Timed with ``time.perf_counter`` around Python calls: a stage that releases the interpreter lock (decoding,
encoding, onnxruntime) is timed whole, including what other threads did meanwhile on the same core.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from anonymizer import video as video_module
from anonymizer.detection import cascade, centerface, retinaface
from anonymizer.motion import CameraMotion
from anonymizer.pipeline import Anonymizer
from anonymizer.tracking import FaceTracker
from benchmarks import video as bench_video
from benchmarks.common import RESULTS, add_pause_argument, command_line, paused, write_results
from benchmarks.detection import DEFAULT_DATA


class Profile:
    """Own time per stage, by the path of stages that called it, per thread."""

    def __init__(self) -> None:
        self.own: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._restore: list[tuple[object, str, object]] = []

    def wrap(self, owner, attr: str, label: str) -> None:
        original = getattr(owner, attr)
        profile = self

        @functools.wraps(original)
        def timed(*args, **kwargs):
            stack = profile._local.__dict__.setdefault("stack", [])
            root = threading.current_thread().name.split("_")[0]
            path = (stack[-1][0] if stack else root) + " / " + label
            entry = [path, 0.0]
            stack.append(entry)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent = time.perf_counter() - start
                stack.pop()
                if stack:
                    stack[-1][1] += spent
                with profile._lock:
                    profile.own[path] += spent - entry[1]
                    profile.calls[path] += 1

        setattr(owner, attr, timed)
        self._restore.append((owner, attr, original))

    def undo(self) -> None:
        for owner, attr, original in reversed(self._restore):
            setattr(owner, attr, original)
        self._restore.clear()


def instrument(profile: Profile) -> None:
    T = video_module._Transcoder
    profile.wrap(T, "_frames", "demux, writer's decoding, audio copy")
    profile.wrap(T, "_search_until", "search: decoding ahead")
    profile.wrap(T, "_track", "wait for detection")
    profile.wrap(T, "_upright", "to RGB")
    profile.wrap(T, "_write", "hand to a painter")
    profile.wrap(T, "_encode", "wait for its painter, encode (to YUV, x264) and mux")
    profile.wrap(T, "_detect", "detect")
    profile.wrap(FaceTracker, "push", "track")
    profile.wrap(FaceTracker, "finish", "track")
    profile.wrap(Anonymizer, "anonymize", "replace and paste")
    profile.wrap(CameraMotion, "update", "camera motion")
    profile.wrap(centerface.CenterFaceDetector, "detect", "CenterFace, the frame's pass")
    profile.wrap(centerface.CenterFace, "find", "CenterFace network")
    for module in (centerface, cascade):
        profile.wrap(module, "find_padded", "mirrored border")
    profile.wrap(cascade.CascadeDetector, "_scaled", "scale down")
    profile.wrap(cascade, "_turn", "turn")
    profile.wrap(retinaface.RetinaFaceDetector, "find", "RetinaFace, upright")
    profile.wrap(cascade, "find_turned", "RetinaFace, turned")
    profile.wrap(cascade, "merge_faces", "merge")


def profile_clip(clip: Path, method: str, work: Path) -> dict:
    anonymizer = Anonymizer(method=method)
    video_module.anonymize_video(clip, work / "warm.mp4", anonymizer)  # models loaded, caches warm
    profile = Profile()
    instrument(profile)
    try:
        start, cpu = time.perf_counter(), time.process_time()
        result = video_module.anonymize_video(clip, work / "out.mp4", anonymizer)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        profile.undo()
    frames = result.frames
    stages = [
        {
            "stage": path,
            "seconds": round(seconds, 3),
            "ms_per_frame": round(1000 * seconds / frames, 2),
            "share_of_wall": round(seconds / wall, 3),
            "calls": profile.calls[path],
        }
        for path, seconds in sorted(profile.own.items())
    ]
    threads = defaultdict(float)
    for path, seconds in profile.own.items():
        threads[path.split(" / ")[0]] += seconds
    return {
        "frames": frames,
        "wall_seconds": round(wall, 3),
        "frames_per_second": round(frames / wall, 2),
        "cpu_seconds": round(cpu, 3),  # every thread of the process, the codecs' and onnxruntime's included
        "cores_busy": round(cpu / wall, 2),
        "faces_hidden": result.faces,
        "threads_busy_seconds": {k: round(v, 3) for k, v in threads.items()},
        "stages": stages,
    }


def markdown(result: dict) -> str:
    lines = [
        "# Video: where a frame's time goes",
        "",
        f"{result['when']}, {result['machine']}; `{result['command']}`.",
        "",
        f"Clips: {result['frames']} frames made from one WIDER tune-half photo (`{result['photo']}`), "
        f"method {result['method']}, default video settings, profiled after a warm-up run."
        + (" The process given to --pause was stopped while timing." if result["paused"] else ""),
        "",
        "A stage's time is its own; a stage it calls is a row of its own under it (``a / b``). `MainThread` is the "
        "writer (with the search's decoding ahead), `detect` the detection thread beside it, `paint` the threads "
        "that replace and paste (`VideoOptions.paint_workers`).",
    ]
    for size, r in result["clips"].items():
        busy = ", ".join(f"{k} {v:.1f} s" for k, v in r["threads_busy_seconds"].items())
        lines += [
            "",
            f"## {size}",
            "",
            f"{r['frames']} frames in {r['wall_seconds']:.1f} s: **{r['frames_per_second']:.2f} frames/s**; "
            f"CPU time {r['cpu_seconds']:.1f} s (**{r['cores_busy']:.2f} cores busy** on average, of "
            f"{result['cores']}); the Python threads' stage time: {busy}.",
            "",
            "| stage | s | ms/frame | share of wall | calls |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for s in r["stages"]:
            lines.append(
                f"| {s['stage']} | {s['seconds']:.2f} | {s['ms_per_frame']:.1f} | {100 * s['share_of_wall']:.1f} % "
                f"| {s['calls']} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1280x720,1920x1080", help="clip sizes, WxH, comma-separated")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0, help="which photo, and the camera's path")
    parser.add_argument("--method", default="blur")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="video_profile")
    add_pause_argument(parser)
    args = parser.parse_args(argv)
    photo = bench_video.clip_photo(args.data, args.seed)
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, CPU only",
        "cores": os.cpu_count(),
        "command": command_line(),
        "photo": photo.path.name,
        "frames": args.frames,
        "method": args.method,
        "paused": args.pause is not None,
        "clips": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for size in args.sizes.split(","):
            clip = work / f"clip_{size}.mp4"
            bench_video.timing_clip(photo, clip, size, args.frames, args.seed)
            with paused(args.pause):
                result["clips"][size] = profile_clip(clip, args.method, work)
            r = result["clips"][size]
            print(f"{size}: {r['frames_per_second']} frames/s", flush=True)
    write_results(args.out, args.name, result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
