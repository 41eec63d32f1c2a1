"""The region benchmark's split of the damage outside faces: what the finds on no annotated face change."""

import numpy as np
from conftest import make_face
from PIL import Image

from anonymizer.crops import Region
from benchmarks.detection import unmatched
from benchmarks.photo_sets import Photo
from benchmarks.region_tune import STRAY_IOU, score


def _photo(tmp_path) -> Photo:
    rng = np.random.default_rng(0)
    path = tmp_path / "scene.png"
    Image.fromarray(rng.integers(60, 200, (240, 320, 3), dtype=np.uint8)).save(path)
    return Photo(path, "scene.png", np.array([[40, 40, 100, 110]]), np.zeros((0, 4), int))


def test_a_find_on_the_annotated_face_is_no_stray_and_one_elsewhere_is():
    annotated = np.array([[40, 40, 100, 110]])
    finds = np.array([[36, 34, 106, 118], [200, 120, 260, 190]])
    assert unmatched(finds, annotated, STRAY_IOU).tolist() == [False, True]
    assert unmatched(finds, np.zeros((0, 4)), STRAY_IOU).tolist() == [True, True]


def test_only_the_stray_find_counts_in_the_strays_share_of_the_damage(tmp_path):
    photo = _photo(tmp_path)
    face, stray = make_face([36, 34, 106, 118]), make_face([200, 120, 260, 190])
    region = Region(scale=1.3, shape="ellipse", feather=0.12)
    alone = score([photo], {photo.name: [face]}, region)
    both = score([photo], {photo.name: [face, stray]}, region)
    assert alone["outside_stray"] == 0.0 and alone["outside_faces"] > 0.0  # the region reaches past the zone
    assert both["hidden_count"][">=64"] == 1
    assert 0.0 < both["outside_stray"] <= both["outside_faces"]
    # the two regions do not meet: the stray's share is what it adds
    assert abs(both["outside_faces"] - alone["outside_faces"] - both["outside_stray"]) < 1e-9
