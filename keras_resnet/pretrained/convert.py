"""Weight converters: explicit name maps with the arithmetic each format needs.

Formats: keras.applications ``.h5``; torchvision ``.pth`` (read by :mod:`.torchfile`, no PyTorch); timm's
``.safetensors`` (read by the ``safetensors`` library, no PyTorch: torchvision's V1/V2
weights re-hosted by timm, and timm's own, ResNet-D included).

keras.applications ``.h5`` (Keras 2 legacy layout: ``layer_names`` at the root, one
group per layer with its ``weight_names``) -> ours. Its layer names are ours already;
two differences are folded exactly:

* its convolutions carry a bias, ours do not (a bias before BN is redundant): BN
  computes ``gamma * (conv + b - mean) / sqrt(var + eps) + beta``, so the bias moves
  into the moving mean: ``mean' = mean - b``;
* its BN epsilon is 1.001e-5, ours 1e-5: ``var' = var + 1.001e-5 - eps_ours`` keeps
  ``var' + eps_ours`` unchanged.
"""

from __future__ import annotations

import os

import numpy as np

from .torchfile import read_state_dict

KERAS_APPLICATIONS_BN_EPSILON = 1.001e-5


def read_legacy_h5(path) -> dict[str, list[np.ndarray]]:
    """Read a Keras 2 legacy-layout weights file: ``{layer name: [arrays in order]}``."""
    import h5py

    path = os.fspath(path)
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"cannot read {path!r} as HDF5 (truncated or not a weights "
                         f"file?): {err}") from None
    with f:
        group = f["model_weights"] if "model_weights" in f else f
        if "layer_names" not in group.attrs:
            raise ValueError(
                f"{path!r} is not in the keras.applications (Keras 2 legacy) layout: "
                "it has no 'layer_names' attribute. Files saved by Keras 3's "
                "model.save_weights end in .weights.h5 and load directly."
            )
        out = {}
        for raw in group.attrs["layer_names"]:
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            g = group[name]
            weight_names = [w.decode() if isinstance(w, bytes) else str(w)
                            for w in g.attrs.get("weight_names", [])]
            if weight_names:
                out[name] = [np.asarray(g[w]) for w in weight_names]
        return out


class _Missing(Exception):
    """A layer of the model finds nothing (or nothing usable) in the file."""


def _assign(model, values_for, source_keys, ignored, skip_top):
    """Shared by the converters: collect every weighted layer's arrays through
    ``values_for(layer) -> (arrays, keys used)``, check shapes, refuse files with
    tensors the model lacks, and only then assign (a failed load changes nothing)."""
    assignments, problems, used = [], [], set()
    for layer in model.layers:
        if not layer.weights or (skip_top and layer.name == "predictions") \
                or layer.name.startswith("preprocess_"):  # in-model preprocessing: fixed
            continue
        try:
            values, keys = values_for(layer)
        except _Missing as err:
            problems.append(f"{layer.name}: {err}")
            continue
        used.update(keys)
        expected = [tuple(w.shape) for w in layer.weights]
        got = [tuple(np.shape(v)) for v in values]
        if expected != got:
            problems.append(f"{layer.name}: file has shapes {got}, model needs {expected}")
            continue
        assignments.append((layer, values))
    extra = sorted(set(source_keys) - used - set(ignored))
    if extra:
        problems.append(f"the file has {len(extra)} tensors or layers the model lacks "
                        f"(e.g. {', '.join(extra[:3])}): it is from a deeper network")
    if problems:
        raise ValueError(
            f"the weights do not fit {model.name}: " + "; ".join(problems[:4])
            + (f"; and {len(problems) - 4} more" if len(problems) > 4 else "")
        )
    for layer, values in assignments:
        layer.set_weights([np.asarray(v, dtype="float32") for v in values])


def keras_applications_to_ours(model, source: dict[str, list[np.ndarray]],
                               source_epsilon: float = KERAS_APPLICATIONS_BN_EPSILON,
                               skip_top: bool = False) -> None:
    """Assign keras.applications weights (read by :func:`read_legacy_h5`) to ``model``.

    Every weighted layer of ``model`` must find its tensors with matching shapes, and
    the file may hold no layer the model lacks; otherwise a ``ValueError`` names them.
    """
    import keras

    def values_for(layer):
        if isinstance(layer, keras.layers.BatchNormalization):
            conv_name = layer.name[: -len("_bn")] + "_conv"
            bn, conv = source.get(layer.name), source.get(conv_name)
            if bn is None or len(bn) != 4:
                raise _Missing("missing in the file")
            gamma, beta, mean, var = bn
            bias = conv[1] if conv is not None and len(conv) == 2 else 0.0
            return [gamma, beta, mean - bias, var + source_epsilon - layer.epsilon], [layer.name]
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            if layer.name not in source:
                raise _Missing("missing in the file")
            src = source[layer.name]
            # A conv's bias is folded into the BN that follows it.
            values = [src[0]] if isinstance(layer, keras.layers.Conv2D) else list(src)
            return values, [layer.name]
        raise _Missing(f"no converter for {type(layer).__name__}")

    _assign(model, values_for, source, {"predictions"} if skip_top else set(), skip_top)


def load_keras_applications_h5(model, path, skip_top: bool = False) -> None:
    keras_applications_to_ours(model, read_legacy_h5(path), skip_top=skip_top)


# ----------------------------------------------------------------- torchvision
# torchvision ``.pth`` -> numpy arrays, no PyTorch needed for files written by PyTorch 1.6
# or later (see :mod:`.torchfile`).
read_torch_state_dict = read_state_dict


