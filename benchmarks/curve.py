"""Learning curve: measure one generator state, append its row to ``training/curve.csv``, redraw the plot.

Reproduce (from the repository root; the ``eval`` extra brings dlib and its models)::

    .venv/bin/python -m benchmarks.curve --weights training/aligned_pose/generator.safetensors --threads 1
    .venv/bin/python -m benchmarks.curve --weights W --no-wider --results-dir benchmarks/results  # keep the report
    .venv/bin/python -m benchmarks.curve --plot-only  # redraw docs/learning_curve.png from the curve files

The measuring is ``benchmarks/quality.py``'s (imported, :func:`quality.run`) on a copy of the weights taken
first, since the background run replaces its state (``training/aligned_pose/``) every ten minutes. Methods ``gan``, ``solid``
(the re-identification bar) and ``swap`` (the same-person bar; donors: ``--donors``, by default the prepared
set of the generator's frame and resolution). The held-out faces are quality.py's seeded sample (seed 0),
cut once ``--faces`` faces of >= 100 px are scored, so every row of a curve stands on the same faces and the
same LFW queries and gallery; WIDER's 400 photos unless ``--no-wider``.

One row per run: ``date`` (UTC), ``design`` (frame and resolution of the weights' config, e.g.
``aligned128``), ``steps``, ``images_seen``, ``training_hours`` (the sidecar's ``training`` block),
``auc`` and ``frechet_ratio`` (held-out faces of at least ``realism_min_size`` px, ``faces_scored`` of
them), ``reid_rate`` and ``reid_solid_rate`` (rank-1 in the LFW gallery), ``same_person_share`` and
``swap_same_person_share`` (LFW queries dlib calls their own original), ``wider_retention_64``,
``same_box_64_share`` and ``swap_same_box_64_share`` (held-out faces of 64 px and more, all three face sets,
that dlib calls their own original when both descriptors are taken on the original's box: the generator's
against another person's real face pasted through the same region; since 2026-12-04, and filled in for older
rows from their kept ``quality_<design>_<steps>.json`` by ``--backfill``), ``sha256`` (its first 12 hex digits)
and the ``command``. ``docs/learning_curve.png`` is then drawn from every file of
``--plot-csv``: images seen across, classifier AUC on the left, the same-box identity share (faces of >= 64
px, and the swap reference's, dashed) on the right, one line per design.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from anonymizer.training.recipes import RECIPES, RESUMED
from benchmarks import quality
from benchmarks.common import ROOT

COLUMNS = (
    "date",
    "design",
    "steps",
    "images_seen",
    "training_hours",
    "auc",
    "frechet_ratio",
    "faces_scored",
    "realism_min_size",
    "reid_rate",
    "reid_solid_rate",
    "same_person_share",
    "swap_same_person_share",
    "wider_retention_64",
    "same_box_64_share",
    "swap_same_box_64_share",
    "sha256",
    "command",
)
# Added 2026-12-04: a curve file with the columns before it is rewritten with them (empty) on the next append.
NEW_COLUMNS = ("same_box_64_share", "swap_same_box_64_share")
CURVE = ROOT / "training" / "curve.csv"
OLD_CURVE = ROOT / "training" / "curve_box128.csv"
PLOT = ROOT / "docs" / "learning_curve.png"
HELDOUT_CAP = 3000  # held-out photos at most: far more than 500 faces of >= 100 px need
COLOURS = {"aligned128": (31, 119, 180), "box128": (255, 127, 14), "box64": (127, 127, 127)}
OTHER_COLOURS = ((44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (23, 190, 207))


# ---------------------------------------------------------------- the row


def design_of(config: dict, training: dict | None = None) -> str:
    """A generator design's name: its frame and resolution, e.g. ``aligned128`` or ``box64``; in the aligned
    frame, ``ms`` when it was trained on masks of several scales, and the scale it paints when that is not
    the template's 1 (``aligned128ms@1.15``); ``tl`` when painted from the template's landmarks (``pl``: those
    moved to the face's coarse pose), and ``-pd`` when trained against the projected discriminator; ``-w24`` for
    an aligned generator of another width than 16; ``-th`` when trained with turned heads drawn as a set share."""
    name = f"{config.get('frame', 'box')}{config['resolution']}"
    several = bool((training or {}).get("mask_scales"))
    if config.get("frame") == "aligned" and (several or float(config.get("region_scale", 1.0)) != 1.0):
        name += ("ms" if several else "") + f"@{float(config['region_scale']):g}"
    if config.get("landmarks", "own") == "template":
        name += "tl"  # painted from the template's landmarks: a new design, its own curve
    elif config.get("landmarks", "own") == "pose":
        name += "pl"  # from the template's landmarks moved to the face's coarse pose
    if (training or {}).get("discriminator", "dcgan") != "dcgan":
        name += "-pd"  # judged by the projected discriminator (heads on frozen pretrained features)
    if config.get("frame") == "aligned" and int(config.get("width", 16)) != 16:
        name += f"-w{int(config['width'])}"  # a generator of another size
    if (training or {}).get("turned_share"):
        name += "-th"  # trained with turned heads drawn as a set share of the faces
    return name


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{round(value, 4):g}"
    return str(value)


def row_from_result(result: dict, command: str, date: str) -> dict:
    """The curve row of one :func:`quality.run` result."""
    weights = result["weights"] or {}
    training = weights.get("training") or {}
    large = result.get("realism_large") or {}
    reid = (result.get("reid_gallery") or {}).get("methods") or {}
    wider = next(
        (r for r in result["results"] if r["dataset"] == "wider@>= 64 px" and r["method"] == "gan"),
        {},
    )
    same_box = same_box_64(result)
    row = {
        "date": date,
        "design": design_of(weights["config"], training),
        "steps": training.get("steps"),
        "images_seen": training.get("images_seen"),
        "training_hours": training.get("training_hours"),
        "auc": (large.get("classifier_auc") or {}).get("gan", {}).get("auc"),
        "frechet_ratio": (large.get("frechet") or {}).get("gan", {}).get("ratio"),
        "faces_scored": large.get("faces"),
        "realism_min_size": large.get("min_size"),
        "reid_rate": reid.get("gan", {}).get("share"),
        "reid_solid_rate": reid.get("solid", {}).get("share"),
        "same_person_share": reid.get("gan", {}).get("same_person_share"),
        "swap_same_person_share": reid.get("swap", {}).get("same_person_share"),
        "wider_retention_64": wider.get("retention"),
        "same_box_64_share": same_box.get("gan"),
        "swap_same_box_64_share": same_box.get("swap"),
        "sha256": str(weights.get("sha256") or "")[:12],
        "command": command,
    }
    return {k: _cell(v) for k, v in row.items()}


def same_box_64(result: dict) -> dict:
    """Per method, the share of held-out faces of >= 64 px that dlib calls their own original (the
    descriptors taken on the same box before and after)."""
    return {
        r["method"]: r.get("same_person_share")
        for r in result.get("results") or []
        if r.get("dataset") == "heldout@>= 64 px"
    }


def _rewrite(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: r.get(k) or "" for k in COLUMNS} for r in rows)
    tmp.replace(path)


def append_row(path: Path, row: dict) -> None:
    """Append ``row`` to the curve file, writing the header first when the file is new (or empty); a file
    with the columns from before :data:`NEW_COLUMNS` is rewritten with them first, their cells empty."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.is_file() or path.stat().st_size == 0
    if not new:
        with open(path, newline="") as f:
            header = next(csv.reader(f), [])
        if tuple(header) == tuple(c for c in COLUMNS if c not in NEW_COLUMNS):
            _rewrite(path, read_rows(path))
        elif tuple(header) != COLUMNS:
            raise SystemExit(f"{path} has other columns than {', '.join(COLUMNS)}: move it aside first")
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow({k: row.get(k, "") for k in COLUMNS})


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def backfill(path: Path, results_dir: Path) -> int:
    """Fill the :data:`NEW_COLUMNS` of older rows from their kept ``quality_<design>_<steps>.json`` in
    ``results_dir`` (same weights: its checksum must match the row's); returns the rows filled."""
    rows, filled = read_rows(path), 0
    for row in rows:
        if all(row.get(c) for c in NEW_COLUMNS):
            continue
        kept = results_dir / f"quality_{row['design']}_{row['steps']}.json"
        if not kept.is_file():
            continue
        result = json.loads(kept.read_text())
        if str((result.get("weights") or {}).get("sha256") or "")[:12] != row["sha256"]:
            continue
        same_box = same_box_64(result)
        if same_box.get("gan") is None:
            continue
        row["same_box_64_share"], row["swap_same_box_64_share"] = _cell(same_box["gan"]), _cell(same_box.get("swap"))
        filled += 1
    _rewrite(path, rows)
    return filled


# ---------------------------------------------------------------- the plot


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _thousands(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:g}M"
    return f"{x / 1e3:g}k" if x >= 1e3 else f"{x:g}"


def _ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``."""
    raw = max(top, 1e-9) / count
    step = min((m * 10 ** int(f"{raw:e}".split("e")[1]) for m in (1, 2, 2.5, 5, 10)), key=lambda s: (s < raw, s))
    return [k * step for k in range(int(top / step + 0.999) + 1)]


def draw_curve(rows: list[dict], path: Path) -> None:
    """Two panels over images seen (classifier AUC; the same-box identity share of faces of >= 64 px, with
    the swap reference's), one line per design."""
    from PIL import Image, ImageDraw, ImageFont

    fonts = ImageFont.load_default(size=15), ImageFont.load_default(size=12)
    designs = sorted({r["design"] for r in rows}, key=lambda d: (d not in COLOURS, d))
    others = [d for d in designs if d not in COLOURS]  # each its own colour while there are colours enough
    colour = {d: COLOURS.get(d) or OTHER_COLOURS[others.index(d) % len(OTHER_COLOURS)] for d in designs}
    seen = [v for r in rows if (v := _number(r.get("images_seen"))) is not None]
    # Images seen on a log scale: the new design's first states sit far left of the old design's last.
    x_range = (max(min(seen, default=1e3), 1.0) / 1.5, max(max(seen, default=1e6), 10.0) * 1.5)
    keys = ("same_box_64_share", "swap_same_box_64_share")
    same = [v for r in rows for k in keys if (v := _number(r.get(k))) is not None]
    same_top = max(_ticks(max(same, default=0.05) * 1.1)[-1], 0.05)
    width, height, pad = 1200, 520, 70
    panel_w = (width - 3 * pad) // 2
    # The legend's lines past its first, each making the figure taller.
    places = _legend_places(designs, fonts[0], pad, width - 10)
    extra = places[-1][2] if places else 0
    image = Image.new("RGB", (width, height + extra), "white")
    draw = ImageDraw.Draw(image)
    by_design = {
        d: sorted(
            (r for r in rows if r["design"] == d and _number(r.get("images_seen")) is not None),
            key=lambda r: _number(r["images_seen"]),
        )
        for d in designs
    }
    frames = [(pad + n * (panel_w + pad), 60, pad + n * (panel_w + pad) + panel_w, height - 90) for n in range(2)]
    common = {"draw": draw, "by_design": by_design, "colour": colour, "fonts": fonts, "x_range": x_range}
    _panel(
        **common,
        frame=frames[0],
        y_range=(0.5, 1.0),
        keys=("auc", None),
        bar=quality.MAX_AUC,
        title=f"classifier AUC, gan vs originals (bar {quality.MAX_AUC}; 0.5: indistinguishable)",
    )
    _panel(
        **common,
        frame=frames[1],
        y_range=(0.0, same_top),
        keys=keys,
        bar=None,
        title="held-out faces >= 64 px dlib calls their own original (dashed: swap)",
    )
    x, y = _legend(draw, designs, colour, fonts[0], pad, height - 27, width - 10, places)
    sizes = sorted({float(r["realism_min_size"]) for r in rows if _number(r.get("realism_min_size")) is not None})
    if len(sizes) > 1:  # the designs' AUCs stand on faces of different sizes: say so
        note = f"AUC on held-out faces of >= {' / '.join(f'{s:g}' for s in sizes)} px (realism_min_size column)"
        # beside the legend where it fits, else on a line of its own under it
        fits = x + 20 + draw.textlength(note, font=fonts[1]) <= width - 10
        draw.text(
            (x + 20, y) if fits else (pad, y + 18),
            note,
            fill=(90, 90, 90),
            font=fonts[1],
            anchor="lm",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, optimize=True)


LEGEND_LINE = 24  # pixels from one line of the legend to the next


def _legend_places(designs, font, x: float, right: float | None = None) -> list[tuple[str, float, int, int]]:
    """Where each design's swatch goes in a legend from ``x`` (going on to the next line where a name would pass
    ``right``): (design, x, lines down in pixels, the name's length)."""
    places, start, y = [], x, 0
    for design in designs:
        length = int(font.getlength(design))
        if right is not None and x > start and x + 20 + length > right:
            x, y = start, y + LEGEND_LINE
        places.append((design, x, y, length))
        x += 40 + length
    return places


def _legend(
    draw, designs, colour, font, x: float, y: float, right: float | None = None, places=None
) -> tuple[float, float]:
    """A colour swatch and the name of each design, in a line from ``x`` centred on ``y``, going on to the next
    line where a name would pass ``right`` (``places``: :func:`_legend_places`' for them, if already laid out);
    returns where it ends (x and y of its last line)."""
    end = (x, y)
    for design, left, down, length in places or _legend_places(designs, font, x, right):
        draw.rectangle([left, y + down - 7, left + 14, y + down + 7], fill=colour[design])
        draw.text((left + 20, y + down), design, fill="black", font=font, anchor="lm")
        end = (left + 40 + length, y + down)
    return end


def _panel(
    draw, frame, by_design, colour, fonts, x_range, y_range, keys, bar, title, linear=False, x_label=None
) -> None:
    """One panel: ``keys`` (the solid line's column, the dashed one's or None) over images seen, on a log
    scale, or from ``x_range[0]`` on a straight one with ``linear``. Shares (columns ending in ``share`` or
    ``rate``) are labelled in per cent."""
    left, top, right, bottom = frame
    y0, y1 = y_range
    font, small = fonts

    def at(x: float, y: float) -> tuple[float, float]:
        y = min(max(y, y0), y1)
        if linear:
            across = (x - x_range[0]) / (x_range[1] - x_range[0])
        else:
            across = math.log10(max(x, x_range[0]) / x_range[0]) / math.log10(x_range[1] / x_range[0])
        return left + (right - left) * across, bottom - (bottom - top) * (y - y0) / (y1 - y0)

    draw.text((left, top - 28), title, fill="black", font=font)
    if linear:
        for t in _ticks(x_range[1] - x_range[0]):
            if x_range[0] + t <= x_range[1] + 1e-9:
                x, _ = at(x_range[0] + t, y0)
                draw.line([(x, top), (x, bottom)], fill=(225, 225, 225))
                draw.text((x, bottom + 6), _thousands(x_range[0] + t), fill="black", font=small, anchor="mt")
    else:
        decade = 10 ** math.floor(math.log10(x_range[0]))
        while decade <= x_range[1]:
            for m in (1, 2, 5):
                if x_range[0] <= m * decade <= x_range[1]:
                    x, _ = at(m * decade, y0)
                    draw.line([(x, top), (x, bottom)], fill=(215, 215, 215) if m == 1 else (240, 240, 240))
                    shade = "black" if m == 1 else (120, 120, 120)
                    draw.text((x, bottom + 6), _thousands(m * decade), fill=shade, font=small, anchor="mt")
            decade *= 10
    share = keys[0].endswith(("share", "rate"))
    for t in _ticks(y1 - y0):
        if y0 + t > y1 + 1e-9:
            continue
        _, y = at(x_range[0], y0 + t)
        draw.line([(left, y), (right, y)], fill=(230, 230, 230))
        label = f"{round(100 * (y0 + t), 3):g}%" if share else f"{y0 + t:.2f}"
        draw.text((left - 6, y), label, fill="black", font=small, anchor="rm")
    draw.rectangle([left, top, right, bottom], outline="black")
    x_label = x_label or ("images seen" if linear else "images seen (log scale)")
    draw.text(((left + right) / 2, bottom + 26), x_label, fill="black", font=small, anchor="mt")
    if bar is not None:
        _dashed_line(draw, at(x_range[0], bar), at(x_range[1], bar), (44, 160, 44))
    for design, mine in by_design.items():
        for key, dashed in zip(keys, (False, True)):
            if key is None:
                continue
            points = [at(_number(r["images_seen"]), v) for r in mine if (v := _number(r.get(key))) is not None]
            for a, b in zip(points, points[1:]):
                if dashed:
                    _dashed_line(draw, a, b, colour[design])
                else:
                    draw.line([a, b], fill=colour[design], width=2)
            r = 3 if dashed else 5
            for x, y in points:
                draw.ellipse(
                    [x - r, y - r, x + r, y + r],
                    outline=colour[design],
                    width=2,
                    fill=None if dashed else colour[design],
                )


def _dashed_line(draw, a: tuple[float, float], b: tuple[float, float], fill, dash: float = 7.0) -> None:
    (xa, ya), (xb, yb) = a, b
    length = max(((xb - xa) ** 2 + (yb - ya) ** 2) ** 0.5, 1e-6)
    t = 0.0
    while t < length:
        s, e = t / length, min(t + dash, length) / length
        draw.line(
            [(xa + (xb - xa) * s, ya + (yb - ya) * s), (xa + (xb - xa) * e, ya + (yb - ya) * e)], fill=fill, width=2
        )
        t += 2 * dash


# ---------------------------------------------------------------- the run


def snapshot(weights: Path, folder: Path) -> Path:
    """Copy the weights and their sidecar into ``folder``, the copy checked against the sidecar's checksum."""
    from anonymizer.models.io import read_info, sha256_of, sidecar

    for _ in range(3):
        copy = folder / weights.name
        shutil.copy2(sidecar(weights), sidecar(copy))
        shutil.copy2(weights, copy)
        if sha256_of(copy) == read_info(copy).get("sha256"):
            return copy
    # a checkpoint written between the two copies three times in a row: not a state to measure
    raise SystemExit(f"{weights} kept changing while it was copied")


def default_donors(config: dict) -> Path:
    """The prepared set of the generator's frame and resolution (data/aligned128, data/faces128...)."""
    name = f"aligned{config['resolution']}" if config.get("frame") == "aligned" else f"faces{config['resolution']}"
    return ROOT / "data" / name


def quality_argv(args: argparse.Namespace, weights: Path, donors: Path | None, out: Path) -> list[str]:
    argv = [
        "--weights",
        str(weights),
        "--methods",
        "gan,solid,swap" if donors else "gan,solid",
        "--limit",
        str(HELDOUT_CAP),
        "--realism-faces",
        str(args.faces),
        "--realism-min-size",
        str(args.min_size),
        "--wider-limit",
        "0" if args.no_wider else "400",
        "--seed",
        "0",
        "--threads",
        str(args.threads),
        "--device",
        args.device,
        "--out",
        str(out),
        "--samples-dir",
        str(out),
    ]
    if donors:
        argv += ["--donors", str(donors)]
    if args.quiet:
        argv.append("--quiet")
    return argv + shlex.split(args.quality_args)  # later options win


def measure(args: argparse.Namespace, command: str) -> tuple[dict, Path]:
    """Run quality.py on a snapshot of the weights; its result and the folder its files are in."""
    from anonymizer.models.io import read_info, sidecar

    weights = Path(args.weights)
    config = read_info(weights)["config"]
    donors = Path(args.donors) if args.donors else default_donors(config)
    if not (donors / "manifest.json").is_file():
        print(f"no prepared donors at {donors}: measuring without the swap reference", file=sys.stderr)
        donors = None
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="curve_"))
    out.mkdir(parents=True, exist_ok=True)
    copy = snapshot(weights, out)
    if args.region_scale is not None:  # the same weights painting another size (the sidecar's default changed)
        info = json.loads(sidecar(copy).read_text())
        info["config"]["region_scale"] = float(args.region_scale)
        sidecar(copy).write_text(json.dumps(info, indent=2) + "\n")
    qargs = quality.parse_args(quality_argv(args, copy, donors, out))
    qargs.command = command
    result = quality.run(qargs)
    result["weights"]["path"] = str(weights)  # the state measured, not its copy
    (out / "quality.json").write_text(json.dumps(result, indent=2) + "\n")
    return result, out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--weights",
        default=str(ROOT / RECIPES[RESUMED].state / "generator.safetensors"),
        help="default: the state of the run that keeps going (training/resume.sh's recipe)",
    )
    p.add_argument("--faces", type=int, default=500, help="held-out faces of >= --min-size px the realism stands on")
    p.add_argument("--min-size", type=float, default=100.0, help="the realism faces' smallest box side (px)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--device", default="cpu", help="auto, cpu or cuda")
    p.add_argument("--no-wider", action="store_true", help="skip WIDER (wider_retention_64 left empty)")
    p.add_argument(
        "--region-scale",
        type=float,
        default=None,
        help="measure the generator painting its inner-face mask at this scale (one trained with --mask-scales)",
    )
    p.add_argument("--donors", default="", help="prepared crops for the swap reference (default: by the design)")
    p.add_argument("--csv", default=str(CURVE), help="the curve file the row is appended to")
    p.add_argument(
        "--plot-csv",
        nargs="*",
        default=None,
        help="curve files the plot is drawn from (default: --csv and training/curve_box128.csv)",
    )
    p.add_argument("--plot", default=str(PLOT), help="the plot written")
    p.add_argument("--out", default="", help="keep quality.py's files and sample sheets here (default: a temp folder)")
    p.add_argument(
        "--results-dir",
        default="",
        help="also copy quality.md/json here as quality_<design>_<steps>.md/json (e.g. benchmarks/results)",
    )
    p.add_argument(
        "--quality-args",
        default="",
        help="more quality.py options, e.g. '--reid-queries 20' for a quick try (a row so made is not comparable)",
    )
    p.add_argument("--plot-only", action="store_true", help="only redraw the plot")
    p.add_argument(
        "--backfill",
        action="store_true",
        help="fill the same-box columns of older rows of --csv from --results-dir's kept reports, redraw, and stop",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plot_from = [Path(p) for p in args.plot_csv] if args.plot_csv is not None else [Path(args.csv), OLD_CURVE]
    if args.backfill:
        filled = backfill(Path(args.csv), Path(args.results_dir or ROOT / "benchmarks" / "results"))
        print(f"{filled} rows filled in {args.csv}", file=sys.stderr)
    elif not args.plot_only:
        if not Path(args.weights).is_file():
            raise SystemExit(f"no generator weights at {args.weights}")
        command = shlex.join([".venv/bin/python", "-m", "benchmarks.curve", *(sys.argv[1:] if argv is None else argv)])
        started = datetime.datetime.now(datetime.timezone.utc)
        result, out = measure(args, command)
        row = row_from_result(result, command, started.strftime("%Y-%m-%dT%H:%M:%SZ"))
        append_row(Path(args.csv), row)
        if args.results_dir:
            results = Path(args.results_dir)
            results.mkdir(parents=True, exist_ok=True)
            stem = f"quality_{row['design']}_{row['steps']}"
            shutil.copy2(out / "quality.json", results / f"{stem}.json")
            shutil.copy2(out / "quality.md", results / f"{stem}.md")
        print(json.dumps(row, indent=2))
        print(f"quality.py's files and sample sheets: {out}", file=sys.stderr)
    draw_curve([r for path in plot_from for r in read_rows(path)], Path(args.plot))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
