"""onnxruntime sessions for the shipped ONNX networks (CenterFace, RetinaFace, BlazeFace, O-Net): quiet, this
process's threads, on the CPU or, for networks made inside :func:`on_device`, where it says."""

from __future__ import annotations

import contextlib
import os
from contextvars import ContextVar

MODELS_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models_data")
_PROVIDERS: ContextVar[tuple[str, ...]] = ContextVar("detector_providers", default=("CPUExecutionProvider",))


@contextlib.contextmanager
def on_device(device: str):
    """The networks made in this block run on ``device``: "cuda" on onnxruntime's CUDA provider (an error where
    this onnxruntime has none), "auto" there where it has one, "cpu" on the CPU
    (:func:`anonymizer.device.onnx_providers`)."""
    from anonymizer.device import onnx_providers

    token = _PROVIDERS.set(tuple(onnx_providers(device)))
    try:
        yield
    finally:
        _PROVIDERS.reset(token)


def session(path: str):
    """An onnxruntime session with :func:`anonymizer.device.onnx_session_options` (this process's threads,
    asleep when idle), on the providers that :func:`on_device` chose (the CPU's outside it)."""
    import onnxruntime as ort

    from anonymizer.device import onnx_session_options

    return ort.InferenceSession(path, onnx_session_options(), providers=list(_PROVIDERS.get()))
