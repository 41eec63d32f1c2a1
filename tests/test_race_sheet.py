"""The race's side-by-side rows: every crop as it is, in order, its label under it."""

import numpy as np

from benchmarks.race_sheet import face_row


def test_a_row_holds_each_crop_unscaled_in_order_with_room_for_its_label():
    rng = np.random.default_rng(1)
    crops = [rng.integers(0, 200, (h, w, 3), dtype=np.uint8) for h, w in [(150, 140), (150, 140), (90, 80)]]
    row = face_row(crops, ["original", "old", "new"], gap=4)
    assert row.shape[1] == 140 + 140 + 80 + 2 * 4
    assert row.shape[0] > 150  # the label strip under the tallest crop
    x = 0
    for c in crops:
        assert np.array_equal(row[: c.shape[0], x : x + c.shape[1]], c)
        x += c.shape[1] + 4
    # the label strips are drawn: dark text on white under each crop
    assert (row[150:, :140] < 128).any() and (row[90:, 288:] < 128).any()
