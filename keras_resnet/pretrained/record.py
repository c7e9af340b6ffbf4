"""Weights files that say which network they hold.

A Keras ``.weights.h5`` file stores variables by position, so any network with the same
variables takes it: a ResNet-20 checkpoint loads into a Plain-20 (the shortcuts have no
variables) and a v1.5 ResNet-50's into a v1 one (the strides have none), and the
result is a silently wrong network (the issue's 10% on Fashion-MNIST). :func:`save_weights`
adds a record of the architecture to the file (a dataset ``keras_resnet_architecture``
beside Keras' own groups, which Keras' loader ignores): every layer's name, class and
the settings that shape its computation (strides, kernel size, padding, pool size,
filters, units). :func:`check_weights_file` compares it with the network before loading.
A file without the record (saved by ``model.save_weights`` itself, or before this
existed) is checked for what Keras stores anyway (its residual additions are groups of
their own, so a residual and a plain net differ) and loads with a warning.
"""

from __future__ import annotations

import json
import re
import warnings
import zlib

import numpy as np

from ..io import atomic_write

RECORD = "keras_resnet_architecture"
RECORD_VERSION = 1
# layer settings that change what a layer computes without changing its variables'
# shapes (or that name its shape): the record keeps these
_SETTINGS = ("strides", "kernel_size", "padding", "pool_size", "filters", "units",
             "dilation_rate", "groups", "axis")
# Layers a weights file may have and a network may lack, or the other way round, and
# still fit: the classifier and its pooling (include_top=False, or a new head for other
# classes) and the preprocessing layers (include_preprocessing).
_FREE = re.compile(r"^(avg_pool|max_pool|predictions|preprocess_.*)$")
_ADD_GROUP = re.compile(r"^add(_\d+)?$")


def describe_layers(model) -> dict:
    """``{layer name: "Class key=value ..."}`` for every layer of ``model`` (nested
    models flattened), input layers left out."""
    out = {}
    for layer in model._flatten_layers(include_self=False, recursive=True):
        kind = layer.__class__.__name__
        if kind == "InputLayer":
            continue
        config = layer.get_config()
        parts = [kind] + [f"{k}={json.dumps(config[k], sort_keys=True)}" for k in _SETTINGS
                          if k in config]
        out[layer.name] = " ".join(parts)
    return out


def write_record(path, model) -> None:
    """Add the architecture record of ``model`` to the weights file ``path``."""
    import h5py

    text = json.dumps({"version": RECORD_VERSION, "model": model.name,
                       "layers": describe_layers(model)}).encode()
    with h5py.File(path, "a") as f:
        if RECORD in f:
            del f[RECORD]
        f.create_dataset(RECORD, data=np.frombuffer(zlib.compress(text), "uint8"))


def read_record(path) -> dict | None:
    """The architecture record of a weights file, or None when it has none."""
    import h5py

    with h5py.File(path, "r") as f:
        if RECORD not in f:
            return None
        return json.loads(zlib.decompress(f[RECORD][()].tobytes()))


def classifier_classes(path) -> int | None:
    """The number of classes of the classifier in the Keras 3 ``.weights.h5`` file
    ``path``: the length of the bias of its one Dense layer (this package's networks
    have no other). None when it has none (a backbone's file) or several, or when the
    file is not one HDF5 can read (the loader names that)."""
    import h5py

    if not h5py.is_hdf5(path):
        return None
    with h5py.File(path, "r") as f:
        layers = f.get("layers")
        if layers is None:
            return None
        dense = [k for k in layers if re.fullmatch(r"dense(_\d+)?", k)]
        if len(dense) != 1:
            return None
        bias = layers[dense[0]].get("vars/1")
        return int(bias.shape[0]) if bias is not None and bias.ndim == 1 else None


def save_weights(model, path) -> str:
    """``model.save_weights(path)`` plus the architecture record, written atomically (a
    failed write leaves no file). ``path`` must end in ``.weights.h5``. Returns it."""
    def write(tmp):
        model.save_weights(tmp)
        write_record(tmp, model)

    return atomic_write(path, write)


def _residual_additions(path) -> int:
    """How many ``add`` groups (one per residual addition) Keras stored in the file."""
    import h5py

    count = 0

    def visit(name, obj):
        nonlocal count
        if isinstance(obj, h5py.Group) and _ADD_GROUP.match(name.rsplit("/", 1)[-1]):
            count += 1

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return count


def check_weights_file(model, path, *, warn_missing: bool = True) -> None:
    """ValueError unless the weights file ``path`` was saved from ``model``'s
    architecture (the classifier and preprocessing layers may differ, see ``_FREE``).

    Without a record in the file, the residual additions Keras stores are counted
    instead (a plain net's file has none), and a UserWarning says that nothing more
    can be checked (``warn_missing=False``: files whose network is known otherwise,
    such as the registry's)."""
    import keras

    record = read_record(path)
    if record is None:
        ours = sum(isinstance(layer, keras.layers.Add)
                   for layer in model._flatten_layers(include_self=False, recursive=True))
        theirs = _residual_additions(path)
        if ours != theirs:
            kind = ("a plain net (no shortcuts) and a residual one" if 0 in (ours, theirs)
                    else "networks of another depth")
            raise ValueError(
                f"weights file {path!r} was saved from a network with {theirs} residual "
                f"additions; {model.name} has {ours} ({kind}). Load it into the network it "
                "was saved from")
        if warn_missing:
            warnings.warn(
                f"weights file {path!r} does not record the architecture it was saved "
                "from (written by Keras' save_weights, or by an older keras_resnet); it "
                "loads by variable shapes only, which cannot tell apart networks that "
                "differ only in strides. keras_resnet.save_weights(model, path) writes "
                "files that record it", UserWarning, stacklevel=4)
        return
    theirs = record["layers"]
    ours = describe_layers(model)
    differ = [n for n, d in ours.items() if not _FREE.match(n) and theirs.get(n) != d]
    extra = [n for n in theirs if not _FREE.match(n) and n not in ours]
    if differ or extra:
        shown = []
        for n in (differ + extra)[:3]:
            shown.append(f"{n}: file {theirs.get(n, 'absent')!r}, network "
                         f"{ours.get(n, 'absent')!r}")
        raise ValueError(
            f"weights file {path!r} was saved from {record.get('model')!r}, another "
            f"architecture than {model.name!r} ({len(differ)} layer(s) differ, "
            f"{len(extra)} missing here; e.g. {'; '.join(shown)}). Build the network it "
            "was saved from (model name, shortcut option, stride placement) to load it")
