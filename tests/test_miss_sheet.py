"""The contact sheets of the faces left visible: each miss drawn where it is, and numbered."""

import numpy as np

from benchmarks.miss_sheet import GREEN, PER_SHEET, RED, TILE, tile, write_sheets


def test_a_tile_centres_the_face_and_draws_its_box_and_the_regions_hidden():
    image = np.zeros((400, 600, 3), np.uint8)
    image[180:220, 280:320] = 255  # the face: a white 40 px square
    out = tile(image, np.array([280, 180, 320, 220]), np.array([[0, 0, 50, 50]]))
    assert out.shape == (TILE, TILE, 3)
    centre = out[TILE // 2 - 20 : TILE // 2 + 20, TILE // 2 - 20 : TILE // 2 + 20]
    assert (centre == 255).all()  # the face fills the middle third, scaled up
    assert (out == RED).all(axis=2).any()
    assert not (out == GREEN).all(axis=2).any()  # that region lies outside the tile


def test_a_face_at_the_photo_edge_is_padded_grey_not_wrapped():
    image = np.full((100, 100, 3), 200, np.uint8)
    out = tile(image, np.array([0, 40, 20, 60]), np.zeros((0, 4)))
    assert (out[TILE // 2, :40] == 96).all()  # left of the photo
    assert (out[TILE // 2, TILE // 2 + 40 :] != 96).any()


def test_sheets_hold_a_dozen_pairs_each(tmp_path):
    pair = np.zeros((TILE, 2 * TILE, 3), np.uint8)
    misses = [{"set": "cut", "size": 80, "hidden": 0.5, "pair": pair} for _ in range(PER_SHEET + 1)]
    paths = write_sheets(misses, tmp_path)
    assert [p.name for p in paths] == ["misses_01.png", "misses_02.png"]
    assert all(p.stat().st_size > 0 for p in paths)
