"""The race between two generator designs from one state, read off the learning curve: each row of the new
design beside the old design at as many images seen since the split, and at as many training hours since it.

    .venv/bin/python -m benchmarks.race                      # training/curve.csv, the designs of the race
    .venv/bin/python -m benchmarks.race --old aligned128ms@1.2tl --new aligned128ms@1.2tl-pd --out FILE.md
    .venv/bin/python -m benchmarks.race --plot FILE.png     # also both arms' curves from the split
    .venv/bin/python -m benchmarks.race --new aligned128ms@1.2tl-w24 --split 5160640 --old-split 4141264

The split is the old design's row whose images seen equal ``--split`` (by default the new design's first state,
which both arms started from: the old design's row at 4,141,264 images). The old design's measures at the new
row's images (or hours) since the split are read by straight lines between its two rows around that point,
from the split on; past its last row they are not guessed. The curve's rows are measured on the same held-out
faces and queries (``benchmarks/curve.py``), so the columns compare as they stand: classifier AUC and Fréchet
ratio (realism, lower is better), rank-1 re-identification against the flat fill's, and the same-person shares
(all LFW queries, and faces of 64 px or more) against the real-face swap's.

A new design that went on from the old design's last state has no old rows beside it; ``--old-split`` then names
an earlier old row to count the old design's images and hours from: the old design over its own last million
images, say, against the new one over its first million (the wider generator against the aligned arm).
Two arms that both went on from a third design's row (the coarse pose and the wider generator, from the aligned
arm's at 5,160,640 images) name it with ``--start``:

    .venv/bin/python -m benchmarks.race --old aligned128ms@1.2tl-w24 --new aligned128ms@1.2pl-w24 \\
        --start aligned128ms@1.2tl --split 5160640 --out FILE.md --plot FILE.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks import quality
from benchmarks.common import ROOT
from benchmarks.curve import OTHER_COLOURS, _legend, _number, _panel, _ticks, read_rows

OLD, NEW = "aligned128ms@1.2tl", "aligned128ms@1.2tl-pd"
SPLIT = 4_141_264  # images the race's two arms started from (both folders' committed start)
MEASURES = (
    ("auc", "AUC"),
    ("frechet_ratio", "Fréchet / floor"),
    ("reid_rate", "re-identified"),
    ("reid_solid_rate", "flat fill"),
    ("same_person_share", "same person"),
    ("swap_same_person_share", "swap"),
    ("same_box_64_share", "same person, >= 64 px"),
    ("swap_same_box_64_share", "swap, >= 64 px"),
)


def along(rows: list[dict], axis: str, at: float) -> dict | None:
    """The measures of ``rows`` (sorted by ``axis``) at ``axis`` = ``at``, on straight lines between the two
    rows around it; None past either end."""
    points = [(_number(r[axis]), r) for r in rows if _number(r[axis]) is not None]
    for (x0, r0), (x1, r1) in zip(points, points[1:]):
        if x0 <= at <= x1:
            t = 0.0 if x1 == x0 else (at - x0) / (x1 - x0)
            out = {}
            for key, _ in MEASURES:
                a, b = _number(r0.get(key)), _number(r1.get(key))
                out[key] = None if a is None or b is None else a + t * (b - a)
            return out
    if points and points[-1][0] == at:
        return {key: _number(points[-1][1].get(key)) for key, _ in MEASURES}
    return None


def split_row(rows: list[dict], old: str, split: int) -> dict:
    """``old``'s row at ``split`` images: the state both arms went on from."""
    start = next((r for r in rows if r["design"] == old and int(float(r["images_seen"])) == split), None)
    if start is None:
        raise SystemExit(f"the curve has no {old} row at {split:,} images: the race's split")
    return start


def compare(
    rows: list[dict], old: str, new: str, split: int, old_split: int | None = None, start: str | None = None
) -> list[dict]:
    """For each row of ``new``: its images and hours since ``split``, its measures, and ``old``'s at as many
    images and at as many hours since ``old_split`` (by default the split; None where ``old``'s rows do not
    reach). ``start``: the design whose rows the splits are (by default ``old``; another when both arms went
    on from a third design's state)."""
    old_split = split if old_split is None else old_split
    start = start or old
    old_rows = sorted((r for r in rows if r["design"] == old), key=lambda r: float(r["images_seen"]))
    start_hours = float(split_row(rows, start, split)["training_hours"])
    old_start = split_row(rows, start, old_split)
    after = [old_start, *(r for r in old_rows if float(r["images_seen"]) > old_split)]
    old_start_hours = float(old_start["training_hours"])
    out = []
    for row in sorted((r for r in rows if r["design"] == new), key=lambda r: float(r["images_seen"])):
        images = float(row["images_seen"]) - split
        hours = float(row["training_hours"]) - start_hours
        out.append(
            {
                "images": images,
                "hours": hours,
                "new": {key: _number(row.get(key)) for key, _ in MEASURES},
                "old_at_images": along(after, "images_seen", old_split + images),
                "old_at_hours": along(after, "training_hours", old_start_hours + hours),
            }
        )
    return out


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if key in ("auc", "frechet_ratio") else f"{100 * value:.1f} %"


