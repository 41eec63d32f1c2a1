"""Peak memory of anonymizing a video against its length: it must not grow with the clip.

Reproduce (from the repository root)::

    .venv/bin/python -m benchmarks.video_memory        # writes benchmarks/results/video_memory.{json,md}

For each length (``--frames``, default 30 and 150), a 3840x2160 clip of moving noise is encoded (H.264,
CRF 30, 25 fps), then anonymized with blur by :func:`anonymizer.video.anonymize_video` in a fresh process,
whose peak resident memory (``ru_maxrss``) is read at its end. The detector is a stand-in that returns one
face a frame where the moving block is, so that what is measured is the video path itself (decoding, twice:
the search ahead and the writer behind; tracking, replacing, encoding), not a detector's working memory, which is per frame
and the same for every length. The same run with the real detector would take minutes a 4K frame here.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT

W, H = 3840, 2160

CHILD = r"""
import resource, sys, time
import numpy as np
from anonymizer import Anonymizer
from anonymizer.faces import Face, estimate_landmarks
from anonymizer.video import anonymize_video

class Block:
    def __init__(self):
        self.i = 0
    def detect(self, image):
        x = 200 + 20 * self.i
        self.i += 1
        box = np.array([x, 800, x + 400, 1300], np.float32)
        return [Face(box, 0.9, estimate_landmarks(box))]

start = time.perf_counter()
result = anonymize_video(sys.argv[1], sys.argv[2], Anonymizer(method="blur", detector=Block()))
print(result.frames, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter() - start)
"""


def make_clip(path: Path, frames: int) -> None:
    import av
    import numpy as np

    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (H // 8, W // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"crf": "30", "preset": "ultrafast"}
        for i in range(frames):
            frame = np.roll(texture, 16 * i, axis=1)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode(None))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[30, 150])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.frames:
            clip = Path(tmp) / f"clip{n}.mp4"
            make_clip(clip, n)
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(clip), str(Path(tmp) / f"out{n}.mp4")],
                capture_output=True,
                text=True,
                check=True,
            )
            frames, kib, seconds = done.stdout.split()
            rows.append({"frames": int(frames), "peak_rss_mb": int(kib) / 1024, "seconds": float(seconds)})
            print(rows[-1], file=sys.stderr)
    result = {
        "command": "python -m benchmarks.video_memory " + " ".join(argv if argv is not None else sys.argv[1:]),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "size": f"{W}x{H}",
        "frame_mb": W * H * 3 / 2**20,
        "runs": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "video_memory.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Video memory",
        "",
        f"`{result['command']}`, {result['when']}. {W}x{H} clips (one RGB frame: {result['frame_mb']:.1f} MB), "
        "blur, a stand-in detector (see the script).",
        "",
        "| frames | peak RSS MB | seconds |",
        "|---:|---:|---:|",
        *[f"| {r['frames']} | {r['peak_rss_mb']:.0f} | {r['seconds']:.1f} |" for r in rows],
        "",
    ]
    (args.out / "video_memory.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