def torchvision_name_map(model) -> dict[str, str]:
    """Our layer name -> PyTorch module prefix in torchvision's and timm's ResNets, e.g.
    ``conv3_block2_1_conv`` -> ``layer2.1.conv1``, ``conv3_block1_0_bn`` ->
    ``layer2.0.downsample.1``.

    timm's ResNet-C/D keys (its ``resnet*d``) differ in two places, both read from the
    model's layers: the deep stem is ``conv1.0/1`` (``conv1_1_*``), ``conv1.3/4``
    (``conv1_2_*``), ``conv1.6`` + ``bn1`` (``conv1_3_*``), and where the shortcuts
    average-pool first its downsample sequence is (pool, conv, BN), so the projection's
    conv and BN are ``downsample.1`` and ``downsample.2`` (in every unit, also where the
    pool is the identity)."""
    import keras

    names = {layer.name for layer in model.layers}
    avg_down = any(isinstance(layer, keras.layers.AveragePooling2D)
                   and layer.name.endswith("_0_pool") for layer in model.layers)
    out = {"conv1_conv": "conv1", "conv1_bn": "bn1", "predictions": "fc"}
    if "conv1_1_conv" in names:  # the deep stem
        out = {"conv1_1_conv": "conv1.0", "conv1_1_bn": "conv1.1",
               "conv1_2_conv": "conv1.3", "conv1_2_bn": "conv1.4",
               "conv1_3_conv": "conv1.6", "conv1_3_bn": "bn1", "predictions": "fc"}
    for layer in model.layers:
        parts = layer.name.split("_")
        if len(parts) != 4 or not parts[1].startswith("block"):
            continue
        stage, block, k, kind = parts
        prefix = f"layer{int(stage[4:]) - 1}.{int(block[5:]) - 1}"
        if k == "0" and kind in ("conv", "bn"):
            out[layer.name] = f"{prefix}.downsample.{int(avg_down) + (kind == 'bn')}"
        elif kind in ("conv", "bn"):
            out[layer.name] = f"{prefix}.{kind}{k}"
    return out


def torchvision_to_ours(model, state: dict[str, np.ndarray], skip_top: bool = False) -> None:
    """Assign a torchvision ResNet state_dict to ``model`` (which must use the same
    stride placement: torchvision's bottlenecks are v1.5, ``stride_placement="3x3"``).

    Kernels go from PyTorch's (out, in, kh, kw) to Keras' (kh, kw, in, out); the
    classifier from (out, in) to (in, out); BN maps weight/bias/running_mean/
    running_var to gamma/beta/moving_mean/moving_variance (both use eps 1e-5). The
    symmetric padding of strided convolutions is the same in both (explicit pad layers
    here), so no shift is needed.
    """
    import keras

    names = torchvision_name_map(model)

    def values_for(layer):
        prefix = names.get(layer.name)
        if prefix is None:
            raise _Missing("no torchvision counterpart")
        if isinstance(layer, keras.layers.BatchNormalization):
            keys = [f"{prefix}.{s}" for s in ("weight", "bias", "running_mean", "running_var")]
        elif isinstance(layer, keras.layers.Dense):
            keys = [f"{prefix}.weight", f"{prefix}.bias"]
        else:
            keys = [f"{prefix}.weight"]
        missing = [k for k in keys if k not in state]
        if missing:
            raise _Missing(f"{missing[0]} missing in the file")
        values = [state[k] for k in keys]
        if isinstance(layer, keras.layers.Conv2D):
            values = [np.transpose(values[0], (2, 3, 1, 0))]
        elif isinstance(layer, keras.layers.Dense):
            values = [values[0].T, values[1]]
        return values, keys

    ignored = {k for k in state if k.endswith("num_batches_tracked")}
    if skip_top:
        ignored |= {"fc.weight", "fc.bias"}
    _assign(model, values_for, state, ignored, skip_top)


def load_torchvision_pth(model, path, skip_top: bool = False) -> None:
    torchvision_to_ours(model, read_torch_state_dict(path), skip_top=skip_top)


# ------------------------------------------------------------------------ timm
def read_safetensors(path) -> dict[str, np.ndarray]:
    """Read a ``.safetensors`` state dict (timm's hub files) into numpy arrays, with
    the ``safetensors`` library (no PyTorch needed)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = os.fspath(path)
    try:
        return dict(load_file(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"cannot read {path!r} as a safetensors file (truncated, or "
                         f"another format?): {err}") from None


def timm_to_ours(model, state: dict[str, np.ndarray], skip_top: bool = False) -> None:
    """Assign a timm ResNet state dict (``resnet*``, ``resnet*d``, and torchvision's
    weights as timm re-hosts them: same key names) to ``model``, which must be the same
    variant: v1.5 stride placement, and for ``*d`` files the deep stem and
    average-pool shortcuts (``build("resnet50d")``). Arithmetic as
    :func:`torchvision_to_ours`; both use BN epsilon 1e-5."""
    names = {layer.name for layer in model.layers}
    deep_file = "conv1.0.weight" in state
    if deep_file != ("conv1_1_conv" in names):
        which = ("a deep stem (conv1.0 ... conv1.6: a ResNet-C/D file such as timm's "
                 "resnet50d; build e.g. 'resnet50d')" if deep_file else
                 "the paper's 7x7 stem (conv1.weight: build e.g. 'resnet50', not a *d net)")
        raise ValueError(f"the weights do not fit {model.name}: the file has {which}")
    torchvision_to_ours(model, state, skip_top=skip_top)


def load_timm_safetensors(model, path, skip_top: bool = False) -> None:
    timm_to_ours(model, read_safetensors(path), skip_top=skip_top)
