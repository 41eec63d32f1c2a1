"""Where the networks run: the device (CPU or CUDA) and how many CPU threads each process uses."""

from __future__ import annotations

import functools
import os
import sys

_threads: int | None = None


def resolve_device(device: str = "auto") -> str:
    """``auto`` picks CUDA when torch sees a GPU, otherwise the CPU."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    if device == "cpu":
        return "cpu"
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no CUDA device")
    return device


TRAIN_EXTRA = "pip install 'anonymizer[train]' (from a clone: pip install -e '.[train]')"


def torch_available() -> bool:
    """Whether torch can be imported (training, retraining); the light install runs everything else without it."""
    import importlib.util

    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules, or one without a spec
        return False


def cpu_count() -> int:
    """CPU cores this process may use (its affinity mask where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def set_threads(threads: int) -> None:
    """Use ``threads`` CPU threads per network call in this process (OpenCV, onnxruntime, YuNet, torch).

    Worker processes each take a share of the cores; one process alone takes them all.
    onnxruntime sessions made after the call use it.
    """
    global _threads
    _threads = max(1, int(threads))
    os.environ["OMP_NUM_THREADS"] = str(_threads)  # torch, imported later (the GAN), starts with this many
    import cv2

    cv2.setNumThreads(_threads)
    if "torch" in sys.modules:  # not imported for it: the blur path never needs torch
        sys.modules["torch"].set_num_threads(_threads)


def threads() -> int:
    """Threads per network call: as set by :func:`set_threads`, else every core."""
    return _threads if _threads is not None else cpu_count()


def onnx_session_options():
    """onnxruntime session options for every network here: :func:`threads` threads, quiet, and threads that
    sleep when they have no work. onnxruntime's threads otherwise spin between runs, taking a core from the
    video decoder and encoder and from image reading and writing: with them asleep, a 720p clip took 35.0 s
    against 44.2 s and a folder with one worker 0.90x the time (``farm-bench``, 2026-12-06, docs/video.md)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def onnx_providers(device: str = "auto") -> list[str]:
    """onnxruntime's execution providers for ``device``: ``auto`` takes CUDA where onnxruntime has it (the
    ``onnxruntime-gpu`` build, ``anonymizer[gpu]``), else the CPU."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}: use auto, cpu or cuda")
    import onnxruntime as ort

    has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    if device == "cuda" and not has_cuda:
        raise RuntimeError(
            "--device cuda was asked for, but this onnxruntime has no CUDA provider: "
            "pip install 'anonymizer[gpu]' (onnxruntime-gpu) for the detector and the generator on a GPU"
        )
    if device != "cpu" and has_cuda:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, Windows, musl)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


def release_memory() -> None:
    """Hand the memory the C heap holds free back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    Large frames are freed by one thread after another allocated them: glibc keeps the freed blocks in each
    thread's arena, fragmented, and a 4K clip's peak memory grew with its length (1.5 GB at 300 frames, 1.8 GB
    at 600). The video pipeline calls this every few hundred megabytes of frames written."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
