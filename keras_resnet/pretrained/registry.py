"""The weights registry: ``weights/registry.json``, shipped as ``keras_resnet.weights``.

Each entry is keyed ``<arch>.<tag>`` (``resnet50.imagenet``, ``resnet50.tv_in1k``) and
says where the file comes from, its publisher's hash, its format, the preprocessing
the weights expect, the input/crop size, the number of classes, the reported accuracy
with its source, and the licence.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from importlib import resources

from ..arch.specs import normalize_name


@dataclass(frozen=True)
class WeightsEntry:
    tag: str
    arch: str
    stride_placement: str
    # "keras-applications-h5" | "torchvision-state-dict" | "timm-safetensors" |
    # "keras-weights-h5"
    format: str
    # "top" / "notop" -> {"file_name", "urls", "hash"[, "size"][, "package": true]
    # [, "hf": {"repo_id", "revision", "filename"}: a Hugging Face hub file]}
    files: dict
    preprocessing: dict
    resize: int | None
    crop: int | None
    classes: int
    metrics: dict
    origin: str
    license: str
    # Weights trained in this repository: the input they were trained at (the network
    # family's size otherwise), their class names, and how to reproduce them.
    input_shape: tuple | None = None
    class_names: tuple | None = None
    command: str | None = None
    # The eval resize's interpolation (the publisher's: timm's a1/ra4 weights bicubic,
    # torchvision's and keras.applications' bilinear).
    interpolation: str = "bilinear"
    # How the weights were made: the publisher's recipe (a URL) and training input size
    # (pixels; the eval size is ``crop``).
    recipe: str | None = None
    train_size: int | None = None

    def file_for(self, include_top: bool) -> dict:
        """The file record to fetch: the no-top file when one exists and the top is
        not wanted, else the full file (whose classifier is then ignored)."""
        if not include_top and "notop" in self.files:
            return self.files["notop"]
        return self.files["top"]


@functools.lru_cache(maxsize=1)
def load_registry() -> tuple[dict, dict]:
    """``(entries by tag, default tags)``; read once per process."""
    text = (resources.files("keras_resnet.weights") / "registry.json").read_text()
    raw = json.loads(text)
    defaults = raw.get("_defaults", {})
    entries = {}
    for tag, fields in raw.items():
        if tag.startswith("_"):
            continue
        fields = dict(fields)
        for key in ("input_shape", "class_names"):
            if fields.get(key) is not None:
                fields[key] = tuple(fields[key])
        entries[tag] = WeightsEntry(tag=tag, **fields)
    return entries, defaults


def not_registered() -> dict:
    """Published weights left out of the registry, each with the reason (for example
    a hub file whose full SHA-256 could not be found: we register no file we cannot
    verify)."""
    text = (resources.files("keras_resnet.weights") / "registry.json").read_text()
    return dict(json.loads(text).get("_not_registered", {}))


def package_file(file_name: str) -> str:
    """Path of a weights file shipped inside the package (``keras_resnet.weights``)."""
    return str(resources.files("keras_resnet.weights") / file_name)


def pixel_mean(entry: WeightsEntry):
    """The per-pixel mean image a ``pixel_mean`` entry stores, as float32 (H, W, C)."""
    import numpy as np

    return np.load(package_file(entry.preprocessing["mean_file"])).astype("float32")


def list_weights(arch: str | None = None) -> list[str]:
    """Registry tags, optionally only those for one architecture."""
    entries, _ = load_registry()
    key = normalize_name(arch) if arch else None
    return [tag for tag, e in entries.items() if key is None or e.arch == key]


def resolve(arch: str, name: str) -> WeightsEntry:
    """Find the entry that ``weights=name`` means for architecture ``arch``.

    ``name`` may be a full tag (``"resnet50.tv_in1k"``), a short tag (``"tv_in1k"``)
    or an alias with a default per architecture (``"imagenet"``).
    """
    entries, defaults = load_registry()
    arch = normalize_name(arch)
    tag = defaults.get(name, {}).get(arch) or (name if "." in name else f"{arch}.{name}")
    entry = entries.get(tag)
    if entry is None or entry.arch != arch:
        available = list_weights(arch)
        aliases = sorted(a for a, per_arch in defaults.items() if arch in per_arch)
        hint = (f"available for {arch}: {', '.join(aliases + available)}" if available
                else f"no pretrained weights are registered for {arch}")
        raise ValueError(f"unknown weights {name!r} for {arch}; {hint}. Pass weights=None, "
                         "a registry tag, or the path to a weights file.")
    return entry


# What a weights file is called by its suffix (a name with one of these, or with a
# directory separator, is a path, never a tag).
WEIGHTS_FILE_SUFFIXES = (".weights.h5", ".h5", ".hdf5", ".keras", ".safetensors", ".pth", ".pt")


def resolve_weights_arg(weights, arch: str | None = None):
    """The rule behind :func:`keras_resnet.pretrained.weights.resolve_weights`:
    ``None``, the path of an existing file (``str``), or the :class:`WeightsEntry` of a
    tag (a ``Weights`` is its full tag).

    Raises:
        ValueError: not a str, path or Weights; a path (a name with a directory
            separator or a weights file suffix) that does not exist; an unknown tag
            (the message lists what is registered); a full tag of another architecture
            than ``arch``.
    """
    if weights is None:
        return None
    entry = getattr(weights, "entry", None)  # a keras_resnet.Weights
    if isinstance(entry, WeightsEntry):
        if arch is not None and entry.arch != normalize_name(arch):
            raise ValueError(f"weights {str(weights)!r} are for {entry.arch}, not "
                             f"{normalize_name(arch)}")
        return entry
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"weights must be None, a registry tag such as 'imagenet', a "
                         f"keras_resnet.Weights, or a file path; got {weights!r}")
    path = os.fspath(weights)
    if os.path.exists(path):
        return path
    if os.sep in path or path.endswith(WEIGHTS_FILE_SUFFIXES):
        raise ValueError(f"weights file not found: {path!r}")
    return resolve_tag(path, arch)


def resolve_tag(name: str, arch: str | None = None) -> WeightsEntry:
    """The entry of a full tag (``"resnet50.a1_in1k"``), or with ``arch`` of a short
    tag or alias (``"imagenet"``): :func:`resolve` when ``arch`` is given.

    Raises:
        ValueError: an unknown tag (the message lists what is registered).
    """
    if arch is not None:
        return resolve(arch, name)
    entries, _ = load_registry()
    if name in entries:
        return entries[name]
    arch, _, short = str(name).partition(".")
    if not short:
        raise ValueError(f"unknown weights {name!r}: give a full tag such as "
                         f"'resnet50.a1_in1k' (see keras_resnet.list_weights()), or "
                         f"arch= with a short one")
    return resolve(arch, short)
