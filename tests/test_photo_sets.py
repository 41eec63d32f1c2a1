"""The hard photo sets of the detection benchmarks: faces covered in part, and faces pasted into scenes."""

import json

import numpy as np
import pytest
from PIL import Image

from benchmarks.photo_sets import (
    OCCLUDERS,
    Photo,
    load_photos,
    occluded_photos,
    occluder,
    paste_pool,
    pasted_photos,
    read_rgb,
)


def _wider(tmp_path, n=4):
    """A WIDER-like folder: n photos of one event, each with a 120 px face and a 10 px one."""
    rng = np.random.default_rng(0)
    (tmp_path / "wider" / "images" / "1--Event").mkdir(parents=True)
    rows = ["image,x,y,w,h,blur,expression,illumination,invalid,occlusion,pose"]
    for i in range(n):
        name = f"1--Event/photo_{i}.jpg"
        Image.fromarray(rng.integers(60, 200, (480, 640, 3), dtype=np.uint8)).save(tmp_path / "wider" / "images" / name)
        rows += [f"{name},100,100,100,120,0,0,0,0,0,0", f"{name},500,50,10,10,0,0,0,0,0,0"]
    (tmp_path / "wider" / "boxes.csv").write_text("\n".join(rows) + "\n")
    return load_photos(tmp_path / "wider")


def _faces(tmp_path, people=6):
    """A faces folder: LFW-like photos of ``people`` people, one detected face each."""
    faces = tmp_path / "faces"
    entries = []
    for k in range(people):
        name = f"lfw/Person_{k}/Person_{k}_0001.jpg"
        (faces / name).parent.mkdir(parents=True)
        Image.fromarray(np.full((100, 100, 3), 20 + (30 * k) % 200, np.uint8)).save(faces / name)
        entries.append({"input": name, "faces": [{"box": [30, 25, 70, 75], "score": 0.9}]})
    entries.append({"input": "lfw/Two/Two_0001.jpg", "faces": [{"box": [0, 0, 9, 9], "score": 0.9}] * 2})
    (faces / "detections.json").write_text(json.dumps({"version": 1, "images": entries}))
    return faces


@pytest.mark.parametrize("kind", OCCLUDERS)
def test_each_occluder_covers_part_of_the_face_and_little_beside_it(kind):
    box = np.array([100, 100, 200, 220])
    image = np.full((400, 400, 3), 128, np.float32)
    mask, colour = occluder(kind, box, image.shape[:2], np.random.default_rng(1), image)
    on_face = mask[100:220, 100:200].mean()
    assert 0.05 < on_face < 0.7, f"{kind} covers {on_face:.0%} of the face"
    assert colour.shape == image.shape and 0 <= colour.min() and colour.max() <= 255


def test_occluded_photos_cover_faces_of_24_px_or_more_and_leave_the_input_alone(tmp_path):
    photos = _wider(tmp_path)
    before = photos[0].path.read_bytes()
    out = occluded_photos(photos, tmp_path)
    assert len(out) == len(photos) and photos[0].path.read_bytes() == before
    for src, made in zip(photos, out):
        assert made.faces.tolist() == [[100, 100, 200, 220]]  # the 10 px face is not counted...
        assert [500, 50, 510, 60] in made.ignored.tolist()  # ...nor a false find where it is
        a, b = read_rgb(src.path).astype(int), read_rgb(made.path).astype(int)
        changed = np.abs(a - b).max(axis=2) > 8
        assert changed[100:220, 100:200].mean() > 0.05
        assert not changed[300:, 300:].any(), "the photo away from the face is untouched"
    (tmp_path / "again").mkdir()
    again = occluded_photos(photos, tmp_path / "again")
    assert again[0].path != out[0].path
    assert read_rgb(again[0].path).tobytes() == read_rgb(out[0].path).tobytes(), "made the same way every run"


def test_the_paste_pool_splits_people_between_the_halves_and_skips_photos_of_two(tmp_path):
    faces = _faces(tmp_path, people=20)
    tune, report = (paste_pool(half, faces) for half in ("tune", "report"))
    assert len(tune) + len(report) == 20 and tune and report
    assert not {n for n, _ in tune} & {n for n, _ in report}
    assert all("Two" not in n for n, _ in tune + report)


def test_pasted_photos_count_the_pasted_faces_only(tmp_path):
    photos = _wider(tmp_path)
    faces = _faces(tmp_path, people=20)
    (tmp_path / "out").mkdir()
    out = pasted_photos(photos, tmp_path / "out", faces)
    assert out, "every scene has room for a face"
    for src, made in zip(photos, out):
        image = read_rgb(made.path)
        h, w = image.shape[:2]
        assert len(made.faces) >= 1
        assert (made.faces[:, :2] >= 0).all() and (made.faces[:, 2] <= w).all() and (made.faces[:, 3] <= h).all()
        assert src.faces.tolist()[0] in made.ignored.tolist(), "the scene's own faces are ignored boxes"
        for x1, y1, x2, y2 in made.faces:
            assert not (x1 < 200 and 100 < x2 and y1 < 220 and 100 < y2), "no face pasted over the scene's face"
            before = read_rgb(src.path)[y1:y2, x1:x2].astype(int)
            assert np.abs(image[y1:y2, x1:x2].astype(int) - before).mean() > 5, "a face is there"


def test_a_photo_with_no_room_gets_no_face(tmp_path):
    faces = _faces(tmp_path)
    tiny = tmp_path / "wider" / "images" / "1--Event" / "tiny.jpg"
    tiny.parent.mkdir(parents=True)
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tiny)
    (tmp_path / "wider" / "boxes.csv").write_text("image,x,y,w,h,blur,expression,illumination,invalid,occlusion,pose\n")
    photo = Photo(tiny, "1--Event/tiny.jpg", np.zeros((0, 4), np.int64), np.zeros((0, 4), np.int64))
    assert pasted_photos([photo], tmp_path, faces) == []
