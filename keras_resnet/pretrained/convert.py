"""Weight converters: explicit name maps with the arithmetic each format needs.

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


def keras_applications_to_ours(model, source: dict[str, list[np.ndarray]],
                               source_epsilon: float = KERAS_APPLICATIONS_BN_EPSILON,
                               skip_top: bool = False) -> None:
    """Assign keras.applications weights (read by :func:`read_legacy_h5`) to ``model``.

    Every weighted layer of ``model`` must find its tensors with matching shapes;
    otherwise a ``ValueError`` names the first layers that do not fit.
    """
    import keras

    assignments, problems = [], []
    used = set()
    for layer in model.layers:
        if not layer.weights:
            continue
        if skip_top and layer.name == "predictions":
            continue
        if isinstance(layer, keras.layers.BatchNormalization):
            conv_name = layer.name[: -len("_bn")] + "_conv"
            bn = source.get(layer.name)
            conv = source.get(conv_name)
            if bn is None or len(bn) != 4:
                problems.append(f"{layer.name}: missing in the file")
                continue
            gamma, beta, mean, var = bn
            bias = conv[1] if conv is not None and len(conv) == 2 else 0.0
            values = [gamma, beta, mean - bias, var + source_epsilon - layer.epsilon]
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            src = source.get(layer.name)
            if src is None:
                problems.append(f"{layer.name}: missing in the file")
                continue
            if isinstance(layer, keras.layers.Conv2D):
                values = [src[0]]  # the bias is folded into the following BN
            else:
                values = list(src)
        else:
            problems.append(f"{layer.name}: no converter for {type(layer).__name__}")
            continue
        used.add(layer.name)
        expected = [tuple(w.shape) for w in layer.weights]
        got = [tuple(np.shape(v)) for v in values]
        if expected != got:
            problems.append(f"{layer.name}: file has shapes {got}, model needs {expected}")
            continue
        assignments.append((layer, values))
    extra = sorted(set(source) - used - ({"predictions"} if skip_top else set()))
    if extra:
        problems.append(f"the file has {len(extra)} layers the model lacks "
                        f"(e.g. {', '.join(extra[:3])}): it is from a deeper network")
    if problems:
        raise ValueError(
            f"the weights do not fit {model.name}: " + "; ".join(problems[:4])
            + (f"; and {len(problems) - 4} more" if len(problems) > 4 else "")
        )
    for layer, values in assignments:
        layer.set_weights([np.asarray(v, dtype="float32") for v in values])


def load_keras_applications_h5(model, path, skip_top: bool = False) -> None:
    keras_applications_to_ours(model, read_legacy_h5(path), skip_top=skip_top)
