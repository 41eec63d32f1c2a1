"""Fast checks of benchmarks/curve.py: the row it makes of a quality result, the file it appends to, the plot."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def curve():
    from benchmarks import curve

    return curve


def _result(steps: int, images: int, auc: float, reid: float, wider: bool = True) -> dict:
    """The parts of a quality.py result that a curve row reads."""
    rows = [{"dataset": "wider@>= 64 px", "method": "gan", "retention": 0.96}] if wider else []
    return {
        "weights": {
            "sha256": "3dea5dffc42a968451a32eb3e91851ee",
            "config": {"resolution": 128, "frame": "aligned"},
            "training": {"steps": steps, "images_seen": images, "training_hours": 0.5},
        },
        "results": rows,
        "realism_large": {
            "classifier_auc": {"gan": {"auc": auc}},
            "frechet": {"gan": {"ratio": 1.23456}},
            "faces": 512,
            "min_size": 100.0,
        },
        "reid_gallery": {
            "methods": {
                "gan": {"share": reid, "same_person_share": 0.02},
                "solid": {"share": 0.0233, "same_person_share": 0.0},
                "swap": {"share": 0.0, "same_person_share": 0.01},
            }
        },
    }


def test_a_row_carries_the_state_and_its_figures(curve):
    row = curve.row_from_result(_result(538, 8608, 0.93211, 0.25, wider=False), "cmd --x", "2026-12-02T12:00:00Z")
    assert list(row) == list(curve.COLUMNS)
    assert row["design"] == "aligned128" and (row["steps"], row["images_seen"]) == ("538", "8608")
    assert (row["auc"], row["frechet_ratio"], row["faces_scored"]) == ("0.9321", "1.2346", "512")
    assert (row["reid_rate"], row["reid_solid_rate"], row["swap_same_person_share"]) == ("0.25", "0.0233", "0.01")
    assert row["wider_retention_64"] == "" and row["sha256"] == "3dea5dffc42a" and row["command"] == "cmd --x"
    assert curve.design_of({"resolution": 64}) == "box64"


def test_a_generator_trained_on_several_mask_scales_is_its_own_design_per_painted_scale(curve):
    aligned = {"resolution": 128, "frame": "aligned", "region_scale": 1.0}
    assert curve.design_of(aligned, {"steps": 5}) == "aligned128"  # the first design: its rows stay where they are
    several = {"mask_scales": [1.0, 1.3]}
    assert curve.design_of(aligned, several) == "aligned128ms@1"
    assert curve.design_of({**aligned, "region_scale": 1.15}, several) == "aligned128ms@1.15"
    assert curve.design_of({**aligned, "region_scale": 1.3}) == "aligned128@1.3"
    pose = {**aligned, "region_scale": 1.2, "landmarks": "pose", "width": 24}
    assert curve.design_of(pose, several) == "aligned128ms@1.2pl-w24"
    assert curve.design_of(pose, {**several, "turned_share": 0.25}) == "aligned128ms@1.2pl-w24-th"
    wide = {**aligned, "region_scale": 1.2, "landmarks": "template", "width": 24}
    assert curve.design_of(wide, several) == "aligned128ms@1.2tl-w24"
    assert curve.design_of({**wide, "width": 16}, several) == "aligned128ms@1.2tl"
    assert curve.design_of({**wide, "landmarks": "pose"}, several) == "aligned128ms@1.2pl-w24"
    result = _result(90000, 1440000, 0.8, 0.02)
    result["weights"]["config"]["region_scale"] = 1.15
    result["weights"]["training"]["mask_scales"] = [1.0, 1.3]
    assert curve.row_from_result(result, "cmd", "2026-12-03T12:00:00Z")["design"] == "aligned128ms@1.15"


def test_region_scale_measures_the_same_weights_painting_another_size(curve, tmp_path):
    from anonymizer.models.io import read_info

    weights = tmp_path / "w" / "generator.safetensors"
    weights.parent.mkdir()
    weights.write_bytes(b"not really weights")
    info = {"config": {"resolution": 128, "frame": "aligned", "region_scale": 1.15}}
    info["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    weights.with_suffix(".json").write_text(json.dumps(info))
    seen = {}

    def fake_run(qargs):
        seen.update(read_info(Path(qargs.weights)))
        return {"weights": {"config": seen["config"]}}

    args = curve.parse_args(["--weights", str(weights), "--region-scale", "1.3", "--out", str(tmp_path / "o")])
    original = curve.quality.run
    curve.quality.run = fake_run
    try:
        curve.measure(args, "cmd")
    finally:
        curve.quality.run = original
    assert seen["config"]["region_scale"] == 1.3  # the copy measured paints 1.3
    assert (
        json.loads(weights.with_suffix(".json").read_text())["config"]["region_scale"] == 1.15
    )  # the state: untouched


def test_rows_are_appended_under_one_header_and_the_plot_is_drawn(curve, tmp_path):
    from PIL import Image

    path = tmp_path / "training" / "curve.csv"
    for n, (auc, reid) in enumerate(((0.95, 0.25), (0.9, 0.1), (0.8, 0.02))):
        row = curve.row_from_result(_result(1000 * (n + 1), 16000 * (n + 1), auc, reid), "cmd", f"2026-12-0{n + 1}")
        curve.append_row(path, row)
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(curve.COLUMNS) and sum(line.startswith("date,") for line in lines) == 1
    rows = curve.read_rows(path)
    assert [r["steps"] for r in rows] == ["1000", "2000", "3000"]
    old = tmp_path / "curve_box128.csv"
    with open(old, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=curve.COLUMNS)
        writer.writeheader()
        writer.writerow({"design": "box128", "images_seen": "666912", "auc": "0.9478", "realism_min_size": "32"})
    plot = tmp_path / "docs" / "learning_curve.png"
    curve.draw_curve(rows + curve.read_rows(old), plot)
    image = Image.open(plot)
    assert image.size == (1200, 520) and image.mode == "RGB"
    colours = {c for _, c in image.getcolors(1 << 20)}
    assert curve.COLOURS["aligned128"] in colours and curve.COLOURS["box128"] in colours  # both designs drawn

    # More designs than one line of legend holds: each its own colour, the legend on two lines, the figure taller.
    many = [f"aligned128ms@1.2tl-variant-{n}" for n in range(len(curve.OTHER_COLOURS))]
    curve.draw_curve(rows + [{**rows[-1], "design": d} for d in many], plot)
    image = Image.open(plot)
    assert image.size == (1200, 520 + curve.LEGEND_LINE)
    colours = {c for _, c in image.getcolors(1 << 20)}
    assert set(curve.OTHER_COLOURS) <= colours


def test_a_curve_file_of_other_columns_is_not_appended_to(curve, tmp_path):
    path = tmp_path / "curve.csv"
    path.write_text("date,auc\n2026-12-01,0.9\n")
    with pytest.raises(SystemExit, match="other columns"):
        curve.append_row(path, {"date": "x"})
    assert path.read_text() == "date,auc\n2026-12-01,0.9\n"


def _with_same_box(result: dict, gan: float, swap: float) -> dict:
    result["results"] += [
        {"dataset": "heldout@>= 64 px", "method": "gan", "same_person_share": gan},
        {"dataset": "heldout@>= 64 px", "method": "swap", "same_person_share": swap},
        {"dataset": "heldout@64-127 px", "method": "gan", "same_person_share": 0.5},  # another size: not read
    ]
    return result


def test_a_row_carries_the_same_box_identity_of_faces_of_64_px_and_more(curve):
    row = curve.row_from_result(_with_same_box(_result(5, 80, 0.9, 0.01), 0.105, 0.062), "cmd", "2026-12-04")
    assert (row["same_box_64_share"], row["swap_same_box_64_share"]) == ("0.105", "0.062")
    assert curve.row_from_result(_result(5, 80, 0.9, 0.01), "cmd", "d")["same_box_64_share"] == ""  # not measured


def test_a_curve_from_before_the_same_box_columns_gains_them_and_old_rows_are_filled_from_their_reports(
    curve, tmp_path
):
    old_columns = [c for c in curve.COLUMNS if c not in curve.NEW_COLUMNS]
    path = tmp_path / "curve.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=old_columns)
        writer.writeheader()
        for steps, sha in ((100, "3dea5dffc42a"), (200, "3dea5dffc42a"), (300, "000000000000")):
            writer.writerow({"date": "d", "design": "aligned128", "steps": steps, "sha256": sha, "auc": "0.9"})
    results = tmp_path / "results"
    results.mkdir()
    for steps in (100, 300):  # 200 has no kept report; 300's report is of other weights than its row's
        kept = _with_same_box(_result(steps, 16 * steps, 0.9, 0.01), 0.12, 0.07)
        (results / f"quality_aligned128_{steps}.json").write_text(json.dumps(kept))
    curve.append_row(path, curve.row_from_result(_with_same_box(_result(400, 6400, 0.8, 0.0), 0.1, 0.06), "c", "d"))
    rows = curve.read_rows(path)
    assert path.read_text().splitlines()[0] == ",".join(curve.COLUMNS)
    assert [r["steps"] for r in rows] == ["100", "200", "300", "400"] and rows[0]["auc"] == "0.9"
    assert [r["same_box_64_share"] for r in rows] == ["", "", "", "0.1"]
    assert curve.backfill(path, results) == 1
    rows = curve.read_rows(path)
    assert [(r["same_box_64_share"], r["swap_same_box_64_share"]) for r in rows] == [
        ("0.12", "0.07"),
        ("", ""),
        ("", ""),
        ("0.1", "0.06"),
    ]
