"""The public way to make a network: :func:`build` (a spec or name plus
keras.applications arguments, weights included; the named constructors ``ResNet50``,
``Plain20``, ... in :mod:`keras_resnet.constructors` are one line over it),
:func:`load_pretrained` (a model with the preprocessing its weights expect) and
:func:`load_trained` (a network trained here: run directory, file or shipped tag).
"""

from __future__ import annotations

import dataclasses
import os

import keras
import numpy as np

from .arch.builder import build_network, check_options, resolve_input_shape, resolve_spec
from .arch.specs import SPECS, get_spec
from . import rundir
from .io import deep_recursion
from .pretrained.loading import default_shape_for, plan_weights
from .pretrained.record import classifier_classes
from .pretrained import registry
from .preprocessing import Preprocessing
from .pretrained.transforms import preprocess_input, resolve_preprocessing
from .pretrained.weights import get_weights


def build(
    model,
    *,
    include_top: bool = True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes: int | None = None,
    classifier_activation="softmax",
    shortcut: str | None = None,
    stride_placement: str | None = None,
    stem: str | None = None,
    stem_width: int | None = None,
    downsample: str | None = None,
    output_stride: int | None = None,
    zero_init_residual: bool = False,
    weight_decay: float = 0.0,
    bn_epsilon: float = 1e-5,
    bn_momentum: float = 0.9,
    include_preprocessing=False,
    name: str | None = None,
):
    """Build a network from its registry name or a :class:`ResNetSpec`.

    Args:
        model: a registry name (``"resnet50"``, ``"ResNet-50"``, ``"plain20"``; see
            :func:`list_models`) or a :class:`ResNetSpec` for a custom layout.
        include_top: whether to add global average pooling and the ``predictions``
            classifier. The top is size-agnostic, so any input size works with it.
        weights: ``None`` (random init); a registry tag (``"imagenet"`` picks the
            model's default source; see ``keras_resnet.pretrained.registry``), fetched
            once into the Keras cache and hash-checked; or a file path: a Keras 3
            ``.weights.h5`` saved from the same architecture, or a keras.applications
            ``.h5`` file (converted on load).
        input_tensor: optional Keras tensor to use as the model's input.
        input_shape: ``(H, W, C)`` (channels-last) or ``(C, H, W)`` (channels-first).
            ``H``/``W`` may be ``None`` for any size. Defaults as keras.applications:
            with ``include_top=False``, any size with 3 channels ``(None, None, 3)``;
            with the top, the family's size (224x224x3 for ImageNet nets, 32x32x3 for
            CIFAR nets).
        pooling: without the top, ``None`` returns the last feature map, ``"avg"`` /
            ``"max"`` a global-pooled vector.
        classes: classifier size; defaults to 1000 (ImageNet nets) or 10 (CIFAR nets).
        classifier_activation: activation of ``predictions``; ``None`` gives logits.
            The classifier always computes in float32, also under mixed precision.
        shortcut: ``"A"``, ``"B"`` or ``"C"`` (residual nets only); defaults to the
            paper's choice (B for ImageNet, A for CIFAR).
        stride_placement: ``"1x1"``/``"v1"`` (paper, keras.applications; default) or
            ``"3x3"``/``"v1.5"`` (torchvision).
        stem: ``"7x7"`` (paper) or ``"deep"``: three 3x3 convs of ``stem_width/2``,
            ``stem_width/2``, ``stem_width`` filters (He et al. 2019; ResNet-C with the
            default ``stem_width`` 64 (32-32-64), ResNet-S with ``stem_width=128``).
            ImageNet family only; the ``*d`` networks have it already.
        stem_width: output channels of the stem (64 for ImageNet nets).
        downsample: ``"conv"`` (a strided 1x1 projection, paper) or ``"avg"`` (a 2x2
            average pool, stride 2, then a 1x1 conv: ResNet-D's shortcut).
        output_stride: 8, 16 or 32 (ImageNet family): the stages that would take the
            network past this stride keep their resolution and dilate their 3x3
            convolutions instead (torchvision's ``replace_stride_with_dilation``,
            timm's ``output_stride``), for segmentation and detection; the weights are
            the same, so any ``weights`` load. Default None: 32, no dilation.
        zero_init_residual: start the last BN of every residual function at gamma = 0,
            so each unit starts as the identity.
        weight_decay: the paper's (coupled, Caffe-style) weight decay, attached as an
            L2 kernel regularizer of ``weight_decay / 2`` to every conv and the
            classifier, so its gradient is ``weight_decay * w``. It must be set here:
            regularizers set on layers after they are built do nothing.
        bn_epsilon: BatchNormalization's epsilon; the default 1e-5 is PyTorch's.
        bn_momentum: BatchNormalization's moving-average momentum; the default 0.9
            equals PyTorch's momentum 0.1 (its convention counts the other way).
        include_preprocessing: put the input normalisation inside the model, so that
            it takes raw RGB images with values 0-255 (any dtype; uint8 is cast), as a
            TFLite app has them. ``True`` uses the settings recorded for ``weights`` (a
            registry tag); or give ``"caffe"``, ``"torch"``, a weights tag such as
            ``"resnet50.tv_in1k"``, or a dict (``scale``, ``mean``, ``std``,
            ``channel_order``; ``mean``/``std`` per channel or per pixel). Adds the
            layers ``preprocess_normalize`` (and ``preprocess_bgr`` for Caffe weights).
        name: model name; defaults to the spec's name.
    """
    spec = resolve_spec(model, shortcut, stride_placement, stem=stem, stem_width=stem_width,
                        downsample=downsample, output_stride=output_stride)
    if classes is None:
        classes = spec.default_classes
    check_options(spec, include_top, pooling, classes, zero_init_residual, weight_decay,
                  bn_epsilon, bn_momentum)
    data_format = keras.config.image_data_format()
    if input_shape is None and input_tensor is None:  # the weights' own, if they record one
        input_shape = default_shape_for(spec.name, weights, data_format)
    shape = resolve_input_shape(spec, input_shape, input_tensor, data_format,
                                include_top=include_top)
    channels = shape[-1] if data_format == "channels_last" else shape[0]
    preprocessing = resolve_preprocessing(include_preprocessing, spec.name, weights)
    spec, load_weights = plan_weights(
        spec, weights, include_top=include_top, classes=classes, channels=channels,
        stride_placement_given=stride_placement is not None)
    net = build_network(
        spec, shape, input_tensor=input_tensor, include_top=include_top, pooling=pooling,
        classes=classes, classifier_activation=classifier_activation,
        zero_init_residual=zero_init_residual, weight_decay=weight_decay,
        bn_epsilon=bn_epsilon, bn_momentum=bn_momentum, preprocessing=preprocessing,
        name=name)
    if load_weights is not None:
        load_weights(net)
    return net



