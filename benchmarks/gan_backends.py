"""The GAN on onnxruntime against the GAN on torch: whole-process time on crowd photos, and what each paints.

Reproduce (from the repository root, with the train extra, which the torch backend needs)::

    .venv/bin/python -m benchmarks.gan_backends --pause "$(cat data/resume.pid)"
    # writes benchmarks/results/gan_backends.{json,md}

Photos: the crowd photos of ``benchmarks/crowd.py`` (the WIDER photos of
``shared/data/wider`` with 8 or more faces). Each command is run as a user
runs it, from a fresh process, on a copy of the folder, timed wall-clock
(start-up, loading, reading and writing included)::

    anonymize --input IN --out OUT --method gan --seed 0 --gan-backend onnx|torch [--weights W] [--workers 1]

for the shipped generator and, with ``--weights``, others (each copied to a
scratch folder and exported there with :func:`anonymizer.models.export.export_onnx`,
so nothing beside the original changes). The runs alternate (onnx, torch,
torch, onnx, ...) ``--repeats`` times and the median is reported. ``--pause
PID`` stops a process that would compete for the CPU while timing.

The two backends' outputs are compared photo by photo (JPEG outputs, the same
seed): the largest and the mean absolute pixel difference. ``--from-json``
rewrites the Markdown from a results file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, add_pause_argument, paused, write_results
from benchmarks.crowd import (
    choose,
    copy_folder,
    flat_name,
    run_ours,
)
from benchmarks.detection import DEFAULT_DATA, load_photos, read_rgb

DEFAULT_OUT = ROOT / "benchmarks" / "results"


def exported_copy(weights: Path, folder: Path) -> Path:
    """The weights and their sidecar copied into ``folder``, with a fresh ONNX export beside them."""
    from anonymizer.models.export import export_onnx

    folder.mkdir(parents=True)
    copy = folder / weights.name
    shutil.copyfile(weights, copy)
    shutil.copyfile(weights.with_suffix(".json"), copy.with_suffix(".json"))
    export_onnx(copy)
    return copy


def compare(photos: list, a: Path, b: Path) -> dict:
    largest, means = 0, []
    for photo in photos:
        x = read_rgb(a / flat_name(photo)).astype(np.int16)
        y = read_rgb(b / flat_name(photo)).astype(np.int16)
        d = np.abs(x - y)
        largest = max(largest, int(d.max()))
        means.append(float(d.mean()))
    return {"max_abs_difference": largest, "mean_abs_difference": statistics.fmean(means)}


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = [
        f"The GAN on onnxruntime and on torch: {s['photos']} WIDER crowd photos ({s['faces']} faces), {s['machine']}. "
        f"Command: `{s['command']}`; {s['date']}."
        + (" The process given to --pause was stopped while timing." if s.get("paused") else ""),
        "",
        f"Wall-clock seconds, whole process (`anonymize --method gan --seed 0 ...`), median of {s['repeats']} "
        "alternating runs:",
        "",
        "| generator | workers | onnx s | torch s | onnx / torch | outputs: max, mean abs difference |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['generator']} | {row['workers']} | {row['onnx']['median']:.1f} | {row['torch']['median']:.1f} | "
            f"{row['onnx']['median'] / row['torch']['median']:.2f} | "
            f"{row['outputs']['max_abs_difference']}, {row['outputs']['mean_abs_difference']:.3f} |"
        )
    lines += [
        "",
        "The outputs differ by more than the generators do (within 2/255 on the same crops, `tests/test_gan_onnx.py`): "
        "the grain added to a painted face (`anonymizer.crops.add_grain`) is drawn from a seed that hashes the "
        "generated pixels, so one level's difference anywhere in a face draws other grain for all of it.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--photos", choices=("crowd", "all"), default="crowd")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--weights", type=Path, action="append", default=[], help="other generator weights too")
    ap.add_argument("--workers", choices=("default", "1", "both"), default="both")
    add_pause_argument(ap)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--name", default="gan_backends")
    ap.add_argument("--from-json", type=Path, default=None, help="only rewrite the Markdown of this results file")
    args = ap.parse_args(argv)
    if args.from_json:
        args.from_json.with_suffix(".md").write_text(markdown(json.loads(args.from_json.read_text())))
        return 0
    photos = choose(load_photos(args.data), args.photos)
    work = Path(tempfile.mkdtemp(prefix="gan-backends-"))
    rows = []
    try:
        jpeg = work / "jpeg"
        copy_folder(photos, jpeg, png=False)
        generators = {"shipped": []}
        for i, weights in enumerate(args.weights):
            copy = exported_copy(weights.resolve(), work / f"weights{i}")
            label = os.path.relpath(weights.resolve(), ROOT) if weights.resolve().is_relative_to(ROOT) else str(weights)
            generators[label] = ["--weights", str(copy)]
        worker_sets = {"default": [["default", []]], "1": [["1", ["--workers", "1"]]]}
        worker_sets["both"] = worker_sets["default"] + worker_sets["1"]
        with paused(args.pause):
            for label, weights in generators.items():
                for workers, wargs in worker_sets[args.workers]:
                    times = {"onnx": [], "torch": []}
                    outputs = {}
                    for r in range(args.repeats):
                        for backend in ("onnx", "torch") if r % 2 == 0 else ("torch", "onnx"):
                            extra = ["--method", "gan", "--seed", "0", "--gan-backend", backend, *weights, *wargs]
                            seconds, out = run_ours(jpeg, work, extra)
                            times[backend].append(round(seconds, 2))
                            print(f"{label} workers {workers} {backend}: {seconds:.1f} s", file=sys.stderr, flush=True)
                            if backend not in outputs:
                                outputs[backend] = work / f"out-{backend}"
                                shutil.rmtree(outputs[backend], ignore_errors=True)
                                out.rename(outputs[backend])
                    rows.append(
                        {
                            "generator": label,
                            "workers": workers,
                            **{b: {"runs": t, "median": statistics.median(t)} for b, t in times.items()},
                            "outputs": compare(photos, outputs["onnx"], outputs["torch"]),
                        }
                    )
                    for folder in outputs.values():
                        shutil.rmtree(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = "python " + " ".join([os.path.relpath(__file__, ROOT), *(argv if argv is not None else sys.argv[1:])])
    result = {
        "settings": {
            "photos": len(photos),
            "faces": int(sum(len(p.faces) for p in photos)),
            "repeats": args.repeats,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, CPU only",
            "command": command,
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "paused": args.pause is not None,
        },
        "rows": rows,
    }
    write_results(args.out, args.name, result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
