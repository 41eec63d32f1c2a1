"""Fast checks of the metric helpers of benchmarks/quality.py (no detector, no dlib, no data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quality():
    from benchmarks import quality

    return quality


@pytest.fixture(scope="module")
def colour_bench():
    from benchmarks import colour_bias

    return colour_bias


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


def test_same_as_another_original_tells_a_generic_face_from_identity_given_back(quality):
    # Six people far apart in descriptor space. "generic" paints one face for all, near the middle of them (within
    # 0.6 of every original); "leak" paints each person's own face again, slightly moved.
    rng = np.random.default_rng(0)
    records = []
    for i in range(6):
        desc = np.zeros(128)
        desc[i] = 0.5
        generic = np.zeros(128)
        leak = desc + rng.normal(0, 0.001, 128)
        records.append(
            quality.FaceRecord(
                "heldout",
                "lfw",
                f"p{i}.jpg",
                f"g{i}",
                [0, 0, 80, 80],
                80.0,
                desc,
                f"id{i}",
                retained={"generic": True, "leak": True},
                distance={"generic": float(np.linalg.norm(generic - desc)), "leak": float(np.linalg.norm(leak - desc))},
                anonymized={"generic": generic, "leak": leak},
            )
        )
    perm = quality.derangement([r.group for r in records], 0)
    generic, leak = quality._score(records, "generic", perm), quality._score(records, "leak", perm)
    assert (generic["same_person"], generic["same_as_other"]) == (6, 6)
    assert (leak["same_person"], leak["same_as_other"]) == (6, 0)
    assert quality._score(records[:1], "leak", [0])["same_as_other"] is None  # no other face to pair with


def test_retention_of_painted_faces_leaves_out_those_the_fallback_hid(quality):
    # Four faces: two painted and found again, one painted and lost, one the generator declined (blurred, lost).
    records = [_record(quality, i, {"gan": 0.9}) for i in range(4)]
    for r, (painted, found) in zip(records, [(True, True), (True, True), (True, False), (False, False)]):
        r.painted["gan"], r.retained["gan"] = painted, found
    row = quality._score(records, "gan")
    assert (row["retained"], row["faces"]) == (2, 4)
    assert (row["painted"], row["painted_retained"], row["painted_retention"]) == (3, 2, 2 / 3)
    del records[0].painted["gan"]  # not recorded for every face: not reported
    assert quality._score(records, "gan")["painted"] is None


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


def test_faces_of_at_least_64_px_are_also_one_group(quality):
    records = [_record(quality, i, {"gan": 0.9}, size, "wider") for i, size in enumerate((40, 64, 100, 300))]
    rows = {(r["dataset"], r["method"]): r for r in quality.summarize(records, ["gan"], seed=0)}
    assert rows[("wider", "gan")]["faces"] == 4
    assert rows[("wider@>= 64 px", "gan")]["faces"] == 3


def _pairs(n_groups: int, per_group: int = 1) -> list[str]:
    return [f"person{g}" for g in range(n_groups) for _ in range(per_group)]


def test_grouped_folds_keep_a_face_and_its_anonymized_version_together(quality):
    groups = _pairs(23, 1) + _pairs(7, 3)  # some groups hold several photos
    paired = groups + groups  # originals, then their anonymized versions
    labels = [0] * len(groups) + [1] * len(groups)
    fold = quality.grouped_folds(paired, 5, seed=0, labels=labels)
    n = len(groups)
    assert all(fold[i] == fold[i + n] for i in range(n))  # each pair in one fold
    for g in set(paired):
        assert len({fold[i] for i, h in enumerate(paired) if h == g}) == 1
    sizes = np.bincount(fold, minlength=5)
    assert sizes.min() > 0 and sizes.max() - sizes.min() <= 6
    assert fold.tolist() == quality.grouped_folds(paired, 5, seed=0, labels=labels).tolist()


def test_grouped_folds_give_every_fold_both_labels_when_groups_hold_one(quality):
    groups = [f"g{i}" for i in range(20)]
    labels = [i % 2 for i in range(20)]
    fold = quality.grouped_folds(groups, 5, seed=1, labels=labels)
    for k in range(5):
        assert {labels[i] for i in np.flatnonzero(fold == k)} == {0, 1}


def test_split_halves_keeps_groups_together_and_is_balanced(quality):
    groups = _pairs(10, 2) + _pairs(30, 1)[10:]
    half = quality.split_halves(groups, seed=2)
    for g in set(groups):
        assert len({bool(half[i]) for i, h in enumerate(groups) if h == g}) == 1
    assert abs(int(half.sum()) - int((~half).sum())) <= 2
    strata = ["lfw"] * 20 + ["utk"] * 20  # the first ten groups (two photos each) are LFW
    half = quality.split_halves(groups, seed=2, strata=strata)
    for name in ("lfw", "utk"):
        inside = np.array([t == name for t in strata])
        assert abs(int(half[inside].sum()) - int((~half[inside]).sum())) <= 2


def test_classifier_auc_separable_vs_identical(quality):
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(0)
    groups = _pairs(200)
    originals = rng.normal(size=(200, 8))
    shifted = rng.normal(size=(200, 8)) + 6.0 * np.eye(8)[0]  # far apart along one axis
    same = rng.normal(size=(200, 8))  # drawn like the originals
    separable = quality.realism_auc(originals, shifted, groups, folds=5, seed=0)
    assert separable["auc"] > 0.99 and len(separable["fold_aucs"]) == 5 and separable["pairs"] == 200
    identical = quality.realism_auc(originals, same, groups, folds=5, seed=0, repeats=3)
    assert 0.4 < identical["auc"] < 0.6 and len(identical["fold_aucs"]) == 15
    floor = quality.halves_auc(originals, groups, folds=5, seed=0, repeats=3)
    assert 0.4 < floor["auc"] < 0.6


def test_halves_auc_stays_at_the_floor_when_face_sets_differ(quality):
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(3)
    strata = ["lfw"] * 100 + ["utk"] * 100
    originals = rng.normal(size=(200, 8)) + 4.0 * np.array([[t == "utk"] for t in strata])  # two far-apart sets
    floor = quality.halves_auc(originals, _pairs(200), folds=5, seed=0, repeats=3, strata=strata)
    assert 0.4 < floor["auc"] < 0.6


def test_realism_auc_drops_pairs_without_a_descriptor(quality):
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(1)
    originals, anonymized = rng.normal(size=(30, 4)), rng.normal(size=(30, 4)) + 5
    anonymized[3] = np.nan
    result = quality.realism_auc(originals, anonymized, _pairs(30), folds=3, seed=0)
    assert (result["pairs"], result["dropped"], result["samples"]) == (29, 1, 58)
    assert result["auc"] > 0.97


def test_frechet_distance_is_zero_for_one_set_and_grows_with_a_mean_shift(quality):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 8))
    assert quality.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    shifts = [quality.frechet_distance(a, a + s) for s in (0.5, 1.0, 2.0)]
    assert shifts == pytest.approx([0.5**2 * 8, 1.0**2 * 8, 2.0**2 * 8])  # same covariance: |shift|^2
    wider = quality.frechet_distance(a, 2 * a)
    assert wider > 0
    with pytest.raises(ValueError):
        quality.frechet_distance(a[:1], a)


def test_frechet_against_halves_compares_like_with_like(quality):
    rng = np.random.default_rng(0)
    groups = _pairs(200)
    originals = rng.normal(size=(200, 4))
    same_kind = rng.normal(size=(200, 4))  # other faces, drawn like the originals
    result = quality.frechet_against_halves(originals, same_kind, groups, splits=5, seed=0)
    assert result["splits"] == 5 and result["floor"] > 0
    assert 0.5 < result["ratio"] < 2.0
    shifted = quality.frechet_against_halves(originals, same_kind + 1.0, groups, splits=5, seed=0)
    assert shifted["floor"] == pytest.approx(result["floor"])
    assert shifted["ratio"] > 10


def test_reidentified_in_a_gallery_leaves_out_the_query_photo(quality):
    gallery = np.array([[0, 0], [0.1, 0], [5, 5], [5, 5.2], [9, 0]], dtype=np.float32)
    ids = ["ann", "ann", "bob", "bob", "cy"]
    keys = ["a1", "a2", "b1", "b2", "c1"]
    queries = np.array([[0, 0], [5, 5], [8.9, 0]], dtype=np.float32)  # exactly a1, exactly b1, near c1
    hits = quality.reidentified(queries, gallery, ["ann", "bob", "cy"], ids, ["a1", "b1", "c1"], keys)
    # a1 and b1 are left out, their other photo is nearest; c1 has no other photo: cy's nearest is someone else.
    assert hits.tolist() == [True, True, False]
    anonymized = np.array([[5, 4.9], [0.05, 0]], dtype=np.float32)  # ann's now nearest bob, bob's nearest ann
    assert quality.reidentified(anonymized, gallery, ["ann", "bob"], ids, ["a1", "b1"], keys).tolist() == [False, False]
    alone = quality.reidentified(queries[:1], gallery[:1], ["ann"], ["ann"], ["a1"], ["a1"])
    assert alone.tolist() == [False]  # nothing left to compare with


def test_gallery_reid_counts_only_queries_with_another_photo(quality):
    def face(rel, person, x, anonymized_x=None):
        anonymized = (
            {} if anonymized_x is None else {"gan": np.array([anonymized_x, 0.0]), "solid": np.array([50.0, 0])}
        )
        return quality.ReidFace(rel, person, np.array([x, 0.0]), anonymized)

    faces = [
        face("lfw/A/A_1.jpg", "lfw/A", 0.0, anonymized_x=0.2),  # still nearest A_2: re-identified
        face("lfw/A/A_2.jpg", "lfw/A", 0.5),
        face("lfw/B/B_1.jpg", "lfw/B", 10.0, anonymized_x=20.6),  # now nearest C: not
        face("lfw/B/B_2.jpg", "lfw/B", 10.5),
        face("lfw/C/C_1.jpg", "lfw/C", 21.0, anonymized_x=21.0),  # no other photo of C: not a query
    ]
    queries = {f.rel for f in faces if f.anonymized}
    result = quality.gallery_reid(faces, queries, ["gan", "solid"])
    assert (result["queries"], result["queries_without_other_photo"]) == (2, 1)
    assert (result["gallery_faces"], result["gallery_identities"]) == (5, 3)
    assert result["chance"] == pytest.approx(1 / 3)
    assert result["methods"]["gan"]["reidentified"] == 1
    assert result["methods"][quality.ORIGINAL]["reidentified"] == 2
    assert result["bar"] == pytest.approx(result["methods"]["solid"]["share"] + 0.01)


def test_reid_photos_come_from_held_out_people_with_several_photos(quality, tmp_path):
    from anonymizer.training.dataset import split_of

    for person in range(200):
        for k in range(1 + person % 3):
            path = tmp_path / "lfw" / f"P{person}" / f"P{person}_{k:04d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
    queries, gallery = quality.reid_photos(tmp_path, 5, 0, seed=0)
    assert queries and len(queries) <= 5
    assert all(split_of(r, 0.1) == "val" for r in gallery)
    assert set(queries) <= set(gallery)
    for q in queries:
        person = quality.person_of(q)
        assert sum(quality.person_of(r) == person for r in gallery) >= 2
    everyone = [p for p in quality.validation_rels(tmp_path, "lfw")]
    assert gallery == everyone  # 0: every held-out photo
    first = quality.reid_photos(tmp_path, 2, 0, seed=0, prefer=[queries[-1]])[0]
    assert queries[-1] in first
    capped = quality.reid_photos(tmp_path, 2, 3, seed=0)[1]
    assert len(capped) <= max(
        3, sum(quality.person_of(r) in {quality.person_of(q) for q in queries[:2]} for r in gallery)
    )


def test_done_when_checks_each_bar(quality):
    rows = [
        {"dataset": "wider", "method": "gan", "retention": 0.98},
        {"dataset": "wider@>= 64 px", "method": "gan", "retention": 0.94},
    ]
    realism = {
        "classifier_auc": {"gan": {"auc": 0.8}},
        "frechet": {"gan": {"ratio": 1.5}},
        "faces": 520,
        "min_size": 100,
    }
    reid = {
        "methods": {
            "gan": {"share": 0.03, "same_person_share": 0.02},
            "solid": {"share": 0.02, "same_person_share": 0.0},
            "swap": {"share": 0.0, "same_person_share": 0.015},
        },
        "bar": 0.03,
        "same_person_bar": 0.025,
    }
    verdicts = quality.done_when(rows, realism, reid)
    # AUC 0.8 > 0.75; Fréchet 1.5x <= 2x; WIDER >= 64 px 95% < 97%; re-id 3% <= solid + 1; same person 2% <= 2.5%
    assert [v["pass"] for v in verdicts] == [False, True, False, True, True]
    assert "100 px" in verdicts[0]["criterion"] and verdicts[0]["faces"] == 520 and verdicts[0]["enough"]
    assert verdicts[4]["swap"] == 0.015
    few = quality.done_when(rows, {**realism, "faces": 499}, reid)
    assert not few[0]["enough"] and not few[1]["enough"]
    assert "not reached" in "\n".join(quality._done_when_lines(few))
    missing = quality.done_when([], {"classifier_auc": {}, "frechet": {}}, {"methods": {}})
    assert all(v["pass"] is None for v in missing)


def test_gallery_reid_counts_queries_dlib_calls_their_own_original(quality):
    def face(rel, person, x, gan_x=None, swap_x=None):
        anonymized = {} if gan_x is None else {"gan": np.array([gan_x, 0.0]), "swap": np.array([swap_x, 0.0])}
        return quality.ReidFace(rel, person, np.array([x, 0.0]), anonymized)

    faces = [
        face("lfw/A/A_1.jpg", "lfw/A", 0.0, gan_x=0.3, swap_x=5.0),  # gan within 0.6 of its original: same person
        face("lfw/A/A_2.jpg", "lfw/A", 0.5),
        face("lfw/B/B_1.jpg", "lfw/B", 10.0, gan_x=11.0, swap_x=10.5),  # swap's within 0.6
        face("lfw/B/B_2.jpg", "lfw/B", 10.5),
    ]
    result = quality.gallery_reid(faces, {"lfw/A/A_1.jpg", "lfw/B/B_1.jpg"}, ["gan", "swap"])
    assert result["methods"]["gan"]["same_person"] == 1 and result["methods"]["swap"]["same_person"] == 1
    assert result["same_person_bar"] == pytest.approx(0.5 + 0.01)
    assert "same_person" not in result["methods"][quality.ORIGINAL]


def test_full_size_sheet_keeps_faces_at_their_size(quality, tmp_path):
    from PIL import Image

    image = np.zeros((300, 300, 3), dtype=np.uint8)
    crop = quality.full_size_crop(image, np.array([100, 100, 230, 230]), 1.6)
    assert crop.shape == (208, 208, 3)  # 130 px x 1.6, not resized
    assert quality.full_size_crop(image, np.array([200, 0, 330, 130]), 1.6).shape == (169, 139, 3)  # cut to the photo
    samples = [
        quality.SampleFace({"original": crop, "gan": crop}, 0.7, 130.0, {"gan": 0.7}),
        quality.SampleFace({"original": crop[:150, :150], "gan": crop[:150, :150]}, 0.5, 94.0, {"gan": 0.5}),
    ]
    quality.full_size_sheet(samples, "gan", tmp_path / "large.png")
    sheet = Image.open(tmp_path / "large.png")
    assert sheet.size[0] >= 2 * (2 * 208 + 4) and sheet.size[1] >= 208


def test_similarity_fits_a_rotation_scale_and_shift(quality):
    src = np.random.default_rng(0).uniform(0, 60, size=(5, 2))
    turn = np.array([[np.cos(0.4), -np.sin(0.4)], [np.sin(0.4), np.cos(0.4)]])
    dst = 1.6 * src @ turn.T + np.array([7.0, -3.0])
    matrix = quality.similarity(src, dst)
    assert np.allclose(src @ matrix[:, :2].T + matrix[:, 2], dst, atol=1e-3)
    mirrored = src * np.array([-1.0, 1.0])  # no reflection: the best fit of a mirror image is a rotation
    m = quality.similarity(src, mirrored)
    assert np.linalg.det(m[:, :2]) > 0


def test_swap_pastes_a_training_split_face_aligned_on_the_landmarks(quality, tmp_path):
    """The ``swap`` reference: a donor from the training split only, its face brought onto the crop's
    landmarks, painted inside the mask only."""
    import json

    from anonymizer.crops import Region
    from anonymizer.faces import Face
    from anonymizer.frames import make_crop

    size = 64
    donor = np.full((size, size, 3), 40, np.uint8)
    donor[20:44, 20:44] = 220  # a bright square "face" between its landmarks
    landmarks = np.array([[24, 24], [40, 24], [32, 32], [26, 40], [38, 40]], np.float32)
    val = np.zeros_like(donor)  # a validation-split face: must never be drawn
    np.savez(
        tmp_path / "shard.npz",
        images=np.stack([donor, val]),
        landmarks=np.stack([landmarks, landmarks]),
        split=np.array([False, True]),
        boxes=np.zeros((2, 4), np.float32),
        files=np.array(["a", "b"]),
    )
    (tmp_path / "manifest.json").write_text(json.dumps({"shards": [{"file": "shard.npz", "count": 2}]}))

    class Geometry:
        crop_size, region, min_face_size = size, Region(scale=1.0, shape="ellipse", feather=0.1, context=2.0), 20.0

    swap = quality.DonorReplacer(tmp_path, Geometry(), seed=0, pool=10)
    assert len(swap.images) == 1
    image = np.full((200, 200, 3), 90, np.uint8)
    box = np.array([70, 70, 130, 130], np.float32)
    # the crop's landmarks: the donor's, scaled x2 about the crop's centre (a bigger face)
    face = Face(box, 0.9, np.array([[84, 84], [116, 84], [100, 100], [88, 116], [112, 116]], np.float32))
    crop = make_crop(image, face, size, Geometry.region)
    (out,) = swap.replace([crop])
    inside, outside = crop.mask > 0.99, crop.mask < 0.01
    assert np.array_equal(out[outside], crop.image[outside])  # the context untouched
    centre = tuple(np.round(crop.landmarks[2]).astype(int))
    assert out[centre[1], centre[0]].mean() > out[inside].mean()  # the donor's bright face lands on the nose


def test_swap_like_draws_a_donor_of_the_same_sex_race_and_age(quality, tmp_path):
    """``swap-like``: UTKFace donors only (their file names say who they look like), and for a target named by
    ``want`` one of the same sex and race within five years; with no donor like it, any of them."""
    import json

    from anonymizer.crops import Region
    from anonymizer.faces import Face
    from anonymizer.frames import make_crop

    size = 64
    files = ["utkface/30_0_0_a.jpg", "utkface/33_1_2_b.jpg", "utkface/60_1_2_c.jpg", "lfw/X/X_0001.jpg"]
    images = np.stack([np.full((size, size, 3), 10 + 60 * i, np.uint8) for i in range(len(files))])
    landmarks = np.array([[24, 24], [40, 24], [32, 32], [26, 40], [38, 40]], np.float32)
    np.savez(
        tmp_path / "shard.npz",
        images=images,
        landmarks=np.stack([landmarks] * len(files)),
        split=np.zeros(len(files), bool),
        boxes=np.zeros((len(files), 4), np.float32),
        files=np.array(files),
    )
    (tmp_path / "manifest.json").write_text(json.dumps({"shards": [{"file": "shard.npz", "count": len(files)}]}))

    class Geometry:
        crop_size, region, min_face_size = size, Region(scale=1.0, shape="ellipse", feather=0.1, context=2.0), 20.0

    swap = quality.DonorReplacer(tmp_path, Geometry(), seed=0, pool=10, like=True)
    assert swap.name == quality.SWAP_LIKE
    assert sorted(swap.images[:, 0, 0, 0].tolist()) == [10, 70, 130]  # UTKFace's three, not LFW's
    face = Face(np.array([70, 70, 130, 130], np.float32), 0.9, landmarks * 2 + 36)
    crop = make_crop(np.full((200, 200, 3), 90, np.uint8), face, size, Geometry.region)

    def chosen(want):
        swap.want = np.array(want)
        return swap.files[swap.choose(crop)]

    assert chosen((29, 1, 2)) == "utkface/33_1_2_b.jpg"
    assert chosen((57, 1, 2)) == "utkface/60_1_2_c.jpg"
    assert chosen((35, 0, 0)) == "utkface/30_0_0_a.jpg"
    assert chosen((5, 0, 3)) in files  # nobody like a five-year-old Asian boy here: any donor


def _aligned_donors(folder, size: int) -> None:
    """A prepared aligned set of two training-split faces (dark, a bright nose), cut by make_crop."""
    import json

    import cv2

    from anonymizer.align import InnerMask, template_points
    from anonymizer.faces import Face
    from anonymizer.frames import make_crop

    images, landmarks = [], []
    for seed in (1, 2):
        photo = np.random.default_rng(seed).integers(20, 40, (200, 200, 3)).astype(np.uint8)
        points = template_points(128) - 64 + np.array([100.0 + seed, 100.0])  # a frontal face in the photo
        cv2.circle(photo, tuple(int(v) for v in points[2]), 8, (250, 250, 250), -1)
        face = Face(np.concatenate([points.min(0) - 40, points.max(0) + 40]), 0.99, points.astype(np.float32))
        crop = make_crop(photo, face, size, InnerMask())
        images.append(crop.image)
        landmarks.append(crop.landmarks)
    np.savez(
        folder / "shard.npz",
        images=np.stack(images),
        landmarks=np.stack(landmarks),
        split=np.array([False, False]),
        boxes=np.zeros((2, 4), np.float32),
        files=np.array(["a", "b"]),
    )
    manifest = {"resolution": size, "context": 0.0, "frame": "aligned", "shards": [{"file": "shard.npz", "count": 2}]}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_aligned_swap_changes_only_the_warped_back_replaced_area(quality, tmp_path):
    """In the aligned frame the donor, on the template, is pasted through the target's aligned crop and warped
    back: every changed pixel lies in the replaced area mapped into the photo, and the hidden area changes."""
    import cv2

    from anonymizer import Anonymizer
    from anonymizer.align import InnerMask, template_points, transform_points
    from anonymizer.faces import Face
    from anonymizer.frames import make_crop
    from tests.conftest import FakeDetector, noise_image

    size = 64
    _aligned_donors(tmp_path, size)

    class Geometry:
        crop_size, region, min_face_size = size, InnerMask(), 20.0

        def declines(self, face):
            return None

    swap = quality.DonorReplacer(tmp_path, Geometry(), seed=0, pool=10)
    photo = noise_image(300, 320, seed=4, low=0, high=60)
    turn = np.radians(20)
    rotation = 1.4 * np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    points = ((template_points(128) - 64) @ rotation.T + np.array([160.0, 150.0])).astype(np.float32)
    face = Face(np.concatenate([points.min(0) - 45, points.max(0) + 45]), 0.99, points)
    result = Anonymizer(detector=FakeDetector(), replacer=swap).anonymize(photo, [face])
    assert result.faces[0].method == quality.SWAP

    crop = make_crop(photo, face, size, InnerMask())
    hidden, _, replaced = crop.areas()
    ys, xs = np.mgrid[0:300, 0:320]
    at = transform_points(np.stack([xs.ravel(), ys.ravel()], 1), crop.matrix)  # photo pixel -> crop
    mx, my = at[:, 0].reshape(300, 320), at[:, 1].reshape(300, 320)
    reach = cv2.remap(replaced, mx, my, cv2.INTER_LINEAR) > 0  # the replaced area, warped back
    changed = (result.image != photo).any(axis=2)
    assert changed.sum() > 2000
    assert not (changed & ~reach).any()
    inside = cv2.remap(hidden, mx, my, cv2.INTER_LINEAR) > 0.99
    assert changed[inside].mean() > 0.95
    x, y = np.round(points[2]).astype(int)
    assert result.image[y, x].mean() > 150 > photo[y, x].max()  # the donor's bright nose lands on the nose


def test_swap_refuses_donors_of_another_frame(quality, tmp_path):
    from anonymizer.align import InnerMask
    from anonymizer.crops import Region

    _aligned_donors(tmp_path, 64)

    class BoxGeometry:
        crop_size, region, min_face_size = 64, Region(), 20.0

    with pytest.raises(SystemExit, match="aligned-frame"):
        quality.DonorReplacer(tmp_path, BoxGeometry(), seed=0, pool=10)

    class AlignedGeometry:
        crop_size, region, min_face_size = 64, InnerMask(), 20.0

    assert quality.DonorReplacer(tmp_path, AlignedGeometry(), seed=0, pool=10).declines(None) is None


def test_identity_sources_tell_the_individual_from_who_they_look_like(quality, tmp_path):
    from benchmarks import identity_sources

    # Four kinds of people (sex x race), three of each. People are 0.64 apart (dlib: different people), each 0.45
    # from the centre of their kind. "kind" paints every face as its kind's centre (demographics only: the same
    # person as everyone like it); "leak" paints each face as the person again.
    rng = np.random.default_rng(1)
    records = []
    for k, (sex, race) in enumerate([(0, 0), (1, 0), (0, 1), (1, 2)]):
        centre = np.zeros(128)
        centre[k] = 2.0
        for j in range(3):
            desc = centre.copy()
            desc[10 + 3 * k + j] = 0.45
            records.append(
                quality.FaceRecord(
                    "heldout",
                    "utkface",
                    f"utkface/{30 + j}_{sex}_{race}_2017{k}{j}.jpg",
                    f"g{k}{j}",
                    [0, 0, 90, 90],
                    90.0,
                    desc,
                    f"id{k}{j}",
                    anonymized={"kind": centre, "leak": desc + rng.normal(0, 0.001, 128)},
                )
            )
    quality.save_descriptors(tmp_path / "d.npz", records, ["kind", "leak"])
    with np.load(tmp_path / "d.npz") as f:
        npz = {k: f[k] for k in f.files}
    result = identity_sources.measure(npz, age_band=5, min_size=0)
    kind, leak, floor = (result["methods"][m] for m in ("kind", "leak", "original"))
    assert result["faces"] == 12
    shares = lambda r: (r["own_share"], r["others_like_share"], pytest.approx(r["anyone_share"]))  # noqa: E731
    assert shares(kind) == (1.0, 1.0, 2 / 11)
    assert shares(leak) == (1.0, 0.0, 0.0)
    assert shares(floor) == (1.0, 0.0, 0.0)
    # Ages 30, 31 and 32: each has another within a year; a band of 0 asks for the same age.
    assert identity_sources.measure(npz, age_band=1, min_size=0)["methods"]["kind"]["faces_with_others_like"] == 12
    assert identity_sources.measure(npz, age_band=0, min_size=0)["methods"]["kind"]["faces_with_others_like"] == 0
    assert identity_sources.demographics(["utkface/7_1_4_x.jpg", "lfw/A/A_0001.jpg"]).tolist() == [
        [7, 1, 4],
        [-1, -1, -1],
    ]
