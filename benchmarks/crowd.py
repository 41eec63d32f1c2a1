"""Whole-process benchmark on crowd photos: ours against deface, time and what was hidden, from the outputs.

Reproduce (from the repository root; deface's venv as in ``benchmarks/detection.py``)::

    .venv/bin/python -m benchmarks.crowd                     # writes benchmarks/results/crowd.{json,md}
    .venv/bin/python -m benchmarks.crowd --photos all        # all 400 WIDER photos (pixels only is quicker: --no-time)
    .venv/bin/python -m benchmarks.crowd --photos all --half report --no-time --name crowd_report   # the untuned half

Photos: by default the WIDER photos of ``shared/data/wider`` with 8 or more
annotated faces (61 photos, 1,149 faces: family groups, dancing, interviews in a
crowd); ``--photos all`` takes all 400. ``--half tune|report`` keeps one half of
them (``benchmarks/wider_split.py``): settings are chosen on ``tune``, and the
figures that say what an untuned photo gets come from ``report``.

**Time**: each command is run as a user runs it, from a fresh process, on a
copy of the folder, and timed wall-clock (start-up, model loading, reading and
writing included):

* ours: ``anonymize --input IN --out OUT --method blur`` (default workers), the
  same with ``--workers 1``, and with ``--method gan`` when asked (``--gan``,
  and ``--gan-weights FILE`` for other generator weights);
* deface: ``deface IN`` (its defaults: blur, CenterFace on OpenCV), which writes
  ``*_anonymized.jpg`` beside each input.

The runs alternate (ours, deface, ours, ...) ``--repeats`` times and the median
is reported, with nothing else running on the machine (``--pause PID`` stops the
process that would compete for the CPU while the commands are timed).

**What was hidden**, judged from the pixels: both tools are run once more with
a solid fill (``--method solid``; ``deface --replacewith solid``) on lossless PNG
copies of the photos, so that a changed pixel is one the tool replaced. A pixel
counts as changed when a channel differs by 16 or more (our solid fill fades
out over a feather band; its faint outer part is not counted). A face is hidden
when 70% or more of its annotated box changed; reported per size bucket (the
longer side of the box: <16, 16-32, 32-64, >=64 px). *Outside faces*: the share
of each photo's pixels changed outside every annotated face box (invalid ones
included) grown 1.6x about its centre, averaged over photos -- the damage of
false and oversized masks. Every face of 64 px or more that a tool leaves
visible is listed (photo, box, share of it changed), so that each can be looked at.
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
from collections import Counter
from pathlib import Path

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
from benchmarks.detection import BUCKETS, COVER, DEFAULT_DATA, face_zone, load_photos, read_rgb
from benchmarks.wider_split import HALVES, select_half

DEFAULT_OUT = ROOT / "benchmarks" / "results"
CHANGED = 16  # a pixel is changed when a channel moved this much or more
CROWD = 8  # faces a photo needs to count as a crowd photo
LARGE = 64  # misses of faces this large (longer side, px) are listed one by one
MOST_OUTSIDE = 5  # the photos with the most pixels changed outside faces, listed one by one


def choose(photos: list, which: str) -> list:
    return photos if which == "all" else [p for p in photos if len(p.faces) >= CROWD]


def gan_commands(args: argparse.Namespace) -> dict:
    """The ``--method gan`` commands asked for: the shipped weights (``--gan``), then each ``--gan-weights``."""
    commands = {}
    if args.gan:
        commands["ours: anonymize --method gan (default workers)"] = (run_ours, ["--method", "gan"])
    for weights in args.gan_weights:
        label = os.path.relpath(weights.resolve(), ROOT) if weights.resolve().is_relative_to(ROOT) else weights
        extra = ["--method", "gan", "--weights", str(weights.resolve())]
        commands[f"ours: anonymize --method gan --weights {label} (default workers)"] = (run_ours, extra)
    return commands


def generator_share(report: Path) -> dict:
    """How many of the faces found a ``--method gan`` run's report holds the generator painted, and why the
    others went to the fallback (the reason up to its colon: "not alignable", "smaller than gan's 20 px")."""
    faces = [face for image in json.loads(report.read_text())["images"] for face in image.get("faces", [])]
    why = Counter(str(face.get("fallback", "?")).split(":")[0] for face in faces if face["method"] != "gan")
    return {"faces": len(faces), "gan": sum(face["method"] == "gan" for face in faces), "fallback": dict(why)}


def flat_name(photo) -> str:
    return photo.name.replace("/", "__")


def copy_folder(photos: list, folder: Path, png: bool) -> None:
    from PIL import Image

    folder.mkdir(parents=True)
    for photo in photos:
        if png:
            Image.fromarray(read_rgb(photo.path)).save(folder / (Path(flat_name(photo)).stem + ".png"))
        else:
            shutil.copyfile(photo.path, folder / flat_name(photo))


def run_ours(src: Path, work: Path, extra: list[str]) -> tuple[float, Path]:
    out = work / "ours-out"
    shutil.rmtree(out, ignore_errors=True)
    return timed([str(ANONYMIZE), "--input", str(src), "--out", str(out), "--quiet", *extra]), out


def run_deface(src: Path, work: Path, extra: list[str]) -> tuple[float, Path]:
    folder = work / "deface-in"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(src, folder)
    seconds = timed([str(DEFACE), str(folder), *extra], cwd=work)
    return seconds, folder


def deface_output(folder: Path, name: str) -> Path:
    stem, ext = os.path.splitext(name)
    return folder / f"{stem}_anonymized{ext}"


def changed_pixels(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Pixels (bool) where a channel moved by ``CHANGED`` or more: the ones a tool replaced."""
    return np.abs(after.astype(np.int16) - before.astype(np.int16)).max(axis=2) >= CHANGED


