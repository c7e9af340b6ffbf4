"""Translate a Keras ResNet (any model this package builds) into an ONNX graph.

A direct translation of the stock Keras layers our builders use, layer by layer in
the functional graph's order, so no TensorFlow-to-ONNX tool is needed:

    InputLayer, Rescaling, Conv2D, BatchNormalization, Activation/ReLU (relu, softmax,
    linear), Add, ZeroPadding2D, MaxPooling2D, GlobalAverage/MaxPooling2D, Dense,
    Flatten.

ONNX convolutions are NCHW, so a channels-last model gets one Transpose after its
input and works in NCHW inside (4-D outputs are transposed back); every axis a Keras
layer names is mapped through that permutation. BatchNormalization stays a node of
its own: ONNX Runtime folds it into the preceding convolution when it loads the
graph. Any other layer raises a ValueError that names it.

Needs the ``onnx`` package (``pip install "keras-resnet-zoo[onnx]"``).
"""

from __future__ import annotations

import numpy as np

from . import graphwalk

OPSET = 17


def _require_onnx():
    try:
        import onnx  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("ONNX export needs the onnx package: "
                          "pip install 'keras-resnet-zoo[onnx]' (onnx and onnxruntime)") from e


class _Graph:
    def __init__(self):
        self.nodes, self.inits = [], []

    def const(self, name, value, dtype="float32"):
        from onnx import numpy_helper
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def rename(self, old, new):
        for nd in self.nodes:
            if nd.name == old:
                nd.name = new
            for seq in (nd.input, nd.output):
                for i, v in enumerate(seq):
                    if v == old:
                        seq[i] = new
        return new

    def node(self, op, inputs, name, **attrs):
        from onnx import helper
        out = name
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _unsupported(layer, why=""):
    return ValueError(f"ONNX export does not support layer {layer.name!r} "
                      f"({type(layer).__name__}){': ' + why if why else ''}; it translates "
                      "the stock layers this package's builders use")