def markdown(comparison: list[dict], old: str, new: str, split: int, command: str, old_split: int | None = None) -> str:
    since = "the split" if old_split in (None, split) else f"its own {old_split:,} images"
    lines = [
        f"# The race: `{new}` against `{old}` from {split:,} images",
        "",
        f"`{command}`. Each row of the new design, then the old design at as many images since {since}, then at",
        "as many training hours since it (straight lines between its rows; - where its rows do not reach).",
        "",
        "| since the split | arm | " + " | ".join(label for _, label in MEASURES) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in MEASURES) + " |",
    ]
    if not comparison:
        lines.append(f"| - | no row of `{new}` yet | " + " | ".join("-" for _ in MEASURES) + " |")
    for c in comparison:
        when = f"{c['images'] / 1e6:.2f} M images, {c['hours']:.1f} h"
        for arm, measures in (
            ("new", c["new"]),
            ("old, same images", c["old_at_images"]),
            ("old, same hours", c["old_at_hours"]),
        ):
            cells = [_fmt(key, (measures or {}).get(key)) for key, _ in MEASURES]
            lines.append(f"| {when} | {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def arms_from_split(
    rows: list[dict], old: str, new: str, split: int, old_split: int | None = None, start: str | None = None
) -> dict[str, list[dict]]:
    """Each arm's rows from its start on, with ``images_seen`` counted from it: the new arm's from the split's row
    (the state it went on from), the old arm's from its row at ``old_split`` (by default the split); both rows
    of design ``start`` (by default ``old``)."""
    arms = {}
    for design, at in ((old, split if old_split is None else old_split), (new, split)):
        first = split_row(rows, start or old, at)
        mine = [r for r in rows if r["design"] == design and float(r["images_seen"]) > at]
        arms[design] = [
            {**r, "images_seen": str(float(r["images_seen"]) - at)}
            for r in sorted([first, *mine], key=lambda r: float(r["images_seen"]))
        ]
    return arms


def draw_race(
    rows: list[dict],
    old: str,
    new: str,
    split: int,
    path: Path,
    old_split: int | None = None,
    start: str | None = None,
) -> None:
    """Four panels over images seen since the split, one line per arm: classifier AUC and Fréchet ratio with
    their bars, the same-person shares of LFW queries and of faces of >= 64 px with the swap's dashed."""
    from PIL import Image, ImageDraw, ImageFont

    arms = arms_from_split(rows, old, new, split, old_split, start)
    fonts = ImageFont.load_default(size=15), ImageFont.load_default(size=12)
    colour = {old: OTHER_COLOURS[1], new: OTHER_COLOURS[2]}
    x_top = max((float(r["images_seen"]) for mine in arms.values() for r in mine), default=0.0)
    x_range = (0.0, _ticks(max(x_top, 1.0) * 1.05)[-1])

    def top(keys: tuple[str, ...], floor: float) -> float:
        values = [v for mine in arms.values() for r in mine for k in keys if (v := _number(r.get(k))) is not None]
        return max(_ticks(max(values, default=floor) * 1.1)[-1], floor)

    panels = (
        (("auc", None), (0.5, 1.0), quality.MAX_AUC, f"classifier AUC (bar {quality.MAX_AUC}; 0.5: indistinguishable)"),
        (
            ("frechet_ratio", None),
            (0.0, top(("frechet_ratio",), quality.MAX_FRECHET_RATIO * 1.25)),
            quality.MAX_FRECHET_RATIO,
            f"Frechet / two-halves floor (bar {quality.MAX_FRECHET_RATIO:g}x)",
        ),
        (
            ("same_person_share", "swap_same_person_share"),
            (0.0, top(("same_person_share", "swap_same_person_share"), 0.05)),
            None,
            "LFW queries dlib calls the same person (dashed: swap)",
        ),
        (
            ("same_box_64_share", "swap_same_box_64_share"),
            (0.0, top(("same_box_64_share", "swap_same_box_64_share"), 0.05)),
            None,
            "faces >= 64 px dlib calls their own original (dashed: swap)",
        ),
    )
    width, height, pad = 1200, 840, 70
    panel_w, panel_h = (width - 3 * pad) // 2, (height - 60 - 90 - 100) // 2
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for n, (keys, y_range, bar, title) in enumerate(panels):
        left, upper = pad + (n % 2) * (panel_w + pad), 60 + (n // 2) * (panel_h + 90)
        _panel(
            draw,
            (left, upper, left + panel_w, upper + panel_h),
            arms,
            colour,
            fonts,
            x_range,
            y_range,
            keys,
            bar,
            title,
            linear=True,
            x_label=f"images seen since the split ({split:,})"
            + ("" if old_split in (None, split) else f"; the old arm's since its {old_split:,}"),
        )
    _legend(draw, (old, new), colour, fonts[0], pad, height - 27)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--curve", type=Path, default=ROOT / "training" / "curve.csv")
    ap.add_argument("--old", default=OLD)
    ap.add_argument("--new", default=NEW)
    ap.add_argument("--split", type=int, default=SPLIT, help="images seen at the split (an --old row)")
    ap.add_argument(
        "--old-split",
        type=int,
        default=None,
        help="count the old arm's images and hours from its row at this many images instead (default: --split)",
    )
    ap.add_argument(
        "--start",
        default=None,
        help="the design whose rows the splits are, when both arms went on from a third design's state (default: --old)",
    )
    ap.add_argument("--out", type=Path, default=None, help="also write the table here (markdown)")
    ap.add_argument("--plot", type=Path, default=None, help="also draw both arms' curves from the split here (PNG)")
    args = ap.parse_args(argv)
    command = "python -m benchmarks.race " + " ".join(sys.argv[1:] if argv is None else argv)
    rows = read_rows(args.curve)
    comparison = compare(rows, args.old, args.new, args.split, args.old_split, args.start)
    text = markdown(comparison, args.old, args.new, args.split, command, args.old_split)
    if args.plot:
        draw_race(rows, args.old, args.new, args.split, args.plot, args.old_split, args.start)
    if args.out:
        args.out.write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
