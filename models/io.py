"""Save and load the generator: safetensors weights, config and checksum beside them.

``generator.safetensors`` holds the tensors; ``generator.json`` beside it holds
the config the weights were trained with, their SHA-256 and facts about the
training. Loading checks both, and never unpickles code.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from safetensors.torch import load_file, save_file

from models.networks import Generator, GeneratorConfig

FORMAT = "anonymizer-generator-v1"
METADATA_KEY = "anonymizer"


class WeightsError(RuntimeError):
    """The weights file is missing, corrupt, or does not match its config."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sidecar(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def save_generator(generator: Generator, path: Path, info: dict | None = None) -> Path:
    """Write the weights and their sidecar atomically; return the weights path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()}
    tmp = path.with_name(f".{path.name}.tmp")
    # One metadata key only: safetensors writes the header's metadata in an order that can
    # change from one process to the next, and the checksum must not depend on it.
    described = {"format": FORMAT, "config": generator.config.to_dict()}
    save_file(state, str(tmp), metadata={METADATA_KEY: json.dumps(described, sort_keys=True)})
    os.chmod(tmp, 0o644)  # safetensors writes owner-only; weights are meant to be shared
    meta = {**described, "sha256": sha256_of(tmp), **(info or {})}
    tmp_meta = path.with_name(f".{path.name}.json.tmp")
    tmp_meta.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, path)
    os.replace(tmp_meta, sidecar(path))
    return path


def read_info(path: Path) -> dict:
    meta_path = sidecar(path)
    if not Path(path).is_file():
        raise WeightsError(f"no generator weights at {path}")
    if not meta_path.is_file():
        raise WeightsError(f"{path} has no {meta_path.name} beside it (config and checksum)")
    return json.loads(meta_path.read_text())


def load_generator(path: Path, device: str = "cpu") -> Generator:
    """The generator in eval mode, after checking checksum and config."""
    path = Path(path)
    meta = read_info(path)
    if meta.get("format") != FORMAT:
        raise WeightsError(f"{path}: unknown format {meta.get('format')!r}")
    actual = sha256_of(path)
    if actual != meta.get("sha256"):
        raise WeightsError(f"{path}: checksum mismatch (file {actual[:12]}…, expected {str(meta.get('sha256'))[:12]}…)")
    config = GeneratorConfig(**meta["config"])
    generator = Generator(config)
    try:
        generator.load_state_dict(load_file(str(path), device="cpu"), strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{path}: weights do not fit the config {config}: {exc}") from exc
    return generator.to(device).eval()
