"""The weights file: self-describing, and the same weights always give the same bytes."""

from __future__ import annotations

import json

import torch
from safetensors import safe_open

from models.io import FORMAT, METADATA_KEY, load_generator, read_info, save_generator, sha256_of
from models.networks import Generator, GeneratorConfig


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
