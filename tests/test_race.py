"""The race read off the learning curve: the new design beside the old at equal images and equal hours."""

import pytest

from benchmarks.race import arms_from_split, compare, draw_race, markdown


def _row(design, images, hours, auc, same):
    return {
        "design": design,
        "images_seen": str(images),
        "training_hours": str(hours),
        "auc": str(auc),
        "same_person_share": str(same),
        "frechet_ratio": "",
    }


ROWS = [
    _row("old", 1_000_000, 5.0, 0.95, 0.05),  # before the split: never read
    _row("old", 2_000_000, 10.0, 0.90, 0.02),  # the split
    _row("old", 3_000_000, 20.0, 0.80, 0.04),
    _row("new", 2_500_000, 20.0, 0.70, 0.01),
    _row("new", 4_000_000, 30.0, 0.60, 0.01),
]


def test_the_old_arm_is_read_at_the_new_rows_images_and_hours_since_the_split():
    first, second = compare(ROWS, "old", "new", 2_000_000)
    assert first["images"] == 500_000 and first["hours"] == 10.0
    assert first["new"]["auc"] == 0.70
    assert first["old_at_images"]["auc"] == pytest.approx(0.85)  # halfway from 2 M to 3 M images
    assert first["old_at_images"]["same_person_share"] == pytest.approx(0.03)
    assert first["old_at_hours"]["auc"] == pytest.approx(0.80)  # 10 h after the split: the 3 M row
    assert first["old_at_images"]["frechet_ratio"] is None  # not measured on those rows
    assert second["old_at_images"] is None and second["old_at_hours"] is None  # past the old arm's last row


def test_a_split_the_old_arm_never_measured_is_refused():
    with pytest.raises(SystemExit, match="2,500,000"):
        compare(ROWS, "old", "new", 2_500_000)


def test_the_table_has_three_lines_a_new_row_and_says_so_when_there_is_none():
    text = markdown(compare(ROWS, "old", "new", 2_000_000), "old", "new", 2_000_000, "cmd")
    assert "| 0.50 M images, 10.0 h | old, same images | 0.850 |" in text
    assert text.count("| 2.00 M images, 20.0 h |") == 3
    assert "no row of `new` yet" in markdown([], "old", "new", 2_000_000, "cmd")


def test_both_arms_start_from_the_split_and_count_images_from_it():
    arms = arms_from_split(ROWS, "old", "new", 2_000_000)
    assert [float(r["images_seen"]) for r in arms["old"]] == [0.0, 1_000_000.0]  # the row before the split left out
    assert [float(r["images_seen"]) for r in arms["new"]] == [0.0, 500_000.0, 2_000_000.0]
    assert arms["new"][0]["auc"] == "0.9"  # the split's own row: the state both went on from
    with pytest.raises(SystemExit, match="2,500,000"):
        arms_from_split(ROWS, "old", "new", 2_500_000)


def test_the_race_plot_draws_each_arm_in_its_colour(tmp_path):
    from PIL import Image

    from benchmarks.curve import OTHER_COLOURS

    rows = [{**r, "frechet_ratio": "1.5"} for r in ROWS]
    draw_race(rows, "old", "new", 2_000_000, tmp_path / "race.png")
    image = Image.open(tmp_path / "race.png").convert("RGB")
    colours = {c for _, c in image.getcolors(maxcolors=1 << 20)}
    assert OTHER_COLOURS[1] in colours and OTHER_COLOURS[2] in colours  # the old arm and the new
    # before the new arm's first row: only the split's point in its colour, no line of it
    draw_race([r for r in rows if r["design"] != "new"], "old", "new", 2_000_000, tmp_path / "old_only.png")
    assert Image.open(tmp_path / "old_only.png").size == image.size


def test_a_new_arm_from_the_old_arms_last_state_is_set_beside_the_old_arms_own_stretch():
    """--old-split: the wider generator went on from the old arm's last row; the old arm is read over its own
    images and hours since an earlier row of its own."""
    rows = [*ROWS[:3], _row("new", 3_500_000, 25.0, 0.70, 0.01)]  # the new arm went on from the 3 M row
    (only,) = compare(rows, "old", "new", 3_000_000, old_split=2_000_000)
    assert only["images"] == 500_000 and only["hours"] == 5.0
    assert only["old_at_images"]["auc"] == pytest.approx(0.85)  # the old arm 0.5 M images past its 2 M row
    assert only["old_at_hours"]["auc"] == pytest.approx(0.85)  # and 5 h past it
    assert compare(rows, "old", "new", 3_000_000)[0]["old_at_images"] is None  # past the old arm's last row
    arms = arms_from_split(rows, "old", "new", 3_000_000, old_split=2_000_000)
    assert [float(r["images_seen"]) for r in arms["old"]] == [0.0, 1_000_000.0]
    assert [float(r["images_seen"]) for r in arms["new"]] == [0.0, 500_000.0]
    assert arms["new"][0]["auc"] == "0.8"  # the state it went on from: the old arm's 3 M row
    assert "since its own 2,000,000 images" in markdown([only], "old", "new", 3_000_000, "cmd", 2_000_000)
    with pytest.raises(SystemExit, match="1,500,000"):
        compare(rows, "old", "new", 3_000_000, old_split=1_500_000)


def test_two_arms_from_a_third_designs_state_are_read_from_its_row():
    """--start: the coarse pose and the wider generator both went on from the aligned arm's row; the old arm is
    read from that row to its own first row and on."""
    rows = [
        _row("base", 2_000_000, 10.0, 0.90, 0.02),  # the state both went on from
        _row("old", 3_000_000, 20.0, 0.80, 0.04),
        _row("new", 2_500_000, 15.0, 0.70, 0.01),
    ]
    (only,) = compare(rows, "old", "new", 2_000_000, start="base")
    assert only["images"] == 500_000 and only["hours"] == 5.0
    assert only["old_at_images"]["auc"] == pytest.approx(0.85)  # halfway from the base row to the old arm's first
    assert only["old_at_hours"]["auc"] == pytest.approx(0.85)
    arms = arms_from_split(rows, "old", "new", 2_000_000, start="base")
    assert [float(r["images_seen"]) for r in arms["old"]] == [0.0, 1_000_000.0]
    assert [float(r["images_seen"]) for r in arms["new"]] == [0.0, 500_000.0]
    assert arms["old"][0]["auc"] == arms["new"][0]["auc"] == "0.9"
    with pytest.raises(SystemExit, match="old row at 2,000,000"):
        compare(rows, "old", "new", 2_000_000)  # without --start: the old arm has no row there
