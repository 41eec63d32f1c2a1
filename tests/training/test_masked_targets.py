"""The projected discriminator's seam-aware targets and lazy R1 in a training step, and the compact state of a
run with the projected discriminator."""

from __future__ import annotations

import json

import pytest
import torch
from anonymizer.models.io import load_generator

from anonymizer.training.train import PAINTED_SHARE, STATE_FILE, masked_patch_loss, train
from tests.training.test_aligned import _options, aligned, photos  # noqa: F401 - fixtures


def _mask_top_left(batch: int = 2, size: int = 64) -> torch.Tensor:
    mask = torch.zeros(batch, 1, size, size)
    mask[:, :, : size // 2, : size // 2] = 1.0
    return mask


def test_a_composites_unpainted_patches_are_judged_as_real_and_its_painted_ones_as_fake():
    mask = _mask_top_left()
    # Logits on a 4 x 4 patch grid: real crops first, then composites; the composites' top-left 2 x 2 is painted.
    logits = torch.zeros(4, 1, 4, 4, requires_grad=True)
    masked_patch_loss([logits], torch.cat([mask, mask])).backward()
    grad = logits.grad
    assert (grad[:2] < 0).all(), "real crops: every patch pushed towards real"
    painted = grad[2:, :, :2, :2]
    rest = torch.cat([grad[2:, :, 2:, :].flatten(), grad[2:, :, :2, 2:].flatten()])
    assert (painted > 0).all(), "painted patches pushed towards fake"
    assert (rest < 0).all(), "a composite's unpainted patches pushed towards real, as the photo's own pixels"


def test_the_generator_is_judged_on_its_painted_patches_only():
    mask = _mask_top_left()
    logits = torch.zeros(2, 1, 4, 4, requires_grad=True)
    loss = masked_patch_loss([logits], mask, generator=True)
    loss.backward()
    assert loss.item() == pytest.approx(torch.nn.functional.softplus(torch.tensor(0.0)).item())
    assert (logits.grad[:, :, :2, :2] < 0).all()
    assert (logits.grad[:, :, 2:, :] == 0).all() and (logits.grad[:, :, :2, 2:] == 0).all()
    # A patch that holds only a sliver of the mask (its feathered rim) is not a painting.
    sliver = torch.zeros(1, 1, 64, 64)
    sliver[:, :, :, :1] = 1.0  # one column of 16 in each left patch
    assert 1 / 16 < PAINTED_SHARE
    edge = torch.zeros(1, 1, 4, 4, requires_grad=True)
    masked_patch_loss([edge], sliver, generator=True).backward()
    assert (edge.grad == 0).all()


def test_a_projected_run_with_masked_targets_and_r1_trains_and_its_state_leaves_the_frozen_features_out(
    aligned,  # noqa: F811 - the fixture
    tmp_path,
):
    """From a state of the DCGAN discriminator (another arm of a race), the generators carry over and a new
    projected discriminator starts; its state holds the heads alone, and the run goes on from it."""
    state = tmp_path / "state"
    train(aligned, tmp_path / "a", _options(2, state=str(state)), progress=False)
    ema_before = json.loads((state / "generator.json").read_text())["sha256"]
    projected = dict(
        discriminator="projected",
        projected_scales=3,
        masked_targets=True,
        diff_augment=True,
        r1_gamma=0.1,
        r1_every=2,
        fm_weight=0.0,
    )
    train(aligned, tmp_path / "b", _options(2, state=str(state), **projected), progress=False)
    info = json.loads((state / "generator.json").read_text())
    assert info["sha256"] != ema_before and info["training"]["steps"] == 4
    assert info["training"]["discriminator"] == "projected"
    from safetensors import safe_open

    with safe_open(str(state / STATE_FILE), framework="pt") as f:
        keys = list(f.keys())
    assert any(k.startswith("d.heads.") for k in keys)
    assert not any(k.startswith(("d.features.", "d.ccm.", "d.csm.")) for k in keys)
    assert (state / STATE_FILE).stat().st_size < 2_000_000
    rows = (tmp_path / "b" / "losses.csv").read_text().splitlines()
    assert all(v not in ("nan", "inf") for row in rows[1:] for v in row.split(","))
    # A new run folder goes on from the projected state, heads and all.
    train(aligned, tmp_path / "c", _options(2, state=str(state), **projected), progress=False)
    assert json.loads((state / "generator.json").read_text())["training"]["steps"] == 6
    # The masked targets need patch logits.
    with pytest.raises(ValueError, match="projected"):
        train(aligned, tmp_path / "d", _options(1, masked_targets=True, fm_weight=0.0), progress=False)


def test_a_state_of_the_ema_generator_alone_starts_both_generators_from_it(aligned, tmp_path):  # noqa: F811
    """A start kept small (the EMA generator, no state.safetensors): the run goes on from it and counts on."""
    state = tmp_path / "state"
    train(aligned, tmp_path / "a", _options(2, state=str(state)), progress=False)
    (state / STATE_FILE).unlink()
    ema = load_generator(state / "generator.safetensors").state_dict()
    train(aligned, tmp_path / "b", _options(1, state=str(state), checkpoint_every=1000), progress=False)
    start = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert json.loads((state / "generator.json").read_text())["training"]["steps"] == 3
    moved = max(
        (start["generator"][k].float() - ema[k].float()).abs().max().item()
        for k in ema
        if "running" not in k and ema[k].is_floating_point()
    )
    assert moved < 0.05, "the training generator started from the EMA weights, one step on"


def test_a_pixel_discriminator_beside_the_projected_one_goes_on_from_a_projected_state(
    aligned,  # noqa: F811 - the fixture
    tmp_path,
):
    """``projected+dcgan``: the pixel discriminator is one more scale of 1 x 1 logits; a run of it started
    from a projected arm's state keeps that arm's heads (the pixel one starts afresh), trains both, and its own
    state holds both without the frozen features."""
    from anonymizer.models.projected import PixelAndProjected
    from safetensors import safe_open

    from anonymizer.training.train import make_discriminator

    state = tmp_path / "state"
    common = dict(projected_scales=2, masked_targets=True, diff_augment=True, r1_gamma=0.1, r1_every=2, fm_weight=0.0)
    train(aligned, tmp_path / "a", _options(2, state=str(state), discriminator="projected", **common), progress=False)
    with safe_open(str(state / STATE_FILE), framework="pt") as f:
        heads = {k: f.get_tensor(k) for k in f.keys() if k.startswith("d.heads.")}
    # One step at learning rate 0: the weights it starts from, as the checkpoint holds them.
    b = _options(1, state=str(state), discriminator="projected+dcgan", lr=0.0, **common)
    train(aligned, tmp_path / "b", b, progress=False)
    start = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["discriminator"]
    weights = [k for k in heads if k.endswith(("original", "bias"))]
    assert weights
    for key in weights:  # the projected arm's heads, as its state held them
        assert torch.equal(start["projected." + key[2:]].half(), heads[key]), key
    assert any(k.startswith("pixel.") for k in start)
    train(aligned, tmp_path / "c", _options(2, state=str(state), discriminator="projected+dcgan", **common), False)
    info = json.loads((state / "generator.json").read_text())["training"]
    assert info["discriminator"] == "projected+dcgan" and info["steps"] == 5
    with safe_open(str(state / STATE_FILE), framework="pt") as f:
        keys = list(f.keys())
    assert any(k.startswith("d.pixel.") for k in keys) and any(k.startswith("d.projected.heads.") for k in keys)
    assert not any(k.startswith(("d.projected.features.", "d.projected.ccm.", "d.projected.csm.")) for k in keys)
    end = torch.load(tmp_path / "c" / "checkpoint.pt", weights_only=True)["discriminator"]
    pixel = [k for k in end if k.startswith("pixel.") and k.endswith("weight_orig")]
    assert pixel and any(not torch.equal(end[k], start[k]) for k in pixel), "the pixel discriminator trained"

    # One logit map per projected scale and a 1 x 1 one for the pixel discriminator; the logit per crop is
    # their mean.
    config = load_generator(state / "generator.safetensors").config
    both = make_discriminator("projected+dcgan", config, scales=2).eval()
    assert isinstance(both, PixelAndProjected)
    image = torch.rand(3, 3, config.resolution, config.resolution) * 2 - 1
    mask = torch.zeros(3, 1, config.resolution, config.resolution)
    landmarks = torch.full((3, 5, 2), config.resolution / 2)
    with torch.no_grad():
        patches = both(image, mask, landmarks, patches=True)
        assert len(patches) == 3 and patches[-1].shape == (3, 1, 1, 1)
        expected = torch.stack([p.mean((1, 2, 3)) for p in patches]).mean(0)
        assert torch.allclose(both(image, mask, landmarks), expected)
