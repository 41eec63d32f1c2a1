"""Fast checks of the metric helpers of benchmarks/quality.py (no detector, no dlib, no data)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quality():
    spec = importlib.util.spec_from_file_location("bench_quality", ROOT / "benchmarks" / "quality.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_quality"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def colour_bench():
    spec = importlib.util.spec_from_file_location("bench_colour", ROOT / "benchmarks" / "colour_bias.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_match_faces_is_one_to_one_at_the_iou_threshold(quality):
    original = np.array([[0, 0, 10, 10], [100, 100, 110, 110], [0, 0, 10, 9]], dtype=np.float32)
    found = np.array([[0, 0, 10, 10], [105, 105, 115, 115]], dtype=np.float32)
    # Face 0 and face 2 both overlap the first detection; only the better one takes it.
    # Face 1 overlaps the second at IoU 25/175 < 0.5.
    assert quality.match_faces(original, found).tolist() == [True, False, False]
    assert quality.match_faces(original, np.zeros((0, 4))).tolist() == [False, False, False]
    assert quality.match_faces(np.zeros((0, 4)), found).tolist() == []


def test_wilson_interval_brackets_the_share(quality):
    lo, hi = quality.wilson(50, 100)
    assert lo < 0.5 < hi and hi - lo == pytest.approx(0.19, abs=0.01)
    assert quality.wilson(0, 10)[0] == 0.0 and quality.wilson(10, 10)[1] == 1.0
    assert quality.wilson(0, 0) is None


def test_derangement_pairs_different_groups(quality):
    groups = ["a", "a", "b", "c", "d", "d", "e"]
    perm = quality.derangement(groups, seed=1)
    assert sorted(perm) == list(range(len(groups)))
    assert all(groups[i] != groups[j] for i, j in enumerate(perm))
    assert perm == quality.derangement(groups, seed=1)


def test_reidentified_by_nearest_original(quality):
    gallery = np.eye(3, dtype=np.float32)
    queries = np.array([[0.9, 0, 0], [0, 0, 1], [0, 0, 0.8]], dtype=np.float32)
    ids = ["x", "y", "z"]
    assert quality.reidentified(queries, gallery, ids, ids).tolist() == [True, False, True]


def test_sample_crop_is_square_and_handles_borders(quality):
    image = np.zeros((50, 80, 3), dtype=np.uint8)
    image[10:30, 5:25] = 200
    tile = quality.sample_crop(image, np.array([5, 10, 25, 30]), 32)
    assert tile.shape == (32, 32, 3) and tile.dtype == np.uint8
    assert tile[16, 16].tolist() == [200, 200, 200]
    assert quality.sample_crop(image, np.array([-10, -10, 60, 70]), 24).shape == (24, 24, 3)


def test_heldout_sample_takes_only_validation_photos(quality, tmp_path):
    from anonymizer.training.dataset import split_of

    for name in (
        "lfw/P_A/P_A_0001.jpg",
        "lfw/P_B/P_B_0001.jpg",
        *(f"celeba/{i:06d}.jpg" for i in range(60)),
        *(f"utkface/{i}_0_0_x.jpg" for i in range(60)),
    ):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    photos = quality.heldout_photos(tmp_path, 6, seed=0)
    assert photos and all(split_of(p.rel, 0.1) == "val" for p in photos)
    assert photos == quality.heldout_photos(tmp_path, 6, seed=0)
    assert len(photos) <= 6


def _record(quality, i: int, distance: dict, size: float = 10.0, dataset: str = "heldout"):
    """A scored face whose descriptors are all ``i`` and whose method distances are given."""
    desc = np.full(128, float(i))
    return quality.FaceRecord(
        dataset,
        "lfw" if dataset == "heldout" else "",
        f"p{i}.jpg",
        f"g{i}",
        [0, 0, size, size],
        size,
        desc,
        f"id{i}",
        retained={m: m == "gan" for m in distance},
        distance=dict(distance),
        anonymized={m: desc for m in distance},
    )


def test_same_person_beyond_solid_counts_only_what_solid_fill_does_not_match(quality):
    # Face 0: both match (the context gives it away); face 1: only the GAN matches; face 2: neither.
    records = [
        _record(quality, i, {"gan": gan, "solid": solid})
        for i, (gan, solid) in enumerate([(0.5, 0.55), (0.4, 0.9), (0.8, 0.7)])
    ]
    gan = quality._score(records, "gan")
    assert (gan["same_person"], gan["same_person_beyond_solid"]) == (2, 1)
    assert quality._score(records, "solid")["same_person_beyond_solid"] == 0
    for r in records:
        del r.distance["solid"]
    assert quality._score(records, "gan")["same_person_beyond_solid"] is None


def test_colour_stats_report_a_cast_in_grey_levels(colour_bench):
    import torch

    real = torch.zeros(4, 3, 8, 8)
    mask = torch.zeros(4, 1, 8, 8)
    mask[:, :, 2:6, 2:6] = 1
    cyan = real.clone()
    cyan[:, 0] -= 0.1 * mask[:, 0]  # red down by 0.1 (12.75 grey levels) inside the region only
    cyan[:, 2] += 0.1 * mask[:, 0]
    stats = colour_bench.colour_stats(cyan, real, mask)
    assert stats["bias_rgb"] == pytest.approx([-12.75, 0.0, 12.75], abs=0.01)
    assert stats["mean_colour_error"] == pytest.approx(8.5, abs=0.01)  # (12.75 + 0 + 12.75) / 3
    assert stats["l1"] == pytest.approx(8.5, abs=0.01)


def test_colour_stats_see_washed_out_and_flat_faces(colour_bench):
    import torch

    real = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    mask = torch.zeros(4, 1, 8, 8)
    mask[:, :, 2:6, 2:6] = 1
    grey = real.mean(1, keepdim=True)
    half_colour = grey + 0.5 * (real - grey)  # same brightness, half the chroma
    stats = colour_bench.colour_stats(half_colour, real, mask)
    assert stats["chroma_ratio"] == pytest.approx(0.5, abs=0.001)
    assert stats["contrast_ratio"] == pytest.approx(1.0, abs=0.001)
    centre = (grey * mask).sum((2, 3), keepdim=True) / mask.sum((2, 3), keepdim=True)
    flat = real - grey + centre + 0.25 * (grey - centre)  # same colours around a quarter of the brightness spread
    stats = colour_bench.colour_stats(flat, real, mask)
    assert stats["contrast_ratio"] == pytest.approx(0.25, abs=0.001)
    assert stats["chroma_ratio"] == pytest.approx(1.0, abs=0.001)
    assert colour_bench.colour_stats(real, real, mask)["chroma_ratio"] == pytest.approx(1.0)


def test_faces_are_also_scored_by_size_band(quality):
    assert [quality.size_band(s) for s in (20, 32, 63.9, 64, 127, 128, 900)] == [
        None,
        "32-63 px",
        "32-63 px",
        "64-127 px",
        "64-127 px",
        ">= 128 px",
        ">= 128 px",
    ]

    sizes_and_distances = [(40, 0.5), (50, 0.9), (200, 0.5), (300, 0.5)]
    records = [_record(quality, i, {"gan": d}, size, "wider") for i, (size, d) in enumerate(sizes_and_distances)]
    rows = {(r["dataset"], r["method"]): r for r in quality.summarize(records, ["gan"], seed=0)}
    assert rows[("wider", "gan")]["faces"] == 4
    small, large = rows[("wider@32-63 px", "gan")], rows[("wider@>= 128 px", "gan")]
    assert (small["faces"], small["same_person"]) == (2, 1)
    assert (large["faces"], large["same_person"]) == (2, 2)
    assert ("wider@64-127 px", "gan") not in rows  # an empty band has no row
    assert rows[("wider@>= 128 px", quality.OTHER)]["faces"] == 2


def test_gan_seed_defaults_to_the_photo_seed(quality):
    assert quality.gan_seed(quality.parse_args(["--seed", "3"])) == 3
    assert quality.gan_seed(quality.parse_args(["--seed", "3", "--gan-seed", "5"])) == 5