def has_imagenet_weights(name: str) -> bool:
    """Whether ``weights="imagenet"`` names registered weights for network ``name``."""
    _, defaults = registry.load_registry()
    return name in defaults.get("imagenet", {})




def load_pretrained(tag: str, **build_options):
    """``(model, preprocess)`` for a registry tag such as ``"resnet50.imagenet"`` (or a
    :class:`~keras_resnet.Weights`).

    ``preprocess`` is ``get_weights(tag).transforms()``: it takes raw uint8 RGB images
    as stored, (H, W, 3) or (N, H, W, 3), any size, and returns the batch the model
    expects: resized and centre-cropped as the publisher evaluates (the registry's
    resize, crop and interpolation, through Pillow as torchvision and timm do), then
    normalised. Grayscale (H, W) or (N, H, W, 1) images are repeated to RGB. Weights
    trained here take images at their trained size. With
    ``include_preprocessing=True`` the model normalises by itself and ``preprocess``
    only resizes and crops (values stay 0-255).
    """
    entries, _ = registry.load_registry()
    if tag not in entries:
        raise ValueError(f"unknown weights tag {tag!r}; known tags: {', '.join(entries)}")
    weights = get_weights(tag)
    entry = weights.entry
    if entry.input_shape:  # trained here, at a fixed size
        build_options.setdefault("input_shape", entry.input_shape)
        build_options.setdefault("classes", entry.classes)
    model = build(entry.arch, weights=str(weights), **build_options)
    return model, weights.transforms(
        normalize=not build_options.get("include_preprocessing"))


