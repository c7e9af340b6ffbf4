"""What ``weights=`` means, decided before any layer is built.

``plan_weights`` checks the argument against the model's options and returns the spec
to build (pretrained weights may fix the stride placement) and a function that loads
the weights into the built model.
"""

from __future__ import annotations

import dataclasses
import os
import warnings

from ..arch.specs import SPECS
from .convert import load_keras_applications_h5, load_timm_safetensors, load_torchvision_pth
from .download import fetch, hash_matches
from .record import check_weights_file
from .registry import package_file
from .weights import Weights, resolve_weights

SUPPORTED_FILES = (".weights.h5 (this package / Keras 3), .h5 (keras.applications), "
                   ".safetensors (a timm ResNet, ResNet-D included, or torchvision's "
                   "weights as timm hosts them), .pth / .pt (a torchvision ResNet "
                   "state_dict, read without PyTorch)")
# PyTorch-published ResNets (torchvision, timm) stride the bottleneck's 3x3 (v1.5).
_V15_FILES = (".pth", ".pt", ".safetensors")
LOADERS = {
    "keras-applications-h5": load_keras_applications_h5,
    "torchvision-state-dict": load_torchvision_pth,
    "timm-safetensors": load_timm_safetensors,
    # registry files: the registry names their network (no record needed)
    "keras-weights-h5": lambda model, path, skip_top: load_keras3_weights(
        model, path, warn_missing=False, backbone_only=skip_top),
}


def plan_weights(spec, weights, *, include_top, classes, channels, stride_placement_given):
    resolved = resolve_weights(weights, spec.name)
    if resolved is None:
        return spec, None
    if not isinstance(resolved, Weights):  # an existing file
        path = resolved
        if path.endswith(_V15_FILES):
            spec = _with_stride_placement(spec, "3x3", stride_placement_given, path)
        return spec, _file_loader(path, include_top, classes)

    # A registry tag. Published ImageNet weights take RGB images; weights trained here
    # record their input shape.
    entry = resolved.entry
    _check_same_network(spec, entry.tag)
    expected = entry.input_shape[-1] if entry.input_shape else 3
    if channels != expected:
        if entry.input_shape:  # trained here at a fixed size
            shape = tuple(entry.input_shape)
            raise ValueError(
                f"pretrained weights {entry.tag!r} take {shape[0]}x{shape[1]} images with "
                f"{expected} channel{'s' if expected != 1 else ''}: build with "
                f"input_shape={shape} (the input has {channels} channels now), or use "
                "weights=None for a network trained from scratch")
        raise ValueError(
            f"pretrained weights {entry.tag!r} expect {expected} input "
            f"channel{'s' if expected != 1 else ''}, but the input has {channels}; use "
            f"weights=None for {channels}-channel inputs"
        )
    # Another number of classes: the backbone's weights and a new classifier
    # (fine-tuning); without the top, the stored classifier is simply not loaded.
    new_head = include_top and classes != entry.classes
    spec = _with_stride_placement(spec, entry.stride_placement, stride_placement_given,
                                  repr(entry.tag))
    record = entry.file_for(include_top and not new_head)

    def load(model):
        if record.get("package"):
            local = package_file(record["file_name"])
            if not os.path.exists(local) or not hash_matches(local, record["hash"]):
                raise ValueError(f"the packaged weights file {local} is missing or does not "
                                 f"match its hash {record['hash']}; reinstall the package")
        else:
            local = fetch(record["file_name"], record["urls"], record["hash"],
                          hf=record.get("hf"))
        LOADERS[entry.format](model, local, skip_top=not include_top or new_head)
        if new_head:
            print(f"Weights {entry.tag!r}: backbone loaded; their {entry.classes}-class "
                  f"classifier is not used: 'predictions' ({classes} classes) starts from "
                  "a random initialisation")

    return spec, load


# Fields that pretrained weights do not fix: the name, the defaults used without
# arguments, the stride placement (checked against the weights on its own) and the
# output stride (dilation changes no variable).
_FREE_FIELDS = {"name", "stride_placement", "default_input_shape", "default_classes",
                "output_stride"}


def _check_same_network(spec, tag):
    """A registry tag names weights of the registry's network; a spec changed from it
    (other blocks, widths, shortcut option...) under the same name must not take them."""
    registered = SPECS.get(spec.name)
    if registered is None:
        return
    changed = [f.name for f in dataclasses.fields(spec) if f.name not in _FREE_FIELDS
               and getattr(spec, f.name) != getattr(registered, f.name)]
    if changed:
        differences = ", ".join(f"{f}={getattr(spec, f)!r} (registry: "
                                f"{getattr(registered, f)!r})" for f in changed)
        raise ValueError(
            f"weights {tag!r} are for the registry's {spec.name}, but this network differs: "
            f"{differences}. Pass weights=None to train it from scratch (or a weights "
            "file saved from this very architecture), or build the registry's "
            f"{spec.name} for these weights.")


def _with_stride_placement(spec, needed, given, what):
    """Weights fix the stride placement of a bottleneck net; basic blocks have none."""
    if spec.block != "bottleneck" or spec.stride_placement == needed:
        return spec
    if given:
        raise ValueError(
            f"weights {what} were trained with stride_placement={needed!r}; do not pass "
            f"stride_placement={spec.stride_placement!r} with them (or use weights=None "
            "for a network trained from scratch)"
        )
    return spec.replace(stride_placement=needed)


