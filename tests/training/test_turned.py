"""Turned heads in training: preparing every face of a photo (not only the largest) with a looser fit to the
template, and drawing turned heads as a set share of the batches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from anonymizer.align import InnerMask, fit_alignment, template_points
from anonymizer.faces import estimate_landmarks
from anonymizer.training.dataset import (
    MIN_INSIDE,
    FaceArrays,
    PrepareOptions,
    load_dataset,
    prepare_dataset,
    region_inside,
)
from anonymizer.training.train import TrainOptions, draw_weights, turned_heads
from tests.conftest import write_face_photos

REL = "person_0/photo_0.jpg"


def _turned(box: tuple, amount: float) -> np.ndarray:
    """Five landmarks of a head turned by ``amount``: the nose and the mouth moved sideways, the far eye closer."""
    points = estimate_landmarks(np.array(box, float))
    width = points[1, 0] - points[0, 0]
    points[2, 0] += amount * width
    points[3:, 0] += amount * width / 2
    points[1, 0] -= amount * width * 0.4
    return points


EDGE = (165.0, 140.0, 215.0, 200.0)  # a face cut by the photo's right edge (the photo is 200 px wide)
FACES = [  # (box, landmarks): a frontal face, a head turned within the template's fit, one turned past it
    ((76.0, 33.0, 126.0, 97.0), estimate_landmarks(np.array((76.0, 33.0, 126.0, 97.0)))),
    ((120.0, 110.0, 170.0, 170.0), _turned((120.0, 110.0, 170.0, 170.0), 0.5)),
    ((10.0, 120.0, 60.0, 180.0), _turned((10.0, 120.0, 60.0, 180.0), 0.9)),
    (EDGE, estimate_landmarks(np.array(EDGE))),
]


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> tuple[Path, Path]:
    """One photo and a report of three faces in it."""
    folder = write_face_photos(tmp_path_factory.mktemp("photos"), 1, 1)
    report = {
        "version": 1,
        "images": [
            {
                "input": REL,
                "status": "ok",
                "faces": [{"box": list(b), "score": 0.95, "landmarks": p.tolist()} for b, p in FACES],
            }
        ],
    }
    detections = tmp_path_factory.mktemp("report") / "detections.json"
    detections.write_text(json.dumps(report))
    return folder, detections


def test_the_made_up_faces_fit_as_meant():
    residuals = [fit_alignment(p, 128)[1] for _, p in FACES]
    assert residuals[0] < 0.25 and residuals[1] < 0.25 and 0.25 < residuals[2] < 0.45 and residuals[3] < 0.25
    assert turned_heads(np.stack([p for _, p in FACES])).tolist() == [False, True, True, False]
    inside = [region_inside(fit_alignment(p, 128)[0], 128, (200, 200)) for _, p in FACES]
    assert inside[:3] == [1.0, 1.0, 1.0] and 0.5 < inside[3] < MIN_INSIDE


@pytest.mark.parametrize(
    ("faces", "bound", "kept"),
    [("largest", None, [REL]), ("every", None, [REL, REL + "#2"]), ("every", 0.45, [REL, REL + "#2", REL + "#3"])],
)
def test_prepare_keeps_the_largest_face_or_every_face_that_fits(photo, tmp_path, faces, bound, kept):
    folder, detections = photo
    options = PrepareOptions(resolution=64, frame="aligned", min_face_size=20, faces=faces, max_residual=bound)
    summary = prepare_dataset(folder, tmp_path / "data", options, progress=False, detections=detections)
    assert summary["kept"] == len(kept)
    data = load_dataset(tmp_path / "data", "all", InnerMask())
    assert sorted(data.files) == kept
    # Largest first: the photo's own name is its largest face's; the others follow it by size. The face cut by the
    # photo's edge is never kept: most of the region the generator would learn to paint is not in the photo.
    assert turned_heads(data.landmarks[np.argsort(data.files)]).tolist() == [False, True, True][: len(kept)]
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert manifest["faces"] == faces and manifest["max_residual"] == bound


def test_a_photos_other_faces_share_its_split(photo, tmp_path):
    folder, detections = photo
    options = PrepareOptions(resolution=64, frame="aligned", min_face_size=20, faces="every", val_fraction=1.0)
    prepare_dataset(folder, tmp_path / "data", options, progress=False, detections=detections)
    assert len(load_dataset(tmp_path / "data", "val", InnerMask())) == 2
    with pytest.raises(ValueError, match="no train samples"):
        load_dataset(tmp_path / "data", "train", InnerMask())


def test_a_dataset_is_not_resumed_with_other_face_choices(photo, tmp_path):
    folder, detections = photo
    every = PrepareOptions(resolution=64, frame="aligned", min_face_size=20, faces="every")
    prepare_dataset(folder, tmp_path / "data", every, progress=False, detections=detections)
    before = sorted(p.name for p in (tmp_path / "data").iterdir())
    for options in (
        PrepareOptions(resolution=64, frame="aligned", min_face_size=20),
        PrepareOptions(resolution=64, frame="aligned", min_face_size=20, faces="every", max_residual=0.45),
    ):
        with pytest.raises(ValueError, match="holds every face of each photo; asked for .*: prepare into a new"):
            prepare_dataset(folder, tmp_path / "data", options, progress=False, detections=detections)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == before
    with pytest.raises(ValueError, match="box frame"):
        prepare_dataset(folder, tmp_path / "box", PrepareOptions(max_residual=0.45), progress=False)
    with pytest.raises(ValueError, match="faces must be"):
        prepare_dataset(folder, tmp_path / "other", PrepareOptions(faces="all"), progress=False)


def test_the_prepare_command_takes_the_face_choices(photo, tmp_path):
    from anonymizer.training.cli import main

    folder, detections = photo
    out = tmp_path / "data"
    argv = ["-q", "prepare", "--input", str(folder), "--out", str(out), "--resolution", "64", "--frame", "aligned"]
    argv += ["--min-face-size", "20", "--detections", str(detections), "--faces", "every", "--max-residual", "0.45"]
    assert main(argv) == 0
    assert len(load_dataset(out, "all", InnerMask())) == 3


def _arrays(files: list[str], turned: list[bool]) -> FaceArrays:
    frontal = template_points(128)
    points = np.stack([_turned((40.0, 40.0, 88.0, 100.0), 0.9) if t else frontal for t in turned]).astype(np.float32)
    n = len(files)
    return FaceArrays(np.zeros((n, 2, 2, 3), np.uint8), np.zeros((n, 4), np.float32), points, np.array(files), 0.0)


def test_turned_heads_are_drawn_as_their_share_whatever_their_number():
    files = [f"a/{i}.jpg" for i in range(9)] + [f"b/{i}.jpg" for i in range(3)]
    turned = [False] * 8 + [True] + [False, False, True]
    arrays = _arrays(files, turned)
    assert draw_weights(arrays, TrainOptions()) is None
    weights = draw_weights(arrays, TrainOptions(turned_share=0.25))
    mask = torch.tensor(turned)
    assert weights[mask].sum() / weights.sum() == pytest.approx(0.25)
    # Within each kind, faces are drawn alike (here, without source balance) ...
    assert torch.allclose(weights[mask], weights[mask][0]) and torch.allclose(weights[~mask], weights[~mask][0])
    # ... or as the sources weight them: b's faces three times as often as a's, in either kind.
    both = draw_weights(arrays, TrainOptions(turned_share=0.25, balance_sources=True))
    assert both[mask].sum() / both.sum() == pytest.approx(0.25)
    assert both[11] / both[8] == pytest.approx(3.0) and both[9] / both[0] == pytest.approx(3.0)
    drawn = torch.multinomial(weights, 20000, replacement=True, generator=torch.Generator().manual_seed(0))
    assert mask[drawn].float().mean().item() == pytest.approx(0.25, abs=0.02)


def test_without_turned_heads_the_share_draws_as_they_come():
    arrays = _arrays(["a/0.jpg", "a/1.jpg"], [False, False])
    assert draw_weights(arrays, TrainOptions(turned_share=0.25)) is None
    with pytest.raises(ValueError, match="between 0 and 1"):
        draw_weights(_arrays(["a/0.jpg", "a/1.jpg"], [False, True]), TrainOptions(turned_share=1.0))


def test_a_run_with_a_turned_share_says_so_in_its_weights(photo, tmp_path):
    """The share is part of the design (benchmarks/curve.py names it ``-th``): the weights' sidecar records it,
    and the generator paints faces that fit the template as loosely as those it learned on."""
    from anonymizer.models.io import read_info

    from anonymizer.training.train import train

    folder, detections = photo
    data = tmp_path / "data"
    options = PrepareOptions(
        resolution=64, frame="aligned", min_face_size=20, faces="every", max_residual=0.45, val_fraction=0.0
    )
    prepare_dataset(folder, data, options, progress=False, detections=detections)
    small = dict(steps=2, batch_size=4, checkpoint_every=2, width=8, max_width=32, fold=2, threads=1, init=None)
    train(data, tmp_path / "run", TrainOptions(**small, turned_share=0.25), progress=False)
    info = read_info(tmp_path / "run" / "generator.safetensors")
    assert info["training"]["turned_share"] == 0.25 and info["config"]["max_residual"] == 0.45
    # Data prepared with the default fit: the default bound, and no share recorded.
    plain = tmp_path / "plain_data"
    default = PrepareOptions(resolution=64, frame="aligned", min_face_size=20, val_fraction=0.0)
    prepare_dataset(folder, plain, default, progress=False, detections=detections)
    train(plain, tmp_path / "plain", TrainOptions(**small), progress=False)
    info = read_info(tmp_path / "plain" / "generator.safetensors")
    assert "turned_share" not in info["training"] and info["config"]["max_residual"] == 0.25
    # A pack carries the bound as the folder does.
    from anonymizer.training.dataset import pack_dataset

    pack_dataset(data, tmp_path / "pack.npz", 10**7, val_faces=0)
    assert load_dataset(tmp_path / "pack.npz", "train").max_residual == 0.45
