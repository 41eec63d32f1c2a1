"""onnxruntime sessions for the shipped ONNX networks (CenterFace, O-Net): CPU, quiet, this process's threads."""

from __future__ import annotations

import os

MODELS_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models_data")


def session(path: str):
    """An onnxruntime session on the CPU using :func:`anonymizer.device.threads` threads."""
    import onnxruntime as ort

    from anonymizer.device import threads

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
