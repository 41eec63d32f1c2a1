"""Save and load the generator: safetensors weights, config and checksum beside them.

``generator.safetensors`` holds the tensors; ``generator.json`` beside it holds
the config the weights were trained with, their SHA-256 and facts about the
training. Loading checks both, and never unpickles code.

``generator.onnx`` beside them is the same generator for onnxruntime (written
by :func:`anonymizer.models.export.export_onnx`, ``anonymize-train export
--onnx``); the sidecar's ``onnx`` entry holds its checksum and the checksum of
the weights it was exported from, so a stale export is never used. Reading
the sidecar and checking an export (:func:`read_info`, :func:`onnx_export_of`)
need no torch: inference runs without it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from anonymizer.models.config import GeneratorConfig

FORMAT = "anonymizer-generator-v1"
METADATA_KEY = "anonymizer"
ONNX_FORMAT = "anonymizer-generator-onnx-v1"


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


def save_generator(generator, path: Path, info: dict | None = None, half: bool = False) -> Path:
    """Write the weights and their sidecar atomically; return the weights path.

    With ``half``, floating-point tensors are stored as float16 (half the file;
    loading turns them back into float32).
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: _stored(v, half) for k, v in generator.state_dict().items()}
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


def write_info(path: Path, meta: dict) -> None:
    """Replace the sidecar of the weights at ``path`` with ``meta``, atomically."""
    meta_path = sidecar(path)
    tmp = meta_path.with_name(f".{meta_path.name}.tmp")
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, meta_path)


def onnx_path(path: Path) -> Path:
    """Where the ONNX export of the weights at ``path`` lives: ``generator.onnx`` beside ``generator.safetensors``."""
    return Path(path).with_suffix(".onnx")


def onnx_export_of(path: Path, meta: dict | None = None) -> tuple[Path | None, str]:
    """The ONNX export of the weights at ``path`` (a .safetensors or .onnx file), if it is there and current,
    and if not, why not. Current: the sidecar records it (``anonymize-train export --onnx``), its checksum is
    the recorded one, and it was exported from the weights the sidecar describes."""
    path = Path(path)
    meta = read_info(path) if meta is None else meta
    entry = meta.get("onnx")
    model = onnx_path(path)
    if not entry:
        return None, f"{sidecar(path).name} records no ONNX export of these weights"
    if entry.get("format") != ONNX_FORMAT or entry.get("weights_sha256") != meta.get("sha256"):
        return None, f"the ONNX export recorded in {sidecar(path).name} is not of these weights (exported again since?)"
    if not model.is_file():
        return None, f"no {model.name} beside the weights"
    if sha256_of(model) != entry.get("sha256"):
        return None, f"{model.name}: checksum mismatch"
    weights = path.with_suffix(".safetensors")
    if weights.is_file() and sha256_of(weights) != meta.get("sha256"):
        return None, f"{weights.name}: checksum mismatch (its sidecar describes other weights)"
    return model, ""


def config_of(meta: dict) -> GeneratorConfig:
    return GeneratorConfig(**meta["config"])


def _stored(tensor, half: bool):
    tensor = tensor.detach().cpu().contiguous()
    return tensor.half() if half and tensor.is_floating_point() else tensor


def save_trainable(module, path: Path, half: bool = True) -> Path:
    """The parameters of ``module`` that train (a discriminator's heads, not its frozen features), atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    state = {name: _stored(p, half) for name, p in module.named_parameters() if p.requires_grad}
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(state, str(tmp))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def load_trainable(module, path: Path) -> None:
    """Load what :func:`save_trainable` wrote into ``module``; every trainable parameter must be there."""
    import torch
    from safetensors.torch import load_file

    state = load_file(str(path), device="cpu")
    params = dict(module.named_parameters())
    wanted = {name for name, p in params.items() if p.requires_grad}
    if set(state) != wanted or any(state[n].shape != params[n].shape for n in wanted):
        raise WeightsError(f"{path} does not fit this network's trainable parameters")
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)


def read_info(path: Path) -> dict:
    """The sidecar of the weights at ``path`` (their config, checksum, training facts and ONNX export)."""
    meta_path = sidecar(path)
    if not Path(path).is_file():
        raise WeightsError(f"no generator weights at {path}")
    if not meta_path.is_file():
        raise WeightsError(f"{path} has no {meta_path.name} beside it (config and checksum)")
    return json.loads(meta_path.read_text())


def load_generator(path: Path, device: str = "cpu"):
    """The generator (a torch module) in eval mode, after checking checksum and config."""
    from anonymizer.models.networks import Generator
    from safetensors.torch import load_file

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
