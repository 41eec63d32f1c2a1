"""Export the generator to ONNX, so that inference runs on onnxruntime without torch.

The graph is the whole of :meth:`Generator.inpaint`: the condition (the crop
with the face blanked, the mask, the landmark heatmaps), the U-Net and the
composite. It takes ``image`` (N x 3 x R x R in [-1, 1]), ``mask`` (N x 1 x R
x R, 1 where the face is painted), ``landmarks`` (N x 5 x 2, crop pixels) and
``z`` (N x latent) and gives ``composite`` (N x 3 x R x R), N free. Batch norm
runs in eval mode and is left to onnxruntime to fold, so the file holds the
weights' own float16 values, stored as float16 (half the size of float32). After writing, the
export is run on onnxruntime beside torch on random crops, and refused if the
two differ by more than :data:`MAX_DIFFERENCE` (in 0-255 units); the largest
difference is recorded in the sidecar.

Needs torch and the ``onnx`` package (the ``train`` extra).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from anonymizer.models.io import (
    ONNX_FORMAT,
    WeightsError,
    load_generator,
    onnx_path,
    read_info,
    sha256_of,
    write_info,
)

OPSET = 17
MAX_DIFFERENCE = 0.5  # 0-255 units: the export must paint what torch paints
INPUTS = ("image", "mask", "landmarks", "z")


class _Inpaint(torch.nn.Module):
    def __init__(self, generator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, image, mask, landmarks, z):
        return self.generator.inpaint(image, mask, landmarks, z)


def probe_inputs(config, n: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """Random crops, masks, landmarks and latents of a generator's shapes (the export's check)."""
    rng = np.random.default_rng(seed)
    size = config.resolution
    return {
        "image": rng.uniform(-1, 1, (n, 3, size, size)).astype(np.float32),
        "mask": (rng.uniform(0, 1, (n, 1, size, size)) > 0.5).astype(np.float32),
        "landmarks": rng.uniform(0.2 * size, 0.8 * size, (n, 5, 2)).astype(np.float32),
        "z": rng.standard_normal((n, config.latent_dim)).astype(np.float32),
    }


def _store_half(path: Path) -> None:
    """Store each float32 tensor of the ONNX file at ``path`` that float16 holds exactly as float16, with a Cast
    back to float32 where it is used: the weights are saved in half precision, so this halves the file and
    changes no value (onnxruntime folds the casts when it loads the model)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    casts = []
    for tensor in graph.initializer:
        if tensor.data_type != TensorProto.FLOAT:
            continue
        value = numpy_helper.to_array(tensor)
        half = value.astype(np.float16)
        if value.size < 16 or not np.array_equal(half.astype(np.float32), value):
            continue
        name = tensor.name
        tensor.CopyFrom(numpy_helper.from_array(half, f"{name}__half"))
        casts.append(helper.make_node("Cast", [f"{name}__half"], [name], to=TensorProto.FLOAT))
    for node in reversed(casts):
        graph.node.insert(0, node)
    onnx.save(model, str(path))


def export_onnx(weights: Path) -> Path:
    """Write ``generator.onnx`` beside the weights at ``weights`` and record it in their sidecar; return its path."""
    import onnxruntime as ort

    weights = Path(weights)
    meta = read_info(weights)
    generator = load_generator(weights, "cpu")  # checks the checksum and the config
    config = generator.config
    out = onnx_path(weights)
    tmp = out.with_name(f".{out.name}.tmp")
    probe = probe_inputs(config)
    args = tuple(torch.from_numpy(probe[k][:2]) for k in INPUTS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            _Inpaint(generator).eval(),
            args,
            str(tmp),
            dynamo=False,
            opset_version=OPSET,
            input_names=list(INPUTS),
            output_names=["composite"],
            dynamic_axes={name: {0: "n"} for name in (*INPUTS, "composite")},
            do_constant_folding=False,  # batch norm stays apart: its tensors stay the weights' own float16 values
        )
    _store_half(tmp)
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(str(tmp), options, providers=["CPUExecutionProvider"])
        ours = session.run(["composite"], probe)[0]
        with torch.no_grad():
            theirs = generator.inpaint(*(torch.from_numpy(probe[k]) for k in INPUTS)).numpy()
        difference = float(np.abs(ours.clip(-1, 1) - theirs.clip(-1, 1)).max() * 127.5)
        if not difference <= MAX_DIFFERENCE:
            raise WeightsError(f"the ONNX export of {weights} paints {difference:.2f}/255 away from torch")
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    meta["onnx"] = {
        "format": ONNX_FORMAT,
        "file": out.name,
        "sha256": sha256_of(out),
        "weights_sha256": meta["sha256"],
        "opset": OPSET,
        "max_difference_255": round(difference, 4),
        "torch": torch.__version__.split("+")[0],
    }
    write_info(weights, meta)
    return out