def load_model(path, **kwargs):
    """``keras.saving.load_model`` for models of this package, also the very deep ones.

    The package's own layers (the freezable ``BatchNormalization`` and ``Conv2D`` of
    backbones and the 0.2.0 shim) are registered with Keras as soon as both are imported
    (``keras_resnet/__init__.py``), so files holding them load without
    ``custom_objects``, here and with ``keras.saving.load_model``; Python's recursion limit is raised while Keras rebuilds
    the graph (ResNet-1202 needs ~7,000 frames).

    Args:
        path: a ``.keras`` file (or any path Keras' loader takes).
        **kwargs: passed to ``keras.saving.load_model``.

    Raises:
        FileNotFoundError: nothing exists at ``path``.
        ValueError: ``path`` is a folder, or a ``.keras`` file that is not a zip
            archive (truncated, or another kind of file): said so, not Keras' "File not
            found".
    """
    import zipfile

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no saved model at {path!r}")
    if os.path.isdir(path):
        what = (" (it holds a run of keras-resnet train: load it with "
                "keras_resnet.load_trained, or --weights FOLDER)" if rundir.is_run_dir(path)
                else " (a SavedModel export is run with keras_resnet.deploy.open_artifact)"
                if os.path.exists(os.path.join(path, "saved_model.pb")) else "")
        raise ValueError(f"{path!r} is a folder, not a model file: expected a .keras file "
                         f"(or a Keras .h5 model){what}")
    if path.endswith(".keras") and not zipfile.is_zipfile(path):
        raise ValueError(f"{path!r} is not a readable Keras file: it is truncated or not a "
                         f".keras (zip) archive ({os.path.getsize(path):,} bytes). Copy or "
                         "save it again")
    with deep_recursion():
        return keras.saving.load_model(path, **kwargs)


# ------------------------------------------------------------ trained networks
# A run directory of ``keras-resnet train``: its format belongs to keras_resnet.rundir
# (these names stay for code that imported them from here).
RUN_CONFIG = rundir.CONFIG
RUN_MODEL = rundir.MODEL
RUN_PIXEL_MEAN = rundir.PIXEL_MEAN
RUN_CLASS_NAMES = rundir.CLASS_NAMES


