"""CenterFace in 8-bit integers against the float network, in the default detector, on the tune half and its
hard sets: faces hidden by size, false finds a photo, and the network's time on a 720p frame.

    .venv/bin/python -m models.quantize_centerface --out /tmp/centerface_int8.onnx
    .venv/bin/python -m benchmarks.centerface_int8_tune --int8 /tmp/centerface_int8.onnx \\
        --sets photos,cut,tilt,occluded --thresholds 0.17,0.18,0.19 --out benchmarks/results

Every configuration is the default detector (``make_detector("default")``: the CenterFace cascade and its
RetinaFace pass) with its CenterFace network and photo threshold replaced; the other passes' thresholds are
the default's. The photos are those of ``--half`` (tune: the integer network's thresholds are chosen here),
each set made as ``benchmarks/detection.py --hard`` makes it; a face is hidden when 70 % of its box lies in one
hidden region (the measure of ``benchmarks/detection.py``). The network's time is the median of 20 runs on one
1280x736 input with 2 threads, the other configurations' networks idle.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from anonymizer.detection import CascadeDetector
from anonymizer.detection.cascade import default_retinaface
from anonymizer.detection.centerface import CENTERFACE_MODEL
from benchmarks.common import RESULTS, add_pause_argument, command_line, paused, write_results
from benchmarks.detection import BUCKETS, DEFAULT_DATA, Tally, face_coverage
from benchmarks.photo_sets import load_photos, make_set, pick, read_rgb
from benchmarks.wider_split import HALVES, select_half


def network_ms(path: str, repeats: int = 20) -> float:
    """Median milliseconds of one CenterFace run on a 1280x736 input (a 720p frame rounded up to 32)."""
    from anonymizer.detection._onnx import session

    net = session(path)
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 736, 1280)).astype(np.float32)
    name = net.get_inputs()[0].name
    for _ in range(3):
        net.run(None, {name: x})
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        net.run(None, {name: x})
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def run_set(photos, configs: dict[str, CascadeDetector]) -> dict[str, dict]:
    tallies = {name: Tally(name) for name in configs}
    for photo in photos:
        image = read_rgb(photo.path)
        for name, detector in configs.items():
            boxes, cov = face_coverage(photo.faces, detector.detect(image))
            tallies[name].add(photo, boxes, cov, 0.0)
    return {name: t.summary() for name, t in tallies.items()}


def markdown(result: dict) -> str:
    lines = [
        "# CenterFace in 8-bit integers against the float network (the default detector)",
        "",
        f"`{result['command']}`, {result['when']}, {result['machine']}. Photos of the {result['half']} half; "
        "faces hidden by size (70 % of the box in one hidden region), false finds a photo.",
        "",
        "| network | 720p frame, ms |",
        "| --- | ---: |",
        *(f"| {name} | {ms:.1f} |" for name, ms in result["network_ms"].items()),
    ]
    for set_name, rows in result["sets"].items():
        first = next(iter(rows.values()))
        lines += [
            "",
            f"## {set_name} ({first['photos']} photos, {first['faces']} faces)",
            "",
            "| configuration | " + " | ".join(f"{b[0]} px" for b in BUCKETS) + " | all | false / photo |",
            "| --- |" + " ---: |" * (len(BUCKETS) + 2),
        ]
        for name, s in rows.items():
            cells = ["–" if v is None else f"{100 * v:.1f}%" for v in s["coverage_recall"].values()]
            lines.append(
                f"| {name} | "
                + " | ".join(cells)
                + f" | {100 * s['coverage_recall_all']:.1f}% | {s['false_per_photo']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--int8", required=True, help="the quantized network (models/quantize_centerface.py)")
    parser.add_argument("--float", default=CENTERFACE_MODEL, help="the float network (default: the shipped one)")
    parser.add_argument("--thresholds", default="0.17,0.18,0.19", help="photo thresholds tried with the int8 one")
    parser.add_argument(
        "--mixed",
        action="store_true",
        help="also: the int8 network on the photo pass only, the float one on the scaled-down and turned passes",
    )
    parser.add_argument("--sets", default="photos,cut,tilt,occluded", help="photos, cut, or hard sets")
    parser.add_argument("--half", choices=HALVES, default="tune")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="centerface_int8_tune")
    add_pause_argument(parser)
    args = parser.parse_args(argv)
    configs = {"float, 0.17": CascadeDetector(0.17, model_path=args.float, **default_retinaface())}
    for t in (float(v) for v in args.thresholds.split(",")):
        configs[f"int8, {t:g}"] = CascadeDetector(t, model_path=args.int8, **default_retinaface())
        if args.mixed:
            mixed = CascadeDetector(t, model_path=args.int8, **default_retinaface())
            mixed.net = configs["float, 0.17"].net  # the float network for the passes at 320 px
            configs[f"int8 on the photo, float at 320 px, {t:g}"] = mixed
    photos = pick(select_half(load_photos(args.data), args.half), args.limit)
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, CPU only",
        "command": command_line(),
        "half": args.half,
        "network_ms": {},
        "sets": {},
    }
    with paused(args.pause):
        result["network_ms"] = {"float": network_ms(args.float), "int8": network_ms(args.int8)}
    for set_name in args.sets.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            chosen = make_set(set_name, photos, Path(tmp))
            result["sets"][set_name] = run_set(chosen, configs)
        print(f"{set_name}: done", flush=True)
        write_results(args.out, args.name, result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
