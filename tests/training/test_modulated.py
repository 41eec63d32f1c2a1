"""A generator whose latent code modulates every decoder level: it goes on from a plain generator's weights
painting what they paint, its code then changes more of the face, and a run trains it from a plain state."""

from __future__ import annotations

import json

import pytest
import torch
from anonymizer.models.networks import COND_CHANNELS, Generator, GeneratorConfig, load_weights

from anonymizer.training.train import train
from tests.training.test_aligned import _options, aligned, photos  # noqa: F401 - fixtures


def _inputs(config: GeneratorConfig, n: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    cond = torch.randn(n, COND_CHANNELS, config.resolution, config.resolution)
    return cond, torch.randn(n, config.latent_dim), torch.randn(n, config.latent_dim)


def test_a_modulated_generator_goes_on_from_plain_weights_and_its_code_then_reaches_every_level():
    config = GeneratorConfig(resolution=64, width=8, max_width=32, latent_dim=16)
    torch.manual_seed(0)
    plain = Generator(config).eval()
    modulated = Generator(GeneratorConfig(**{**config.to_dict(), "modulated": True})).eval()
    load_weights(modulated, plain.state_dict())
    cond, z1, z2 = _inputs(config)
    with torch.no_grad():
        assert torch.equal(modulated(cond, z1), plain(cond, z1)), "its modulation starts at zero"
        apart_before = (modulated(cond, z1) - modulated(cond, z2)).abs().mean()
        for style in modulated.styles:
            torch.nn.init.normal_(style.weight, std=0.2)
        apart_after = (modulated(cond, z1) - modulated(cond, z2)).abs().mean()
    assert len(modulated.styles) == config.levels
    assert apart_after > 2 * apart_before, "two codes paint further apart once the modulation is trained"
    with pytest.raises(RuntimeError, match="do not fit"):
        load_weights(plain, modulated.state_dict())  # a plain generator cannot drop a modulation


def test_a_run_trains_a_modulated_generator_from_a_plain_ones_state(aligned, tmp_path):  # noqa: F811
    state = tmp_path / "state"
    train(aligned, tmp_path / "a", _options(2, state=str(state)), progress=False)
    options = _options(2, state=str(state), modulated=True, diversity_weight=1.0)
    train(aligned, tmp_path / "b", options, progress=False)
    info = json.loads((state / "generator.json").read_text())
    assert info["config"]["modulated"] is True and info["training"]["steps"] == 4
    trained = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["generator"]
    assert any(k.startswith("styles.") and v.abs().max() > 0 for k, v in trained.items()), "the modulation trained"
    # A plain run cannot go on from it.
    with pytest.raises(ValueError, match="is of a generator"):
        train(aligned, tmp_path / "c", _options(1, state=str(state)), progress=False)