def _file_loader(path, include_top, classes=None):
    best = os.path.join(path, "checkpoints", "best.weights.h5")
    if os.path.isdir(path):
        run = (f"; it looks like a training run: its weights are {best!r}"
               if os.path.isfile(best) else "")
        raise ValueError(f"weights {path!r} is a folder: expected a weights file "
                         f"({SUPPORTED_FILES}){run}")
    if path.lower().endswith(".keras"):
        raise ValueError(
            f"weights {path!r} is a whole Keras model (.keras), not a weights file "
            f"({SUPPORTED_FILES}): give the run's checkpoints/best.weights.h5 (a run "
            "directory keeps it there), or save one with "
            "keras_resnet.save_weights(keras_resnet.load_model(path), 'x.weights.h5')")
    if path.endswith((".h5", ".hdf5")) and os.path.isfile(path):
        import h5py

        if not h5py.is_hdf5(path):
            raise ValueError(f"weights {path!r} is not a readable HDF5 file: it is truncated "
                             "or not an .h5 file. Copy or save it again")
    if path.endswith(".weights.h5"):
        return lambda model: load_keras3_weights(model, path, new_head_ok=include_top)
    # keras.applications and torchvision files hold ImageNet's 1000-class classifier
    skip_top = not include_top or classes != 1000
    if path.endswith((".h5", ".hdf5")):
        return lambda model: _announce_new_head(
            load_keras_applications_h5(model, path, skip_top=skip_top), path, include_top,
            classes, 1000)
    if path.endswith(".safetensors"):
        return lambda model: _announce_new_head(
            load_timm_safetensors(model, path, skip_top=skip_top), path, include_top,
            classes, 1000)
    if path.endswith((".pth", ".pt")):
        return lambda model: _announce_new_head(
            load_torchvision_pth(model, path, skip_top=skip_top), path, include_top,
            classes, 1000)
    raise ValueError(f"unsupported weights file {path!r}; supported: {SUPPORTED_FILES}")


def _announce_new_head(result, path, include_top, classes, stored):
    if include_top and classes is not None and classes != stored:
        print(f"Weights {path}: backbone loaded; their {stored}-class classifier is not "
              f"used: 'predictions' ({classes} classes) starts from a random initialisation")
    return result


def default_shape_for(spec_name: str, weights, data_format: str = "channels_last"):
    """The input shape registry weights were trained at, for ``build`` to use when no
    ``input_shape`` is given, as keras.applications takes its weights' shape. Weights
    trained here record one (28x28x1 for ``"resnet20.fashion_mnist"``); None for
    anything else (files, ImageNet tags: the family's default applies)."""
    try:
        resolved = resolve_weights(weights, spec_name)
    except ValueError:
        return None  # plan_weights gives the error
    if not isinstance(resolved, Weights):
        return None
    entry = resolved.entry
    if not entry.input_shape:
        return None
    h, w, c = entry.input_shape
    return (c, h, w) if data_format == "channels_first" else (h, w, c)


def load_keras3_weights(model, path, *, warn_missing: bool = True, new_head_ok: bool = False,
                        backbone_only: bool = False):
    """``model.load_weights`` for a Keras 3 ``.weights.h5`` file, checked first against
    the architecture the file records (:mod:`.record`: a file of another network with
    the same variables is refused), with a clear error when the file does not fit (Keras
    only warns when it skips part of a file).

    ``backbone_only``: load every layer but the classifier (whose file values are
    ignored); ``new_head_ok``: do so when the classifier alone does not fit (a file of
    another number of classes: the ``predictions`` layer keeps its initialisation,
    said in one printed line).

    Raises:
        ValueError: the file was saved from another architecture, or does not fit.
    """
    check_weights_file(model, path, warn_missing=warn_missing)
    if backbone_only:
        _load_keras3(_backbone_view(model), path)
        return
    try:
        _load_keras3(model, path)
    except ValueError:
        view = _backbone_view(model) if new_head_ok else None
        if view is None or view is model:
            raise
        _load_keras3(view, path)  # raises again when more than the classifier differs
        classes = model.get_layer("predictions").units
        print(f"Weights file {path}: backbone loaded; its classifier has another number "
              f"of classes: 'predictions' ({classes} classes) starts from a random "
              "initialisation")


def _backbone_view(model):
    """``model`` up to its ``avg_pool`` (same layers and variables), or ``model`` itself
    when it has no classifier. Keras stores weights by layer position, and a prefix of
    the layers loads from a file that has more (the classifier's values are skipped)."""
    names = {layer.name for layer in model.layers}
    if "predictions" not in names or "avg_pool" not in names:
        return model
    import keras

    return keras.Model(model.inputs, model.get_layer("avg_pool").output)


def _load_keras3(model, path):
    """``model.load_weights`` for a Keras 3 ``.weights.h5`` file, with a clear error
    when the file does not fit (Keras only warns when it skips part of a file)."""
    problem = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(path)
        except (ValueError, KeyError) as err:
            problem = str(err).split("\n")[0]
    skipped = [str(w.message) for w in caught if "Skipping" in str(w.message)]
    if problem is None and skipped:
        problem = skipped[0]
    if problem is not None:
        raise ValueError(
            f"weights file {path!r} does not fit {model.name} "
            f"({model.count_params():,} parameters): {problem} Was it saved from the "
            "same architecture, variant options and number of classes?"
        )