@dataclasses.dataclass
class Trained:
    """A trained network and what its inputs and outputs mean.

    Attributes:
        model: the Keras model (input: ``image / 255 - pixel_mean``, float32).
        pixel_mean: ``(H, W, C)`` float32 mean image in [0, 1] units.
        family: ``"cifar"`` or ``"imagenet"`` (picks the evaluation transform).
        class_names: list of names by class index, or None if unknown.
        input_shape: ``(H, W, C)`` the network takes (pixels); None: the model's fixed
            input, else the mean image's shape (which is the input size: the image for
            the CIFAR family, the crop for the ImageNet family).
        resize: ImageNet family: the shorter side images are resized to before the
            centre crop (None: 256/224 of the crop, the paper's ratio); unused for the
            CIFAR family, whose images are resized to ``H x W``.
        dataset: what it was trained on (a run's ``--dataset``), or None.
        skip_bad_images: whether the run left unreadable files of its image folder out
            (``train --skip-bad-images``): commands that read the run's own folder
            again (export, evaluate) do the same.
    """

    model: object
    pixel_mean: np.ndarray
    family: str
    class_names: list | None
    input_shape: tuple | None = None
    resize: int | None = None
    dataset: str | None = None
    skip_bad_images: bool = False

    def __post_init__(self):
        if self.input_shape is None:
            fixed = tuple(self.model.inputs[0].shape[1:]) if getattr(
                self.model, "inputs", None) else (None,)
            self.input_shape = (fixed if None not in fixed and len(fixed) == 3
                                else tuple(int(d) for d in np.shape(self.pixel_mean)))
        self.input_shape = tuple(int(d) for d in self.input_shape)
        if self.family == "imagenet" and self.resize is None:
            self.resize = rundir.imagenet_resize(min(self.input_shape[:2]))

    @property
    def num_classes(self) -> int | None:
        """The classes the network scores (its output's last dimension), or None."""
        outputs = getattr(self.model, "outputs", None)
        last = outputs[0].shape[-1] if outputs else None
        return None if last is None else int(last)

    def check_classes(self, split, dataset) -> None:
        """Raises ValueError when ``split`` (of ``dataset``) is not labelled with the
        network's classes: another number of classes, other class names (both sides
        named; compared in label order, ignoring case, spaces and punctuation), or class
        folders that the split's labels leave out (a test folder's classes that its
        training tree lacks). An accuracy on such labels (or a verification against
        them) would mean nothing, or leave images out without a word."""
        from .data.sources import unread_classes_message

        k, m = self.num_classes, split.num_classes

        def named(names):
            return f" ({_first_names(names, 5)})" if names else ""

        own = (f", or leave --dataset out for the run's own ({self.dataset})"
               if self.dataset and dataset != self.dataset else "")
        unread = unread_classes_message(split) if hasattr(split, "unread_classes") else ""
        if unread:
            raise ValueError(
                f"the dataset {dataset} has {unread}. The network "
                f"scores {k if k is not None else len(self.class_names or ())} classes"
                f"{named(self.class_names)}: remove or move those folders, or give a "
                f"dataset with the network's classes{own}")
        if k is not None and m is not None and k != m:
            raise ValueError(
                f"the class counts differ: the network has {k} classes"
                f"{named(self.class_names)}, the dataset {dataset} has {m}"
                f"{named(split.class_names)}. Its labels are not this network's classes; "
                f"give a dataset with the same {k} classes{own}")
        mine, theirs = self.class_names, split.class_names
        if mine and theirs and len(mine) == len(theirs) and (
                [_class_key(c) for c in mine] != [_class_key(c) for c in theirs]):
            first = next(i for i, (a, b) in enumerate(zip(mine, theirs))
                         if _class_key(a) != _class_key(b))
            raise ValueError(
                f"the class names differ: the network's classes are "
                f"[{_first_names(mine, 10)}], the dataset {dataset}'s are "
                f"[{_first_names(theirs, 10)}] (in label order; label {first} is "
                f"{mine[first]!r} here, {theirs[first]!r} there). Its labels are not this "
                f"network's classes, so a score would mean nothing; give a dataset with "
                f"the network's classes (an image folder's class folders named as they "
                f"are){own}")

    def skips_bad_images_in(self, dataset) -> bool:
        """Whether reading ``dataset`` (None: the run's own) leaves its unreadable files
        out: for the run's own folder, as the run did (:attr:`skip_bad_images`); for any
        other source, no."""
        if dataset is None:
            return self.skip_bad_images
        same = self.dataset is not None and (dataset == self.dataset or (
            os.path.isdir(dataset) and os.path.abspath(dataset) == self.dataset))
        return self.skip_bad_images and same

    def fixed_size_model(self):
        """The model with its input fixed to :attr:`input_shape` (what a deployment
        file and a runtime take): the model itself when its input is fixed already,
        else the same layers (shared) on a fixed-size ``keras.Input`` (an
        ImageNet-family network trained here takes any size, for the multi-scale
        test)."""
        shape = tuple(self.model.inputs[0].shape[1:])
        if None not in shape:
            return self.model
        inputs = keras.Input(self.input_shape, name=self.model.inputs[0].name)
        # the same graph on the new input, every layer shared (not copied): outputs keep
        # their names ("predictions"), as a fixed-size run's do
        return keras.models.clone_model(self.model, input_tensors=inputs,
                                        clone_function=lambda layer: layer)

    @property
    def preprocessing(self) -> Preprocessing:
        """What an exported file records (and ``include_preprocessing`` puts in the
        model): raw 0-255 pixels -> ``x / 255 - pixel_mean``, at :attr:`input_shape`
        (ImageNet family: after the evaluation resize and centre crop)."""
        mean = np.asarray(self.pixel_mean, "float32")
        geometry = (dict(resize=self.resize, crop=self.input_shape[0]) if self.resize
                    else dict(input_size=self.input_shape[:2]))
        return Preprocessing(mode="pixel_mean", scale=1 / 255, mean=mean, std=None,
                             channel_order="gray" if mean.shape[-1] == 1 else "RGB",
                             **geometry)


def _first_names(names, limit: int) -> str:
    """``"a, b, c"``: the first ``limit`` names, then ``", ..."`` if there are more."""
    return ", ".join(map(str, names[:limit])) + (", ..." if len(names) > limit else "")


def _class_key(name) -> str:
    """A class name as :meth:`Trained.check_classes` compares it: one Unicode form
    (NFC), lower case, letters and digits only ("Ankle boot" == "ankle_boot")."""
    import unicodedata

    return "".join(ch for ch in unicodedata.normalize("NFC", str(name)).lower()
                   if ch.isalnum())


def family_of(model) -> str:
    """``"cifar"`` or ``"imagenet"`` for a Keras model: by its registry name where it
    has one, else by its input size (CIFAR nets take small fixed-size images, <= 64
    pixels; ImageNet nets 224 or any size)."""
    name = getattr(model, "name", "")
    if name in SPECS:
        return SPECS[name].family
    size = model.inputs[0].shape[1]
    return "imagenet" if size is None or size > 64 else "cifar"


