"""The H.264 encoder's preset and threads: time against size, at the same quality setting (CRF 18).

Reproduce (from the repository root)::

    .venv/bin/python -m benchmarks.video_encoder --pause PID   # writes benchmarks/results/video_encoder.{json,md}

A 720p and a 1080p clip are made as ``benchmarks/video.py`` makes them (a camera moving across a WIDER photo,
``--frames`` frames), decoded once, and their frames blurred where faces would be (a few fixed boxes: blurred
patches are what an anonymized video holds). The frames are then encoded in this process with libx264 at
CRF 18 for each ``--presets`` and ``--threads`` (0: x264's own choice, every core), as ``anonymizer.video``
encodes them (RGB frames converted to YUV 4:2:0 by PyAV). Reported per setting: encoding time (median of
``--repeats``), frames/s, file size, and the PSNR of the decoded result against the frames given (the same
CRF aims at the same visual quality; PSNR shows what each preset gives for it).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks import video as bench_video
from benchmarks.common import RESULTS, add_pause_argument, command_line, paused, write_results
from benchmarks.detection import DEFAULT_DATA


def frames_of(clip: Path) -> list[np.ndarray]:
    frames = bench_video.decode(clip)
    h, w = frames[0].shape[:2]
    out = []
    for rgb in frames:  # a few blurred patches, as an anonymized frame holds
        rgb = rgb.copy()
        for fx, fy in ((0.2, 0.3), (0.5, 0.4), (0.75, 0.25)):
            x1, y1, s = int(fx * w), int(fy * h), int(0.12 * h)
            rgb[y1 : y1 + s, x1 : x1 + s] = cv2.GaussianBlur(rgb[y1 : y1 + s, x1 : x1 + s], (0, 0), s / 6)
        out.append(rgb)
    return out


def encode(frames: list[np.ndarray], preset: str, threads: int) -> tuple[float, bytes]:
    import av

    buffer = io.BytesIO()
    start = time.perf_counter()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": preset, **({"threads": str(threads)} if threads else {})}
        for rgb in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode(None))
    return time.perf_counter() - start, buffer.getvalue()


def psnr(data: bytes, frames: list[np.ndarray]) -> float:
    import av

    errors = []
    with av.open(io.BytesIO(data)) as src:
        for got, want in zip(src.decode(video=0), frames):
            diff = got.to_ndarray(format="rgb24").astype(np.float64) - want
            errors.append(np.mean(diff * diff))
    return float(10 * np.log10(255.0**2 / max(np.mean(errors), 1e-9)))


def markdown(result: dict) -> str:
    lines = [
        "# Video encoder: preset and threads at CRF 18",
        "",
        f"{result['when']}, {result['machine']}; `{result['command']}`.",
        "",
        f"{result['frames']} frames a clip, encoded in this process (median of {result['repeats']})."
        + (" The process given to --pause was stopped while timing." if result["paused"] else ""),
    ]
    for size, rows in result["clips"].items():
        lines += [
            "",
            f"## {size}",
            "",
            "| preset | threads | s | frames/s | MB | PSNR (dB) |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for r in rows:
            lines.append(
                f"| {r['preset']} | {r['threads'] or 'x264'} | {r['seconds']:.2f} | {r['frames_per_second']:.1f} "
                f"| {r['megabytes']:.2f} | {r['psnr']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1280x720,1920x1080")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--presets", default="medium,fast,faster,veryfast")
    parser.add_argument("--threads", default="0,1", help="x264 threads to try (0: its own choice)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="video_encoder")
    add_pause_argument(parser)
    args = parser.parse_args(argv)
    photo = bench_video.clip_photo(args.data, args.seed)
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "command": command_line(),
        "frames": args.frames,
        "repeats": args.repeats,
        "paused": args.pause is not None,
        "clips": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            clip = Path(tmp) / f"clip_{size}.mp4"
            bench_video.timing_clip(photo, clip, size, args.frames, args.seed)
            frames = frames_of(clip)
            rows = []
            with paused(args.pause):
                for preset in args.presets.split(","):
                    for threads in (int(t) for t in args.threads.split(",")):
                        runs = [encode(frames, preset, threads) for _ in range(args.repeats)]
                        seconds = statistics.median(r[0] for r in runs)
                        data = runs[0][1]
                        rows.append(
                            {
                                "preset": preset,
                                "threads": threads,
                                "seconds": round(seconds, 3),
                                "frames_per_second": round(len(frames) / seconds, 1),
                                "megabytes": round(len(data) / 1e6, 3),
                                "psnr": round(psnr(data, frames), 2),
                            }
                        )
                        print(size, rows[-1], flush=True)
            result["clips"][size] = rows
    write_results(args.out, args.name, result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
