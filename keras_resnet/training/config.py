"""``TrainConfig``: every option of a training run as data, checked in one place.

Each field carries its default and, in its metadata, the help text and the
command-line spelling that ``keras-resnet train`` shows (:func:`cli_arguments`; the
parser is built from them, so a new field is a new option by adding it here once).
:meth:`TrainConfig.validate` runs on construction and checks everything that can be
checked before data load: the network, recipe, sizes, precision, holdout, fine-tuning.

Not fields: how a run executes without changing what it computes or records
(``verbose``, ``strategy``, ``plot``, ``fused_bn``: keyword arguments of
:func:`~keras_resnet.training.train`; a tf.distribute strategy is no data anyway).

This module imports neither Keras nor TensorFlow (the recipes are read without it),
so the ``keras-resnet`` parser is built without importing them.
"""

from __future__ import annotations

import argparse
import dataclasses
import numbers
import os
from typing import Iterator, NamedTuple

from ..arch.specs import ResNetSpec, cifar_spec, get_spec
from .recipes import RECIPES, Recipe, get_recipe

__all__ = ["TrainConfig", "Resolved", "cli_arguments", "default_recipe", "holdout_count",
           "DEFAULT_HOLDOUT", "PRECISIONS", "UNFROZEN_LR_FACTOR"]

DEFAULT_HOLDOUT = 0.1  # of the training data: the paper's CIFAR 45k/5k split
# precision: Keras' dtype policy for each (variables stay float32 in the mixed ones)
PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
PRECISION_OF_POLICY = {policy: name for name, policy in PRECISIONS.items()}
# Other spellings of the names (any letter case), as the Predictor takes bf16/fp32
PRECISION_ALIASES = {"bf16": "bfloat16", "fp16": "float16", "f16": "float16",
                     "half": "float16", "fp32": "float32", "f32": "float32"}


def precision_name(text):
    """``text`` as one of :data:`PRECISIONS`' names: an alias (:data:`PRECISION_ALIASES`)
    or a Keras policy name (``mixed_bfloat16``) in any letter case becomes its name;
    anything else comes back as it was (validation names it)."""
    if not isinstance(text, str):
        return text
    name = text.strip().lower()
    name = PRECISION_ALIASES.get(name, name)
    name = PRECISION_OF_POLICY.get(name, name)
    return name if name in PRECISIONS else text
# Quoted by train()'s warnings and --precision's help; measured by
# bench/train_throughput_vs_torch.py on a 2-core AVX2 AMD EPYC, docs/benchmarks.md
# "Training precision" (keep the two in step).
BF16_SLOWDOWN_MEASURED = "12x"
ONEDNN_SPEEDUP_MEASURED = "1.8x"
# Fine-tuning (freeze_backbone): the whole network (BatchNormalization excepted) trains
# after the frozen epochs at this fraction of the recipe's rate, the usual 10x lower
# rate of the freeze-then-unfreeze recipe (Keras' transfer-learning guide, and
# examples/transfer_learning.py).
UNFROZEN_LR_FACTOR = 0.1
SHORTCUTS = ("A", "B", "C")

DATASET_HELP = ("embedded | fashion_mnist | cifar10 | cifar100 | imagenet2012 | a directory "
                "(idx files, a CIFAR python folder, or image class folders: DIR/<class>/* "
                "or DIR/train/<class>/* beside DIR/test/)")


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return n


def example_count(text: str) -> int:
    """argparse type of the ``--max-*-examples`` options: a whole number >= 1 (0 would
    read as "all", which leaving the option out already says)."""
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of images >= 1 (leave the option out to use all), "
            f"got {text!r}") from None


def holdout_value(text: str) -> int | float:
    """argparse type of ``--holdout``: a count (``5000``), a fraction (``0.1``) or a
    percentage (``10%``)."""
    try:
        if text.endswith("%"):
            return float(text[:-1]) / 100
        return float(text) if "." in text else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a count (5000), a fraction (0.1) or a percentage (10%), got {text!r}")