def run_class_names(run_dir) -> list | None:
    """The class names a run stored, or None."""
    return rundir.class_names(run_dir)


def load_trained(source, *, model: str | None = None, pixel_mean=None) -> Trained:
    """A trained network from what ``keras-resnet evaluate/export/predict --weights``
    take.

    Args:
        source: a run directory of ``keras-resnet train`` (or its ``model.keras``,
            read as the run: class names, pixel mean and dataset included); a registry
            tag of weights trained with a per-pixel mean (``"resnet20.fashion_mnist"``);
            a ``.keras`` file; or a ``.weights.h5`` file (then ``model`` names its
            network).
        model: registry name of the network, for a ``.weights.h5`` file.
        pixel_mean: path of the mean image (``.npy``) or the array, for a file source
            (a run directory and a tag have their own).

    Raises:
        FileNotFoundError: ``source`` is neither a path nor a registry tag, or the run
            has not finished.
        ValueError: a file source without ``pixel_mean`` (or ``model``), or a tag of
            weights with another preprocessing (use :func:`load_pretrained`); an
            exported file (``.onnx``, ``.tflite``, an IR, a SavedModel folder), a folder
            that is no run, a truncated or foreign model file (each said so); a
            ``pixel_mean`` that is not ``(H, W, C)``, not finite, not in [0, 1] units,
            or of other channels or (for fixed-size networks, and weights registered at
            one size) another size than the network takes (each named).
    """
    entries, _ = registry.load_registry()
    source = os.fspath(source)
    if source in entries and not os.path.exists(source):
        entry = entries[source]
        if entry.preprocessing.get("mode") != "pixel_mean":
            raise ValueError(
                f"evaluate and export take registry tags of weights trained with a "
                f"per-pixel mean (such as the Fashion-MNIST ones); {source!r} uses "
                f"{entry.preprocessing.get('mode')!r} preprocessing. In Python: model, "
                f"preprocess = keras_resnet.load_pretrained({source!r}); then score it, or "
                f"export it with keras_resnet.export.onnx(model, path, "
                f"preprocessing={source!r}, verify_images=preprocess(images)).")
        spec = get_spec(entry.arch)
        net = build(spec, input_shape=tuple(entry.input_shape), weights=source)
        names = list(entry.class_names) if entry.class_names else None
        return Trained(net, registry.pixel_mean(entry), spec.family, names)
    if not os.path.exists(source):
        tags = [t for t, e in entries.items() if e.preprocessing.get("mode") == "pixel_mean"]
        raise FileNotFoundError(
            f"--weights {source!r} is neither a run directory, a file, nor a registry "
            f"tag (`keras-resnet weights` lists every tag; predict takes them all, "
            f"evaluate and export the ones trained here: "
            f"{', '.join(tags) or 'none registered'})")
    source = rundir.run_of_model_file(source) or source  # RUN/model.keras: the run
    exported = _exported_kind(source)
    if exported:
        raise ValueError(
            f"--weights {source!r} is {exported}, an exported file: it takes a run directory "
            f"of keras-resnet train, a .keras model, a .weights.h5 file or a registry tag. "
            f"Run an exported file with keras_resnet.deploy.open_artifact({source!r})")
    if os.path.isdir(source):
        run = rundir.read_run(source)
        mean = run.pixel_mean if pixel_mean is None else _mean_array(pixel_mean)
        inputs = run.inputs
        if pixel_mean is not None:
            _mean_fits(mean, pixel_mean, inputs.input_shape, f"the run {source!r}")
        return Trained(load_model(run.model_path), mean, inputs.family,
                       list(inputs.class_names) if inputs.class_names else None,
                       input_shape=inputs.input_shape, resize=inputs.resize,
                       dataset=inputs.dataset,
                       skip_bad_images=bool(run.config.get("skip_bad_images", False)))
    if source.endswith(".keras") and pixel_mean is None:
        net = load_model(source)
        if not normalises_itself(net):
            raise ValueError(
                "--pixel-mean FILE.npy is needed with this model file: it does not "
                "normalise its input itself (no Rescaling or Normalization layer before its "
                "first convolution). A run directory has its own mean")
        return _raw_pixels(net)
    checkpoint_of = rundir.run_of_checkpoint(source)
    if checkpoint_of is not None and (pixel_mean is None or not model):
        run, config = checkpoint_of
        raise ValueError(
            f"{source} is a checkpoint of the run {run}: load it with "
            f"{rundir.checkpoint_arguments(run, config, source)} (it prints class numbers: "
            f"the names are in {os.path.join(run, rundir.CLASS_NAMES)}); the run's own "
            f"model.keras, written when it finishes, reads with --weights {run}")
    if pixel_mean is None:
        raise ValueError("--pixel-mean FILE.npy is needed with a weights file "
                         "(a run directory has its own)")
    mean = _mean_array(pixel_mean)
    if source.endswith(".keras"):
        net = load_model(source)
        fixed = tuple(net.inputs[0].shape[1:])
        _mean_fits(mean, pixel_mean, fixed if None not in fixed else (None, None, fixed[-1]),
                   f"the model {source!r}")
        return Trained(net, mean, family_of(net), None)
    if not model:
        raise ValueError("--model is needed with a .weights.h5 file")
    spec = get_spec(model)
    known = _registered_shape(source)  # weights shipped or registered here: their size
    if known is not None:
        _mean_fits(mean, pixel_mean, known, f"the weights {source!r}")
    shape = tuple(mean.shape) if spec.family == "cifar" else (None, None, mean.shape[-1])
    # the file's own class count: the family's default (10, 1000) would load its
    # backbone under a randomly initialised classifier of another size
    classes = classifier_classes(source) if source.endswith(".weights.h5") else None
    try:
        net = build(spec, input_shape=shape, weights=source, classes=classes)
    except ValueError as first:
        other = 3 if mean.shape[-1] == 1 else 1  # do the weights take the other count?
        try:
            build(spec, input_shape=shape[:2] + (other,), weights=source, classes=classes)
        except Exception:
            raise first from None  # not a matter of channels
        raise ValueError(
            f"{_mean_name(pixel_mean)} has {mean.shape[-1]} channel(s) (shape {mean.shape}), "
            f"the weights {source!r} take {other}: give the mean image of the images they "
            f"were trained on ({'grey, (H, W, 1)' if other == 1 else 'RGB, (H, W, 3)'})"
        ) from None
    return Trained(net, mean, spec.family, None)


