"""Quantize the shipped CenterFace network to 8-bit integers, calibrated on the WIDER photos of the tune half.

Run once from the repository root, in the project's venv (``onnx`` comes with the ``eval`` extra)::

    python -m models.quantize_centerface --data ../shared/data/wider --out anonymizer/models_data/centerface_int8.onnx

What it does, with onnxruntime's own quantization tools:

1. the float network (``anonymizer/models_data/centerface.onnx``, opset 9) is converted to opset 13, where
   ``DequantizeLinear`` takes a per-channel axis, and onnxruntime's pre-processing folds its batch norms into
   the convolutions before them;
2. ``--calibration`` photos of the tune half (``benchmarks/wider_split.py``), spread over its events, are run
   through it at one size (``CALIBRATION_SIZE``; onnxruntime stacks the activations to take their percentiles)
   and each activation's range is set to its 0.01th and 99.99th percentiles (plain min-max ranges, every photo
   at its own size, lost more faces);
3. the network is written in QDQ form: weights as signed 8-bit per output channel, activations as unsigned 8-bit
   per tensor. onnxruntime's CPU provider then fuses each QuantizeLinear-Conv-DequantizeLinear into an integer
   convolution (VNNI where the CPU has it).

Photos of the report half are never seen here, so the detection figures on the report half stay held out.
The result is checked by ``benchmarks/centerface_int8_tune.py``. It is not shipped: twice as fast on a 720p
frame, it lost faces the float network finds (on the tune half, faces of 64 px or more hidden 98.8 % against
99.4 %; ``docs/video.md``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FLOAT_MODEL = ROOT / "anonymizer" / "models_data" / "centerface.onnx"


def calibration_photos(data: Path, count: int) -> list[Path]:
    """``count`` photos of the tune half, spread evenly over its event-sorted list."""
    from benchmarks.wider_split import tune_names

    names = sorted(p.relative_to(data / "images").as_posix() for p in (data / "images").glob("*/*.jpg"))
    tune = sorted(tune_names(names))
    if not tune:
        raise SystemExit(f"no photos under {data / 'images'}")
    idx = np.linspace(0, len(tune) - 1, min(count, len(tune))).round().astype(int)
    return [data / "images" / tune[i] for i in sorted(set(idx.tolist()))]


CALIBRATION_SIZE = (1024, 704)  # width, height: a WIDER photo's usual size, rounded to 32


def blob(path: Path) -> np.ndarray:
    """The network's input for one photo, as the detector makes it (BGR, 0-255), at ``CALIBRATION_SIZE``."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cannot read {path}")
    image = cv2.resize(image, CALIBRATION_SIZE, interpolation=cv2.INTER_AREA)
    return cv2.dnn.blobFromImage(image, 1.0, CALIBRATION_SIZE, (0, 0, 0), swapRB=False, crop=False)


def quantize(source: Path, out: Path, photos: list[Path]) -> None:
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.photos = iter(photos)

        def get_next(self):
            path = next(self.photos, None)
            return None if path is None else {"input.1": blob(path)}

    with tempfile.TemporaryDirectory() as scratch:
        opset13 = os.path.join(scratch, "centerface_opset13.onnx")
        onnx.save(version_converter.convert_version(onnx.load(str(source)), 13), opset13)
        prepared = os.path.join(scratch, "centerface_prepared.onnx")
        quant_pre_process(opset13, prepared, skip_symbolic_shape=True)  # batch norms folded into convolutions
        tmp = out.with_name(out.name + ".tmp")
        quantize_static(
            prepared,
            str(tmp),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.Percentile,
            extra_options={"CalibPercentile": 99.99},
        )
        os.replace(tmp, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "wider", help="WIDER folder")
    parser.add_argument("--out", type=Path, required=True, help="the quantized ONNX file to write")
    parser.add_argument("--source", type=Path, default=FLOAT_MODEL, help="the float network")
    parser.add_argument(
        "--calibration", type=int, default=10, help="tune-half photos to calibrate on (each needs about 1.5 GB)"
    )
    args = parser.parse_args(argv)
    photos = calibration_photos(args.data, args.calibration)
    quantize(args.source, args.out, photos)
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.2f} MB, calibrated on {len(photos)} tune-half photos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
