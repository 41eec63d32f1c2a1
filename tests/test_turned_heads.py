"""The declined-faces probe: its bands and counts, and its sheets keep every pair at full size."""

import numpy as np

from benchmarks.turned_heads import pack_sheets, summarize


def _row(residual, alignable, found, outside=False):
    return {"residual": residual, "alignable": alignable, "found": found, "outside": outside}


def test_summary_counts_each_band_and_the_faces_found_again():
    rows = [
        _row(0.10, True, True),
        _row(0.20, True, False),
        _row(0.27, False, True),
        _row(0.33, False, False),
        _row(0.40, False, True),
        _row(0.40, False, True),
        _row(0.60, False, False, outside=True),
    ]
    s = summarize(rows)
    assert (s["alignable"]["faces"], s["alignable"]["found"]) == (2, 1)
    assert [b["faces"] for b in s["bands"]] == [1, 1, 2, 0]
    assert [b["share"] for b in s["bands"]] == [1.0, 0.0, 1.0, None]
    assert (s["outside"]["faces"], s["outside"]["found"]) == (1, 0)
    assert s["all"]["faces"] == 7 and s["all"]["found"] == 4


def test_sheets_keep_pairs_unscaled_and_lose_none():
    rng = np.random.default_rng(0)
    pairs = [
        rng.integers(0, 200, (h, w, 3), dtype=np.uint8) for h, w in [(60, 130), (300, 610), (90, 190), (900, 1500)]
    ]
    sheets = pack_sheets(pairs, width=700, height=500)
    # every pair appears verbatim (not resized) in some sheet
    for p in pairs:
        hits = 0
        for s in sheets:
            ys, xs = np.where((s[:, :, 0] == p[0, 0, 0]) & (s[:, :, 1] == p[0, 0, 1]) & (s[:, :, 2] == p[0, 0, 2]))
            for y, x in zip(ys, xs):
                if y + p.shape[0] <= s.shape[0] and x + p.shape[1] <= s.shape[1]:
                    hits += np.array_equal(s[y : y + p.shape[0], x : x + p.shape[1]], p)
        assert hits == 1
    assert any(s.shape[1] >= 1500 for s in sheets)  # the widest pair widens its sheet instead of shrinking