def _mean_name(pixel_mean) -> str:
    return (f"--pixel-mean {os.fspath(pixel_mean)!r}"
            if isinstance(pixel_mean, (str, os.PathLike)) else "the pixel mean")


def _mean_fits(mean, pixel_mean, shape, what: str) -> None:
    """A ValueError unless ``mean`` has the ``(H, W, C)`` that ``what`` takes (None: any
    size)."""
    if shape is None:
        return
    shape = tuple(shape)
    channels = shape[-1]
    if channels is not None and mean.shape[-1] != channels:
        raise ValueError(f"{_mean_name(pixel_mean)} has {mean.shape[-1]} channel(s) (shape "
                         f"{mean.shape}), {what} takes {channels}: give the mean image of "
                         "the images it was trained on")
    if None not in shape[:2] and tuple(mean.shape[:2]) != tuple(shape[:2]):
        raise ValueError(
            f"{_mean_name(pixel_mean)} is {mean.shape[0]}x{mean.shape[1]} (shape "
            f"{mean.shape}), {what} takes {shape[0]}x{shape[1]} images (shape {shape}): the "
            f"mean image must have the size the network was trained at; give that mean "
            f"(a {shape[0]}x{shape[1]} one)")


def _registered_shape(path) -> tuple | None:
    """The input shape recorded for a weights file of the registry (matched by its
    digest; weights trained here at a fixed size), or None."""
    from .io import file_digest

    entries, _ = registry.load_registry()
    digest = None
    for entry in entries.values():
        if (not entry.input_shape or entry.preprocessing.get("mode") != "pixel_mean"
                or get_spec(entry.arch).family != "cifar"):
            continue  # (ImageNet-family weights take any size)
        hashes = [f.get("hash", "") for f in (entry.files or {}).values()]
        if not any(h.startswith("sha256:") for h in hashes):
            continue
        if digest is None:
            digest = "sha256:" + file_digest(path)
        if digest in hashes:
            return tuple(entry.input_shape)
    return None


_NORMALISING = ("Rescaling", "Normalization")
_COMPUTING = ("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2D", "SeparableConv2D", "Dense")