def to_onnx(model, input_name: str = "images", opset: int = OPSET):
    """Return an ``onnx.ModelProto`` computing the same outputs as ``model``
    (inference mode: BatchNormalization uses its moving statistics)."""
    _require_onnx()
    import keras
    from onnx import TensorProto, checker, helper

    L = keras.layers
    if len(model.inputs) != 1:
        raise ValueError("ONNX export handles models with one input")
    kin = model.inputs[0]
    in_shape = tuple(kin.shape)
    if len(in_shape) != 4:
        raise ValueError(f"ONNX export expects image input (N, H, W, C) or (N, C, H, W), "
                         f"got shape {in_shape}")
    first_conv = next((l for l in model.layers if isinstance(l, L.Conv2D)), None)
    channels_last = (first_conv is None or first_conv.data_format == "channels_last")
    # Keras axis index -> ONNX (NCHW) axis index, for 4-D tensors.
    k2o = [0, 2, 3, 1] if channels_last else [0, 1, 2, 3]

    g = _Graph()
    names = {}  # id(KerasTensor) -> ONNX tensor name
    ranks = {}
    dims = [d if d is not None else ("batch" if i == 0 else f"d{i}")
            for i, d in enumerate(in_shape)]
    in_dtype = str(getattr(kin, "dtype", "float32") or "float32")
    onnx_in_type = {"float32": TensorProto.FLOAT, "uint8": TensorProto.UINT8}.get(in_dtype)
    if onnx_in_type is None:
        raise ValueError(f"ONNX export supports float32 or uint8 model inputs, not {in_dtype}")
    graph_input = helper.make_tensor_value_info(input_name, onnx_in_type, dims)
    x = input_name
    if in_dtype != "float32":
        x = g.node("Cast", [x], "input_cast", to=TensorProto.FLOAT)
    if channels_last:
        x = g.node("Transpose", [x], "input_to_nchw", perm=[0, 3, 1, 2])
    names[id(kin)] = x
    ranks[id(kin)] = 4

    def channel_vector(v):  # a scalar, or per-channel values broadcast over (N, C, H, W)
        v = np.asarray(v, "float32")
        return v.reshape(()) if v.size == 1 else v.reshape(1, -1, 1, 1)

    for layer in graphwalk.layers_in_order(model):
        in_tensors = graphwalk.inputs_of(layer)
        ins = [names[id(t)] for t in in_tensors]
        rank = ranks[id(in_tensors[0])]
        n = layer.name
        out_rank = rank
        if isinstance(layer, L.Rescaling):
            scale, offset = (keras.ops.convert_to_numpy(v) for v in (layer.scale, layer.offset))
            y = g.node("Mul", [ins[0], g.const(n + "_scale", channel_vector(scale))], n + "_mul")
            y = g.node("Add", [y, g.const(n + "_offset", channel_vector(offset))], n)
        elif isinstance(layer, L.Conv2D) and type(layer).__name__ != "Conv2DTranspose":
            if layer.groups != 1:
                raise _unsupported(layer, "grouped convolution")
            w = np.asarray(layer.kernel.numpy(), "float32").transpose(3, 2, 0, 1)
            conv_in = [ins[0], g.const(n + "_W", w)]
            if layer.use_bias:
                conv_in.append(g.const(n + "_B", layer.bias.numpy()))
            attrs = {"kernel_shape": list(w.shape[2:]), "strides": list(_pair(layer.strides)),
                     "dilations": list(_pair(layer.dilation_rate))}
            if layer.padding == "same":
                attrs["auto_pad"] = "SAME_UPPER"
            else:
                attrs["pads"] = [0, 0, 0, 0]
            act = layer.activation.__name__
            y = g.node("Conv", conv_in, n if act == "linear" else n + "_conv", **attrs)
            if act == "relu":
                y = g.node("Relu", [y], n)
            elif act != "linear":
                raise _unsupported(layer, f"activation {act}")
        elif isinstance(layer, L.BatchNormalization):
            axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
            if k2o[axis % 4] != 1:
                raise _unsupported(layer, "normalises an axis other than channels")
            c = layer.moving_mean.shape[0]
            gamma = layer.gamma.numpy() if layer.scale else np.ones(c)
            beta = layer.beta.numpy() if layer.center else np.zeros(c)
            y = g.node("BatchNormalization",
                       [ins[0], g.const(n + "_gamma", gamma), g.const(n + "_beta", beta),
                        g.const(n + "_mean", layer.moving_mean.numpy()),
                        g.const(n + "_var", layer.moving_variance.numpy())],
                       n, epsilon=float(layer.epsilon))
        elif isinstance(layer, (L.Activation, L.ReLU)):
            act = (layer.activation.__name__ if isinstance(layer, L.Activation) else "relu")
            if isinstance(layer, L.ReLU) and (layer.max_value is not None
                                              or layer.negative_slope or layer.threshold):
                raise _unsupported(layer, "ReLU with max_value/negative_slope/threshold")
            if act == "relu":
                y = g.node("Relu", ins, n)
            elif act == "softmax":
                if rank != 2:
                    raise _unsupported(layer, "softmax on a feature map")
                y = g.node("Softmax", ins, n, axis=-1)
            elif act == "linear":
                y = g.node("Identity", ins, n)
            else:
                raise _unsupported(layer, f"activation {act}")
        elif isinstance(layer, L.Add):
            y = ins[0]
            for i, other in enumerate(ins[1:]):
                y = g.node("Add", [y, other], n if i == len(ins) - 2 else f"{n}_{i}")
        elif isinstance(layer, L.ZeroPadding2D):
            # Keras' padded axes follow the *layer's* data_format (the option-A shortcut
            # pads channels by naming the opposite format), mapped into NCHW here.
            axes = (2, 3) if layer.data_format == "channels_first" else (1, 2)
            begin, end = [0] * 4, [0] * 4
            for axis, (b, e) in zip(axes, layer.padding):
                begin[k2o[axis]], end[k2o[axis]] = b, e
            y = g.node("Pad", [ins[0], g.const(n + "_pads", begin + end, "int64")], n,
                       mode="constant")
        elif isinstance(layer, L.MaxPooling2D):
            if layer.data_format != ("channels_last" if channels_last else "channels_first"):
                raise _unsupported(layer, "pools in a data_format other than the model's")
            attrs = {"kernel_shape": list(_pair(layer.pool_size)),
                     "strides": list(_pair(layer.strides))}
            if layer.padding == "same":
                attrs["auto_pad"] = "SAME_UPPER"
            y = g.node("MaxPool", ins, n, **attrs)
        elif isinstance(layer, (L.GlobalAveragePooling2D, L.GlobalMaxPooling2D)):
            op = ("GlobalAveragePool" if isinstance(layer, L.GlobalAveragePooling2D)
                  else "GlobalMaxPool")
            y = g.node(op, ins, n + ("_4d" if not layer.keepdims else ""))
            if not layer.keepdims:
                y = g.node("Flatten", [y], n, axis=1)
                out_rank = 2
        elif isinstance(layer, L.Flatten):
            if rank != 2:
                raise _unsupported(layer, "flattening a feature map (layout-dependent)")
            y = g.node("Identity", ins, n)
        elif isinstance(layer, L.Dense):
            if rank != 2:
                raise _unsupported(layer, "Dense on a feature map")
            gemm_in = [ins[0], g.const(n + "_W", layer.kernel.numpy())]
            if layer.use_bias:
                gemm_in.append(g.const(n + "_B", layer.bias.numpy()))
            act = layer.activation.__name__
            y = g.node("Gemm", gemm_in, n if act == "linear" else n + "_gemm")
            if act == "softmax":
                y = g.node("Softmax", [y], n, axis=-1)
            elif act == "relu":
                y = g.node("Relu", [y], n)
            elif act != "linear":
                raise _unsupported(layer, f"activation {act}")
        else:
            raise _unsupported(layer)
        out = graphwalk.output_of(layer)
        names[id(out)] = y
        ranks[id(out)] = out_rank

    outputs = []
    out_names = getattr(model, "output_names", None) or [t.name for t in model.outputs]
    for t, oname in zip(model.outputs, out_names):
        y = names[id(t)]
        if ranks[id(t)] == 4 and channels_last:
            if y == oname:
                y = g.rename(y, y + "_nchw")
            y = g.node("Transpose", [y], oname, perm=[0, 2, 3, 1])
        elif y != oname:
            y = g.node("Identity", [y], oname)
        shape = ["batch"] + [d if d is not None else f"o{i}"
                             for i, d in enumerate(tuple(t.shape)[1:], 1)]
        outputs.append(helper.make_tensor_value_info(y, TensorProto.FLOAT, shape))

    graph = helper.make_graph(g.nodes, model.name, [graph_input], outputs,
                              initializer=g.inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="keras_resnet")
    proto.ir_version = min(proto.ir_version, 9)  # readable by older ONNX Runtimes too
    checker.check_model(proto)
    return proto