class Tally:
    """Faces hidden per bucket, the share changed outside faces and the large misses, photo by photo."""

    def __init__(self) -> None:
        self.hidden = {b[0]: 0 for b in BUCKETS}
        self.total = {b[0]: 0 for b in BUCKETS}
        self.outside: list[float] = []
        self.names: list[str] = []
        self.large_misses: list[dict] = []

    def add(self, photo, changed: np.ndarray) -> None:
        """One photo, judged from its ``changed`` pixels (:func:`changed_pixels`)."""
        for x1, y1, x2, y2 in photo.faces:
            size = max(x2 - x1, y2 - y1)
            bucket = next(b[0] for b in BUCKETS if b[1] <= size < b[2])
            self.total[bucket] += 1
            box = changed[max(0, y1) : y2, max(0, x1) : x2]
            covered = float(box.mean()) if box.size else 0.0
            hidden = box.size > 0 and covered >= COVER
            self.hidden[bucket] += int(hidden)
            if size >= LARGE and not hidden:
                self.large_misses.append(
                    {"photo": photo.name, "box": [int(x1), int(y1), int(x2), int(y2)], "changed": round(covered, 3)}
                )
        zone = face_zone(photo, changed.shape)
        self.outside.append(float(np.count_nonzero(changed & ~zone)) / changed.size)
        self.names.append(photo.name)

    def result(self) -> dict:
        return {
            "hidden": {k: self.hidden[k] / self.total[k] if self.total[k] else None for k in self.hidden},
            "hidden_count": self.hidden,
            "faces": self.total,
            "outside_faces": statistics.fmean(self.outside),
            "large_misses": self.large_misses,
            "most_outside": [
                {"photo": self.names[i], "outside": round(self.outside[i], 4)}
                for i in np.argsort(self.outside)[::-1][:MOST_OUTSIDE]
            ],
        }