def normalises_itself(model) -> bool:
    """Whether ``model`` takes raw 0-255 pixels: a ``Rescaling`` or ``Normalization``
    layer (this package's ``include_preprocessing``, or the one Keras' transfer-learning
    guide puts after its augmentation) comes before its first convolution or dense
    layer."""
    for layer in model._flatten_layers(include_self=False, recursive=True):
        kind = layer.__class__.__name__
        if kind in _NORMALISING:
            return True
        if kind in _COMPUTING:
            return False
    return False


def _raw_pixels(net) -> Trained:
    """A model that normalises 0-255 pixels itself, behind a ``Rescaling(255)``, so it
    takes ``x / 255 - 0`` as every network trained here does (pixel mean zero)."""
    shape = tuple(net.inputs[0].shape[1:])
    family = family_of(net)
    if None in shape[:2]:
        if family == "cifar":
            raise ValueError(f"model {net.name!r} takes images of any size: predict, "
                             "evaluate and export need a fixed-size CIFAR-style model")
        shape = (224, 224, shape[-1])  # the ImageNet family's size
    inputs = keras.Input(tuple(net.inputs[0].shape[1:]), name="scaled_images")
    outputs = net(keras.layers.Rescaling(255.0, name="to_0_255")(inputs))
    wrapped = keras.Model(inputs, outputs, name=net.name)
    return Trained(wrapped, np.zeros(shape, "float32"), family, None, input_shape=shape)


def _exported_kind(path: str) -> str | None:
    """What kind of deployment file ``path`` is (words for a message), or None."""
    if os.path.isdir(path):
        return ("a SavedModel folder" if os.path.exists(os.path.join(path, "saved_model.pb"))
                else None)
    kinds = {".onnx": "an ONNX file", ".tflite": "a TFLite file",
             ".xml": "an OpenVINO IR", ".bin": "an OpenVINO IR's weights"}
    return next((k for suffix, k in kinds.items() if path.lower().endswith(suffix)), None)


def _mean_array(value) -> np.ndarray:
    """``--pixel-mean``: a ``.npy`` file (said what is wrong with another path) or an
    array."""
    if not isinstance(value, (str, os.PathLike)):
        return _checked_mean(value)
    path = os.fspath(value)
    if os.path.isdir(path):
        raise ValueError(f"--pixel-mean {path!r} is a folder: expected a .npy file of the mean "
                         "image (a run directory holds its own, pixel_mean.npy)")
    if not os.path.exists(path):
        raise FileNotFoundError(f"--pixel-mean {path!r} not found (expected a .npy file of "
                                "the mean image)")
    import zipfile

    try:
        mean = np.load(path)
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise ValueError(f"--pixel-mean {path!r} is not a readable .npy file: {err}") from None
    if not isinstance(mean, np.ndarray):  # an .npz (or other zip) archive
        raise ValueError(f"--pixel-mean {path!r} is an archive, not a .npy file of one array")
    return _checked_mean(mean, f"--pixel-mean {path!r}")


def _checked_mean(mean, what: str = "the pixel mean") -> np.ndarray:
    """``mean`` as float32 ``(H, W, C)`` in [0, 1] units, or a ValueError naming
    ``what`` (the file) and what is wrong: another number of dimensions, a non-numeric,
    NaN or infinite value, or values outside [0, 1] (a 0-255 mean)."""
    try:
        mean = np.asarray(mean, "float32")
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} is not an array of numbers: {err}") from None
    if mean.ndim != 3 or mean.shape[-1] not in (1, 3):
        raise ValueError(
            f"{what} has shape {mean.shape}: the mean image must be (H, W, C) with C 1 "
            f"(grey) or 3 (RGB), e.g. (28, 28, 1)"
            + (f"; add the channel axis: mean[..., None] has {mean.shape + (1,)}"
               if mean.ndim == 2 else ""))
    if not np.isfinite(mean).all():
        bad = int(np.size(mean) - np.isfinite(mean).sum())
        raise ValueError(f"{what} holds {bad} NaN or infinite value(s) of {mean.size}: "
                         "a mean image is finite; compute it again")
    lo, hi = float(mean.min()), float(mean.max())
    if lo < 0 or hi > 1:
        hint = (" (a mean in 0-255 units: divide it by 255)" if hi > 1 and hi <= 255 and lo >= 0
                else "")
        raise ValueError(f"{what} has values in [{lo:g}, {hi:g}]: it must be in [0, 1] "
                         f"units, the mean of image / 255{hint}")
    return mean
