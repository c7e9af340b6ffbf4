"""``Weights``: one registry entry as an object, what ``get_weights`` and
``list_weights`` return.

A :class:`Weights` *is* its full tag (a ``str`` subclass, like timm's model names), so
it goes wherever a tag goes (``build(..., weights=w)``, ``load_pretrained(w)``,
``"resnet50.a1_in1k" in list_weights()``), and it carries what the registry knows about
the file: :attr:`~Weights.meta` (published accuracy and its source, parameters, GMACs,
licence, origin, file), :attr:`~Weights.class_names`, and :meth:`~Weights.transforms`,
the publisher's evaluation transform as a function of raw images.
"""

from __future__ import annotations

import os


from ..arch.complexity import spec_complexity
from ..arch.specs import get_spec, normalize_name
from ..preprocessing import Preprocessing
from .classes import imagenet_classes
from .registry import WeightsEntry, load_registry, resolve_tag, resolve_weights_arg
from .transforms import preprocessing_of


class Weights(str):
    """Registered pretrained weights: the full tag (``"resnet50.a1_in1k"``) plus
    ``entry`` (the registry's :class:`~keras_resnet.pretrained.registry.WeightsEntry`)."""

    entry: WeightsEntry

    def __new__(cls, entry: WeightsEntry):
        self = super().__new__(cls, entry.tag)
        self.entry = entry
        return self

    def __getnewargs__(self):  # copy and pickle rebuild it from its entry
        return (self.entry,)

    def __repr__(self):
        return f"Weights({str(self)!r})"

    @property
    def arch(self) -> str:
        """The registry network the weights are for, e.g. ``"resnet50d"``."""
        return self.entry.arch

    @property
    def meta(self) -> dict:
        """What the registry records, plus counts made here: ``top1`` (and ``top5``,
        ``top1_at_288`` where published) with ``metrics_source`` and ``protocol``;
        ``params`` and ``gmacs`` (multiply-adds, billions) of the network at
        ``input_shape``; ``license``, ``origin``, ``format``, ``file_name``,
        ``file_size`` (bytes, or None), ``hash``; the eval transform (``resize``,
        ``crop``, ``interpolation``, ``preprocessing``); ``recipe`` (URL or None),
        ``train_size`` and ``test_size`` (pixels)."""
        e = self.entry
        spec = get_spec(e.arch).replace(stride_placement=e.stride_placement)
        shape = tuple(e.input_shape) if e.input_shape else (e.crop, e.crop, 3)
        counts = spec_complexity(spec, input_shape=shape, classes=e.classes)
        record = e.files["top"]
        meta = {k: v for k, v in e.metrics.items() if k not in ("source",)}
        meta.update(metrics_source=e.metrics.get("source"), params=counts.params,
                    gmacs=counts.macs / 1e9, input_shape=shape, classes=e.classes,
                    license=e.license, origin=e.origin, format=e.format,
                    file_name=record["file_name"], file_size=record.get("size"),
                    hash=record["hash"], resize=e.resize, crop=e.crop,
                    interpolation=e.interpolation, preprocessing=dict(e.preprocessing),
                    stride_placement=e.stride_placement, recipe=e.recipe,
                    train_size=e.train_size or shape[0], test_size=shape[0])
        return meta

    @property
    def class_names(self) -> tuple[str, ...]:
        """The classes in output order: the entry's own, or for 1000-class ImageNet
        weights the readable names of ``keras_resnet.imagenet_classes``."""
        if self.entry.class_names:
            return tuple(self.entry.class_names)
        if self.entry.classes == 1000:
            return tuple(name for _, name in imagenet_classes("readable"))
        raise ValueError(f"the registry records no class names for {self}")

    @property
    def preprocessing(self) -> Preprocessing:
        """What the weights expect: their normalisation, and their publisher's
        evaluation resize, crop and interpolation (or, for weights trained here, the
        fixed input size)."""
        return preprocessing_of(self.entry)

    def transforms(self, normalize: bool = True):
        """The publisher's evaluation transform as a function: raw images in, the
        network's input batch out (:meth:`keras_resnet.Preprocessing.eval_transform`).

        The function takes uint8 (or 0-255 float) images as stored: ``(H, W, C)`` or
        ``(N, H, W, C)`` of any size (grayscale ``(H, W)`` too), and returns float32
        ``(N, crop, crop, 3)``: resized (shorter side ``resize``, the entry's
        interpolation, through Pillow as torchvision and timm), centre-cropped, and,
        with ``normalize`` (default), normalised as the weights expect (``False``:
        for a model built with ``include_preprocessing=True``). Weights trained here
        at a fixed size (``input_shape``) take images of that size, only normalised.

        Raises:
            ValueError: images of another size for fixed-size weights (the function).
        """
        return self.preprocessing.eval_transform(normalize)


def get_weights(name: str, arch: str | None = None) -> Weights:
    """The :class:`Weights` of a full tag (``"resnet50.a1_in1k"``), or of a short tag
    or alias for ``arch`` (``get_weights("imagenet", arch="resnet50")``).

    Raises:
        ValueError: an unknown tag (the message lists what is registered).
    """
    if isinstance(name, Weights):
        return name
    return Weights(resolve_tag(name, arch))


def resolve_weights(weights, arch: str | None = None):
    """The one rule for what a ``weights=`` value means, used by ``build``, the
    preprocessing, training, export and predict.

    Returns ``None`` (no weights); the path (``str``) of an existing file; or the
    :class:`Weights` of a registry tag: a :class:`Weights` itself, a full tag
    (``"resnet50.a1_in1k"``), or a short tag or alias for ``arch`` (``"a1_in1k"``,
    ``"imagenet"``). An existing file of the same name as a tag wins (as in
    keras.applications, where a path is a path).

    Raises:
        ValueError: see :func:`keras_resnet.pretrained.registry.resolve_weights_arg`.
    """
    found = resolve_weights_arg(weights, arch)
    if isinstance(weights, Weights):
        return weights  # checked above: the same object back
    return Weights(found) if isinstance(found, WeightsEntry) else found


def registered(weights) -> Weights | None:
    """The :class:`Weights` of a full registry tag (or a :class:`Weights`) that is not
    also an existing path; None for anything else (run directories, files)."""
    if isinstance(weights, Weights):
        return weights
    if isinstance(weights, str) and not os.path.exists(weights) \
            and weights in load_registry()[0]:
        return get_weights(weights)
    return None


def list_weights(arch: str | None = None) -> list[Weights]:
    """Every registered :class:`Weights` (each equal to its tag string), optionally
    of one network, in registry order."""
    entries, _ = load_registry()
    key = normalize_name(arch) if arch else None
    return [Weights(e) for e in entries.values() if key is None or e.arch == key]