def hidden_measure(photos: list, inputs: Path, outputs: dict[str, callable]) -> dict:
    """Per tool: hidden faces per bucket and the share changed outside faces, from the PNG outputs."""
    result = {}
    for tool, output_of in outputs.items():
        tally = Tally()
        for photo in photos:
            name = Path(flat_name(photo)).stem + ".png"
            tally.add(photo, changed_pixels(read_rgb(inputs / name), read_rgb(output_of(name))))
        result[tool] = tally.result()
    return result


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = [
        f"Whole-process benchmark on {s['photos']} WIDER photos ({s['which']}, {s['faces']} faces), {s['machine']}. "
        f"Command: `{s['command']}`; {s['date']}.",
        "",
    ]
    if result.get("time"):
        t = result["time"]
        base = t["deface (blur)"]["median"]
        lines += [
            f"Wall-clock seconds, whole process, median of {s['repeats']} alternating runs"
            + (" (the process given to --pause stopped while timing)" if s.get("paused") else "")
            + ":",
            "",
            "| command | median s | runs | x deface |",
            "| --- | ---: | --- | ---: |",
        ]
        for name, row in t.items():
            runs = ", ".join(f"{v:.1f}" for v in row["runs"])
            lines.append(f"| {name} | {row['median']:.1f} | {runs} | {row['median'] / base:.2f} |")
        lines.append("")
    if result.get("painted"):
        lines += [
            "Faces found that the generator painted (the others went to the fallback, for the reason given):",
            "",
            "| command | faces found | painted by the generator | fallback |",
            "| --- | ---: | ---: | --- |",
        ]
        for name, row in result["painted"].items():
            why = "; ".join(f"{reason}: {n}" for reason, n in sorted(row["fallback"].items())) or "none"
            share = row["gan"] / row["faces"] if row["faces"] else 0.0
            lines.append(f"| {name} | {row['faces']} | {row['gan']} ({100 * share:.1f}%) | {why} |")
        lines.append("")
    h = result["hidden"]
    lines += [
        "Faces hidden (>= 70% of the box's pixels changed, solid fill, PNG in and out) and pixels changed outside "
        "faces (boxes grown 1.6x):",
        "",
        "| tool | " + " | ".join(f"{b[0]} px" for b in BUCKETS) + " | outside faces |",
        "| --- | " + " | ".join("---:" for _ in BUCKETS) + " | ---: |",
    ]
    for tool, row in h.items():
        cells = [
            f"{row['hidden'][b[0]]:.1%} ({row['hidden_count'][b[0]]}/{row['faces'][b[0]]})"
            if row["faces"][b[0]]
            else "-"
            for b in BUCKETS
        ]
        lines.append(f"| {tool} | " + " | ".join(cells) + f" | {row['outside_faces']:.2%} |")
    lines += ["", f"Faces of {LARGE} px or more left visible (share of the box changed):", ""]
    for tool, row in h.items():
        misses = row.get("large_misses", [])
        listed = "; ".join(f"`{m['photo']}` {m['box']} ({m['changed']:.0%})" for m in misses) or "none"
        lines.append(f"- {tool}: {listed}")
    lines += ["", f"The {MOST_OUTSIDE} photos with the most pixels changed outside faces:", ""]
    for tool, row in h.items():
        listed = "; ".join(f"`{m['photo']}` {m['outside']:.1%}" for m in row.get("most_outside", []))
        lines.append(f"- {tool}: {listed or '-'}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--photos", choices=("crowd", "all"), default="crowd")
    ap.add_argument(
        "--half",
        choices=HALVES,
        default="all",
        help="only the half settings are tuned on (tune) or the one figures are reported on (report); default all",
    )
    ap.add_argument(
        "--detectors",
        default="default",
        help="our detectors run with the solid fill, comma-separated (e.g. default,yunet+centerface); default: default",
    )
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of each command (median reported)")
    ap.add_argument("--no-time", action="store_true", help="only the pixel measure")
    ap.add_argument("--gan", action="store_true", help="also time --method gan")
    ap.add_argument(
        "--gan-weights",
        type=Path,
        action="append",
        default=[],
        help="also time --method gan with these weights (repeatable; e.g. training/aligned_pose/generator.safetensors)",
    )
    add_pause_argument(ap)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for crowd.json and crowd.md")
    ap.add_argument("--name", default="crowd", help="file name of the results (without extension)")
    args = ap.parse_args(argv)
    if not DEFACE.exists():
        raise SystemExit(f"{DEFACE} not found: make deface's venv first (see benchmarks/detection.py)")
    photos = choose(select_half(load_photos(args.data), args.half), args.photos)
    work = Path(tempfile.mkdtemp(prefix="crowd-"))
    try:
        jpeg, png = work / "jpeg", work / "png"
        copy_folder(photos, jpeg, png=False)
        copy_folder(photos, png, png=True)
        timing = {}
        if not args.no_time:
            commands = {
                "ours: anonymize --method blur (default workers)": (run_ours, ["--method", "blur"]),
                "ours: anonymize --method blur --workers 1": (run_ours, ["--method", "blur", "--workers", "1"]),
                "deface (blur)": (run_deface, []),
            }
            commands.update(gan_commands(args))
            for name in commands:
                timing[name] = {"runs": []}
            with paused(args.pause):
                for r in range(args.repeats):
                    order = list(commands) if r % 2 == 0 else list(commands)[::-1]
                    for name in order:
                        run, extra = commands[name]
                        seconds, _ = run(jpeg, work, extra)
                        timing[name]["runs"].append(round(seconds, 2))
                        print(f"{name}: {seconds:.1f} s", file=sys.stderr, flush=True)
            for row in timing.values():
                row["median"] = statistics.median(row["runs"])
        painted = {}
        for name, (run, extra) in gan_commands(args).items():
            report = work / "gan-report.json"
            run(jpeg, work, [*extra, "--report", str(report)])
            painted[name] = generator_share(report)
        solid = {}
        for detector in [d.strip() for d in args.detectors.split(",") if d.strip()]:
            label = "ours (default detector)" if detector == "default" else f"ours (--detector {detector})"
            _, out = run_ours(png, work, ["--method", "solid", "--detector", detector])
            solid[label] = work / f"solid-{detector}"
            shutil.rmtree(solid[label], ignore_errors=True)
            out.rename(solid[label])
        _, deface_folder = run_deface(png, work, ["--replacewith", "solid"])
        outputs = {label: (lambda name, f=folder: f / name) for label, folder in solid.items()}
        outputs["deface 1.5.0 (defaults)"] = lambda name: deface_output(deface_folder, name)
        hidden = hidden_measure(photos, png, outputs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = "python " + " ".join([os.path.relpath(__file__, ROOT), *(argv if argv is not None else sys.argv[1:])])
    result = {
        "settings": {
            "photos": len(photos),
            "which": ("8 or more faces" if args.photos == "crowd" else "all")
            + ("" if args.half == "all" else f", {args.half} half"),
            "half": args.half,
            "faces": int(sum(len(p.faces) for p in photos)),
            "repeats": args.repeats,
            "changed_at": CHANGED,
            "cover": COVER,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, CPU only",
            "command": command,
            "paused": args.pause is not None,
            "date": time.strftime("%Y-%m-%d %H:%M"),
        },
        "time": timing,
        "painted": painted,
        "hidden": hidden,
    }
    write_results(args.out, args.name, result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
