"""The weights file: self-describing, and the same weights always give the same bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from anonymizer.models.io import FORMAT, METADATA_KEY, load_generator, read_info, save_generator, sha256_of
from anonymizer.models.networks import Generator, GeneratorConfig
from safetensors import safe_open


def _small_generator(seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    return Generator(GeneratorConfig(resolution=64, width=4, max_width=16, latent_dim=8))


def test_metadata_is_one_key_so_its_order_cannot_change_the_checksum(tmp_path):
    # safetensors writes several metadata keys in an order that varies between processes,
    # which gave identical weights different SHA-256s; one key has only one order.
    path = save_generator(_small_generator(), tmp_path / "g.safetensors")
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    assert list(metadata) == [METADATA_KEY]
    described = json.loads(metadata[METADATA_KEY])
    assert described == {"format": FORMAT, "config": read_info(path)["config"]}


def test_same_weights_give_the_same_file_and_checksum(tmp_path):
    a = save_generator(_small_generator(0), tmp_path / "a.safetensors")
    b = save_generator(_small_generator(0), tmp_path / "b.safetensors")
    c = save_generator(_small_generator(1), tmp_path / "c.safetensors")
    assert a.read_bytes() == b.read_bytes()
    assert read_info(a)["sha256"] == read_info(b)["sha256"] == sha256_of(a)
    assert read_info(c)["sha256"] != read_info(a)["sha256"]
    loaded = load_generator(a)
    for key, value in _small_generator(0).state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_half_precision_weights_load_as_float32_and_close(tmp_path):
    generator = Generator(GeneratorConfig(width=8))
    path = save_generator(generator, tmp_path / "g.safetensors", half=True)
    full = save_generator(generator, tmp_path / "full.safetensors")
    assert path.stat().st_size < 0.6 * full.stat().st_size
    loaded = load_generator(path).state_dict()
    for key, value in generator.state_dict().items():
        if value.is_floating_point():
            assert loaded[key].dtype == torch.float32
            torch.testing.assert_close(loaded[key], value, rtol=2e-3, atol=1e-4)


def test_trainable_parameters_round_trip_and_must_fit(tmp_path):
    from anonymizer.models.io import WeightsError, load_trainable, save_trainable
    from anonymizer.models.networks import Discriminator

    source, target = Discriminator(width=8), Discriminator(width=8)
    path = save_trainable(source, tmp_path / "d.safetensors", half=False)
    load_trainable(target, path)
    for (name, a), b in zip(source.named_parameters(), target.parameters()):
        assert torch.equal(a, b), name
    with pytest.raises(WeightsError):
        load_trainable(Discriminator(width=16), path)


def test_a_folded_generator_paints_full_resolution_and_round_trips(tmp_path):
    config = GeneratorConfig(resolution=128, width=8, max_width=32, latent_dim=8, fold=2)
    generator = Generator(config).eval()
    assert config.levels == 4  # the U-Net works at 64 px: one level fewer
    cond = torch.randn(2, 9, 128, 128)
    z = torch.randn(2, 8)
    with torch.no_grad():
        out = generator(cond, z)
    assert out.shape == (2, 3, 128, 128) and out.abs().max() <= 1
    loaded = load_generator(save_generator(generator, tmp_path / "g.safetensors"))
    assert loaded.config == config
    with torch.no_grad():
        torch.testing.assert_close(loaded(cond, z), out)


def test_a_grown_generator_starts_out_painting_what_the_small_one_paints():
    from anonymizer.models.networks import condition, grow_folded
    from torch.nn import functional as F

    small = load_generator(Path(__file__).resolve().parents[1] / "weights" / "generator.safetensors")  # trained
    grown = grow_folded(small, region_scale=1.1).eval()
    assert (grown.config.resolution, grown.config.fold, grown.config.region_scale) == (128, 2, 1.1)
    torch.manual_seed(1)
    image = torch.rand(2, 3, 128, 128) * 2 - 1
    mask = torch.zeros(2, 1, 128, 128)
    mask[:, :, 40:88, 40:88] = 1
    landmarks = torch.tensor([[50.0, 55], [78, 55], [64, 68], [54, 80], [74, 80]]).repeat(2, 1, 1)
    z = torch.randn(2, 128)
    with torch.no_grad():
        big = grown(condition(image, mask, landmarks), z)
        half = small(condition(F.avg_pool2d(image, 2), F.avg_pool2d(mask, 2), landmarks / 2), z)
    upsampled = F.interpolate(half, scale_factor=2, mode="nearest")
    assert (big - upsampled).abs().mean() < 0.01
    assert (big - upsampled.flip(-1)).abs().mean() > 0.05  # and the check can tell outputs apart


@pytest.mark.parametrize("modulated", [False, True])
def test_a_widened_generator_paints_what_the_narrow_one_paints_and_its_copies_grow_apart(modulated):
    from anonymizer.models.networks import widen

    torch.manual_seed(0)
    narrow = Generator(GeneratorConfig(resolution=128, width=8, max_width=32, fold=2, modulated=modulated))
    for module in narrow.modules():  # trained-looking batch norms and modulation, so that copying them matters
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2)
            module.weight.data.normal_(1, 0.2)
            module.bias.data.normal_(0, 0.2)
    for style in getattr(narrow, "styles", []):
        style.weight.data.normal_(0, 0.05)
    wide = widen(narrow, 12)
    assert wide.config.channels() == [12, 24, 32, 32, 32] and narrow.config.channels() == [8, 16, 32, 32, 32]
    cond, z = torch.randn(3, 9, 128, 128), torch.randn(3, 128)
    for training in (False, True):  # running statistics, and batch statistics
        narrow.train(training), wide.train(training)
        with torch.no_grad():
            torch.testing.assert_close(wide(cond, z), narrow(cond, z), atol=1e-4, rtol=0)
    # A copied channel (first level: new channel 8 copies old channel 0) gets another gradient than its original.
    wide.train()
    wide(cond, z).square().mean().backward()
    grad = wide.stem[0].weight.grad
    assert not torch.allclose(grad[8], grad[0])
    with pytest.raises(ValueError, match="wider"):
        widen(narrow, 4)