def _option(default, help: str, **cli):
    """A field with its default, its help text and how the command line spells it
    (``flag``, ``type``, ``choices``, ``metavar``, ``nargs``, ``action``;
    ``cli_default`` where the command line's default differs)."""
    return dataclasses.field(default=default, metadata={"help": help, "cli": cli})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The configuration of one training run (``keras-resnet train``'s options).

    ``model``, ``dataset`` and ``recipe`` may be given by position, the rest by name.
    Sizes are in pixels, ``epochs`` and ``freeze_backbone`` in epochs, ``batch_size``
    in images (all replicas together). The help text of each field is in
    ``dataclasses.fields(TrainConfig)[i].metadata["help"]``.

    Raises:
        ValueError: on construction, any option that cannot work (see :meth:`validate`).
    """

    model: str | ResNetSpec = _option(
        "resnet20", "registry name, e.g. resnet20, plain56, resnet18 (see `keras-resnet "
        "models`)")
    dataset: str = _option("embedded", DATASET_HELP)
    recipe: str | None = _option(
        None, "training recipe; default: the network family's paper recipe "
        "(paper-cifar10 / paper-imagenet), fashion-mnist for a CIFAR-family net on "
        "Fashion-MNIST data", choices=tuple(RECIPES))
    _: dataclasses.KW_ONLY
    image_size: tuple[int, int] | None = _option(
        None, "input size in pixels. Default: CIFAR-family nets: the size the --weights "
        "were trained at, else the images' size when all share one, else 32 32; "
        "ImageNet-family nets: 224 224. Images of another size are resized (ImageNet "
        "family: random crops of this size, as the paper's)",
        type=positive_int, nargs=2, metavar=("H", "W"))
    weights: str | None = _option(
        None, "start from these weights (fine-tuning): a registry tag such as "
        "resnet20.fashion_mnist, or a .weights.h5 / .h5 / .pth file; a classifier for "
        "another number of classes starts afresh", metavar="TAG_OR_FILE")
    freeze_backbone: int = _option(
        0, "with --weights: train only the new classifier for this many epochs, then "
        f"every layer but BatchNormalization at {UNFROZEN_LR_FACTOR:g}x the recipe's "
        "learning rate (freeze, then unfreeze)", type=int, metavar="EPOCHS")
    epochs: int | None = _option(None, "default: the recipe's", type=int)
    batch_size: int | None = _option(
        None, "global batch (all replicas); default: the recipe's", type=int)
    out: str = _option("runs/train", "run directory")
    seed: int = _option(0, "random seed (order, augmentation, init)", type=int)
    overwrite: bool = _option(
        False, "delete a run with another configuration in --out and start afresh",
        action="store_true")
    skip_bad_images: bool = _option(
        False, "leave unreadable files of an image folder out (counted) instead of "
        "stopping with their names", action="store_true")
    holdout: int | float | None = _option(
        None, "training images kept apart as the validation set (best checkpoint, "
        "plateau schedule): a count (5000: the paper's 45k/5k CIFAR split) or a "
        "fraction (0.1, 10%); default 10% (an image folder with train/, val/ and test/: "
        "its val/); 0 trains on everything and validates on the test set. The test set "
        "always gives the final score", type=holdout_value)
    max_train_examples: int | None = _option(
        None, "train on at most this many images (quick runs), a random choice that "
        "--seed fixes (every class in about its share); default: all",
        type=example_count, metavar="N")
    max_test_examples: int | None = _option(
        None, "evaluate on at most this many test images (and holdout images: the "
        "holdout is taken from the training data first, then cut to this many), a "
        "random choice that --seed fixes (every class in about its share); default: all",
        type=example_count, metavar="N")
    data_dir: str | None = _option(
        None, "tensorflow-datasets data_dir; default: TFDS' own (~/tensorflow_datasets)")
    manual_dir: str | None = _option(
        None, "folder with the dataset's original files (TFDS manual_dir)")
    scale_lr: bool = _option(
        True, "keep the recipe's learning rate for another global batch size (default: "
        "scaled linearly, lr * batch / recipe batch)",
        flag="--no-lr-scaling", action="store_false")
    shortcut: str | None = _option(
        None, "shortcut option; default: the paper's (B ImageNet, A CIFAR)",
        choices=SHORTCUTS)
    width_multiplier: float | None = _option(
        None, "CIFAR-family nets: widen every stage (2: 32/64/128 filters); default: 1",
        type=float)
    precision: str | None = _option(
        None, "compute precision: Keras' float32, mixed_bfloat16 or mixed_float16 policy "
        "(variables and the classifier's output stay float32; float16 adds loss "
        "scaling). bfloat16 pays off only on accelerators and CPUs with AVX512_BF16/AMX: "
        f"elsewhere it is emulated, ~{BF16_SLOWDOWN_MEASURED} slower than float32. Any "
        "letter case; bf16, fp16 and fp32 name them too",
        choices=tuple(PRECISIONS), type=precision_name, cli_default="float32")

    def __post_init__(self):
        # Normal forms (the dataclass is frozen: object.__setattr__). A folder is
        # recorded absolute, so that evaluate/predict/export of the run find its
        # images from any working directory.
        normal = {}
        if isinstance(self.dataset, (str, os.PathLike)) and os.path.isdir(self.dataset):
            normal["dataset"] = os.path.abspath(self.dataset)
        if isinstance(self.precision, str):  # an alias or a policy name names its precision
            normal["precision"] = precision_name(self.precision)
        if self.image_size is not None and not isinstance(self.image_size, (str, bytes)):
            try:
                normal["image_size"] = tuple(self.image_size)
            except TypeError:
                pass  # validate() names it
        if self.freeze_backbone is None:
            normal["freeze_backbone"] = 0
        for name, value in normal.items():
            object.__setattr__(self, name, value)
        self.validate()

    @classmethod
    def from_mapping(cls, values) -> TrainConfig:
        """The config of the fields named in ``values`` (a dict, or an argparse
        namespace); other keys are ignored."""
        if isinstance(values, argparse.Namespace):
            values = vars(values)
        return cls(**{f.name: values[f.name] for f in fields() if f.name in values})

    def validate(self) -> None:
        """Check every option that can be checked before the data load.

        Raises:
            ValueError: unknown model, recipe, shortcut or precision; ``epochs`` or
                ``batch_size`` below 1; ``freeze_backbone`` outside 0..epochs or
                without ``weights``; a bad ``holdout``, ``image_size`` (not 2 whole
                numbers >= 1; not square for an ImageNet-family net),
                ``max_*_examples`` (negative) or ``width_multiplier`` (not > 0, or
                for an ImageNet-family net).
        """
        resolved = self.resolve()  # unknown model or recipe, width_multiplier
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 1):
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        for name in ("max_train_examples", "max_test_examples"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 0):
                raise ValueError(f"{name} must be a whole number >= 0 (0 or None: all), "
                                 f"got {value!r}")
        epochs, freeze = resolved.epochs, self.freeze_backbone
        if _is_int(freeze) and freeze > 0 and not self.weights:  # first: whatever the epochs
            raise ValueError(
                f"--freeze-backbone {freeze} (freeze_backbone) needs pretrained weights: it "
                "keeps a backbone that has already learnt fixed while a new classifier "
                "trains, and without --weights there is none. Give them with --weights "
                "TAG_OR_FILE (weights= in Python; e.g. --weights resnet20.fashion_mnist), or "
                "leave --freeze-backbone out to train every layer from scratch")
        if not _is_int(freeze) or not 0 <= freeze <= epochs:
            raise ValueError(f"freeze_backbone must be between 0 and the {epochs} epochs, "
                             f"got {freeze!r}")
        if self.shortcut is not None and self.shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {SHORTCUTS}, got {self.shortcut!r}")
        if self.precision is not None and (not isinstance(self.precision, str)
                                           or self.precision not in PRECISIONS):
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got "
                             f"{self.precision!r}")
        check_holdout(self.holdout)
        check_image_size(self.image_size, resolved.spec.family)

    def resolve(self) -> Resolved:
        """The network, the recipe, epochs and global batch this config trains with
        (the defaults filled in: :func:`default_recipe`, the recipe's epochs and
        batch).

        Raises:
            ValueError: an unknown model or recipe; ``width_multiplier`` not > 0 or
                given for an ImageNet-family network.
        """
        spec = get_spec(self.model)
        if self.width_multiplier is not None:
            if spec.family != "cifar":
                raise ValueError("width_multiplier applies to CIFAR-family networks")
            w = self.width_multiplier
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not w > 0:
                raise ValueError(f"width_multiplier must be a number > 0, got {w!r}")
            spec = cifar_spec(spec.depth, residual=spec.residual, width_multiplier=w)
        recipe = get_recipe(self.recipe if self.recipe is not None
                            else default_recipe(spec.family, self.dataset))
        return Resolved(spec, recipe,
                        recipe.epochs if self.epochs is None else self.epochs,
                        recipe.batch_size if self.batch_size is None else self.batch_size)


class Resolved(NamedTuple):
    """What :meth:`TrainConfig.resolve` fills in."""

    spec: ResNetSpec
    recipe: Recipe
    epochs: int
    batch_size: int


def fields() -> tuple[dataclasses.Field, ...]:
    """TrainConfig's fields (the keyword-only marker left out)."""
    return dataclasses.fields(TrainConfig)


def cli_arguments() -> Iterator[tuple[str, dict]]:
    """``(flag, add_argument keyword arguments)`` of each field, in field order: the
    flag is ``--field-name`` unless the metadata names another, ``dest`` is the field
    name, the help text is argparse-escaped (``%`` as ``%%``)."""
    for f in fields():
        cli = dict(f.metadata["cli"])
        flag = cli.pop("flag", "--" + f.name.replace("_", "-"))
        default = cli.pop("cli_default", f.default)
        yield flag, dict(cli, dest=f.name, default=default,
                         help=f.metadata["help"].replace("%", "%%"))


def default_recipe(family: str, dataset: str) -> str:
    """The recipe ``train`` uses when none is given: the network family's paper recipe
    (``paper-cifar10`` or ``paper-imagenet``), except ``fashion-mnist`` (the CIFAR
    recipe shortened for a CPU) for a CIFAR-family net on Fashion-MNIST data."""
    if family == "imagenet":
        return "paper-imagenet"
    fashion = dataset in ("embedded", "fashion_mnist") or "fashion" in str(dataset).lower()
    return "fashion-mnist" if fashion else "paper-cifar10"


def check_holdout(holdout) -> None:
    """Raises ValueError unless ``holdout`` is None, a count >= 0 or a fraction < 1."""
    if holdout is None:
        return
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or holdout < 0:
        raise ValueError(f"holdout must be a count >= 0 or a fraction in (0, 1), got "
                         f"{holdout!r}")
    if holdout >= 1 and holdout != int(holdout):
        raise ValueError(f"holdout must be a whole count or a fraction below 1, got {holdout!r}")


def holdout_count(holdout, train_size: int) -> int:
    """How many training examples to keep apart for validation.

    Args:
        holdout: None (the default, 10%), a fraction ``0 < f < 1``, or a count (0 trains
            on everything and validates on the test set).
        train_size: examples in the training split.

    Raises:
        ValueError: a negative value, or one that leaves nothing to train on.
    """
    check_holdout(holdout)
    if holdout is None:
        holdout = DEFAULT_HOLDOUT
    k = round(holdout * train_size) if isinstance(holdout, float) and holdout < 1 else holdout
    k = int(k)
    if holdout and not 0 < k < train_size:
        raise ValueError(f"holdout={holdout!r} keeps {k} of {train_size} training examples "
                         "apart; it must leave at least one on each side (--holdout 0 "
                         "trains on everything)")
    return k


def check_image_size(image_size, family: str) -> None:
    """Raises ValueError unless ``image_size`` is None or ``(H, W)``, two whole numbers
    >= 1, square for the ImageNet family (``"imagenet"``; paper section 3.4)."""
    if image_size is None:
        return
    size = tuple(image_size) if isinstance(image_size, (tuple, list)) else (image_size,)
    if len(size) != 2 or any(not _is_int(d) or d < 1 for d in size):
        raise ValueError(f"image_size must be two whole numbers (H, W), got {image_size!r}")
    if family == "imagenet" and size[0] != size[1]:
        raise ValueError(f"ImageNet-family networks train on square crops (section 3.4); "
                         f"give --image-size N N, got {size[0]} {size[1]}")


def _is_int(value) -> bool:
    """A whole number (NumPy's too), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
