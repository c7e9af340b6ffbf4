"""Where images come from. Every source gives the same thing, a :class:`Split`:
uint8 images as stored (H, W, C) with integer labels, as a tf.data pipeline and, for
datasets small enough, as numpy arrays too.

Sources (the ``dataset`` argument of :func:`load_split` and of ``keras-resnet train``):

* ``"embedded"``: the Fashion-MNIST sample shipped in the package (no download).
* tensorflow-datasets names: ``"fashion_mnist"``, ``"cifar10"``, ``"cifar100"``,
  ``"imagenet2012"`` (ImageNet needs its tar files in ``manual_dir``, as TFDS
  requires). Offline, ``fashion_mnist`` is prepared from the idx files of Debian's
  ``dataset-fashion-mnist`` through TFDS' own ``manual_dir`` mechanism.
* A directory, recognised by its contents: the four (Fashion-)MNIST idx files; a
  CIFAR-10/100 "python version" folder (``data_batch_1`` ... / ``train`` + ``test``
  pickles); or an image-folder tree (``train/<class>/*.jpg`` and ``val/`` or
  ``test/`` beside it, and ``val/`` for validation; or one level of class folders),
  which is also how an extracted ImageNet is laid out.

(Over 400 lines because every source is here beside :class:`Split`, which they all
return, and :func:`load_split`, which recognises them; decoding and checking image
files lives in :mod:`.images`, the pipelines in :mod:`.augment`.)
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import pickle
import struct
import unicodedata
import warnings

import numpy as np

from ..io import write_file

from .embedded import FASHION_MNIST_CLASSES, load_embedded, load_idx_dir
from .augment import to_channels
from .images import (IMAGE_EXTENSIONS, IMAGE_FORMATS, bad_images_message, decode, read_image,
                     resize_to, scan_images)

TFDS_NAMES = ("fashion_mnist", "cifar10", "cifar100", "imagenet2012")
# An image-folder tree's validation folder beside train/, by the names torchvision's
# ImageNet (val), Roboflow's exports (valid) and Keras' examples (validation) use
VALIDATION_FOLDERS = ("val", "valid", "validation")
# The folders beside train/ each split reads, the first that exists: without test/, a
# validation folder is the test split; without a validation folder, test/ validates.
SPLIT_FOLDERS = {"train": ("train",), "test": ("test",) + VALIDATION_FOLDERS,
                 "validation": VALIDATION_FOLDERS + ("test",)}


def _split_folder(path, split) -> str | None:
    """The folder of ``path`` (a tree with ``train/``) that ``split`` reads, or None."""
    return next((d for d in SPLIT_FOLDERS[split] if os.path.isdir(os.path.join(path, d))),
                None)


DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
# Upstream gzip headers of the Fashion-MNIST files (see fashion_mnist_manual_dir).
_FASHION_MNIST_MTIMES = {"train": 1504176606, "t10k": 1504176627}


@dataclasses.dataclass
class Split:
    """One split of a dataset.

    ``dataset`` yields ``(image, label)``: uint8 ``(H, W, C)`` and int64. ``arrays``
    is ``(images, labels)`` as numpy when the split is held in memory, else ``None``.
    ``image_shape`` has ``None`` for sizes that vary (image folders, ImageNet).
    """

    name: str
    size: int
    num_classes: int
    image_shape: tuple
    class_names: tuple | None
    arrays: tuple | None = None
    files: tuple | None = None  # (paths, labels) for image-folder sources
    _dataset_fn: object = None
    # image folders: the distinct (H, W) of the files as stored, and how many
    # unreadable files were left out (skip_bad_images)
    image_sizes: frozenset | None = None
    skipped: int = 0
    _size: tuple | None = None  # folders: every image resized to this (H, W)
    _native: tuple | None = None  # folders: the one (H, W) all files have, if they do
    # folders with a train/ tree: ((class, image files), ...) of this split's class
    # folders that the training tree lacks (not read: they have no label number)
    unread_classes: tuple = ()
    _colour: bool | None = None  # folders: whether any file holds colour (their scan)

    @property
    def dataset(self):
        import tensorflow as tf

        if self.arrays is not None:
            return tf.data.Dataset.from_tensor_slices(self.arrays)
        return self._dataset_fn()

    def has_colour(self) -> bool:
        """Whether any image holds colour: RGB channels that differ somewhere (False
        for 1-channel images). An image folder answers from the scan that decoded its
        files (:func:`~keras_resnet.data.images.scan_images`; a part of a folder, for
        the whole folder), arrays are looked at, a streamed split of 3 channels is
        taken to hold colour."""
        if self.image_shape[-1] != 3:
            return False
        if self._colour is not None:
            return self._colour
        if self.arrays is not None:
            x = self.arrays[0]
            return bool((x[..., 0] != x[..., 1]).any() or (x[..., 1] != x[..., 2]).any())
        return True

    def take(self, n: int) -> "Split":
        """The first ``n`` examples (tests, quick runs)."""
        if self.arrays is not None:
            x, y = self.arrays
            return dataclasses.replace(self, size=min(n, self.size), arrays=(x[:n], y[:n]))
        if self.files is not None:
            paths, labels = self.files
            return _refile(self, paths[:n], labels[:n])
        fn = self._dataset_fn
        return dataclasses.replace(self, size=min(n, self.size),
                                   _dataset_fn=lambda: fn().take(n))

    def sample(self, n: int, seed: int = 0) -> "Split":
        """``n`` examples chosen at random without replacement, kept in their stored
        order: the same ones for the same ``seed`` and split (a resumed or repeated
        run scores the same images); the whole split when ``n`` >= its size.

        An image folder lists its files class by class, so its first ``n`` would hold a
        few classes only; a random choice holds every class in about its share. Arrays
        and folders pick indices (numpy, nothing decoded). A split streamed from
        tensorflow-datasets (too large to hold in memory) keeps its first ``n``: TFDS
        writes its records in shuffled order, so they are already a random choice, and
        shuffling that stream would hold up to the whole split in memory.
        """
        if n >= self.size:
            return self
        if self.arrays is None and self.files is None:
            return self.take(n)
        chosen = np.sort(np.random.default_rng(seed).choice(self.size, n, replace=False))
        if self.arrays is not None:
            x, y = self.arrays
            return dataclasses.replace(self, size=n, arrays=(x[chosen], y[chosen]))
        paths, labels = self.files
        return _refile(self, tuple(paths[i] for i in chosen), tuple(labels[i] for i in chosen))

    def resized(self, size) -> "Split":
        """Every image resized to ``size`` ``(H, W)`` (bilinear, antialiased, rounded
        back to uint8); images already that size are passed through untouched. The
        CIFAR-family networks take one fixed size; this is how a folder of mixed sizes,
        or images of another size than the network's, reach them."""
        size = tuple(int(d) for d in size)
        if tuple(self.image_shape[:2]) == size:
            return self
        if self.files is not None:
            return _refile(self, *self.files, size=size)
        source = self

        def make():
            import tensorflow as tf

            return source.dataset.map(lambda x, y: (resize_to(x, size), y),
                                      num_parallel_calls=tf.data.AUTOTUNE)

        return dataclasses.replace(self, arrays=None, image_shape=(*size, self.image_shape[-1]),
                                   _dataset_fn=make)


def _array_split(name, x, y, num_classes, class_names=None) -> Split:
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]  # grayscale (N, H, W) -> (N, H, W, 1)
    if x.dtype != np.uint8 or x.ndim != 4:
        raise ValueError(f"{name}: expected uint8 images (N, H, W[, C]), got {x.dtype} {x.shape}")
    y = np.asarray(y).astype("int64").reshape(-1)
    return Split(name, len(x), num_classes, tuple(x.shape[1:]),
                 tuple(class_names) if class_names else None, arrays=(x, y))


# ------------------------------------------------------------------- dispatch
def load_split(dataset: str, split: str = "train", *, data_dir: str | None = None,
               manual_dir: str | None = None, holdout: int = 0,
               skip_bad_images: bool = False) -> Split:
    """Load ``split`` (``"train"``, ``"test"``; ``"validation"`` for ImageNet) of a
    source. ``holdout=k`` keeps ``k`` training examples apart: ``split="train"`` then
    gives the rest and ``split="holdout"`` gives those ``k`` (the paper's 45k/5k CIFAR
    split is ``holdout=5000``). They are the last ``k`` of an array or TFDS source
    (stored in random order) and ``k`` evenly spaced files of an image folder (listed
    class by class, so every class is held out in proportion).

    Image folders are checked file by file first (:func:`image_folder_split`): an
    unreadable file raises one ValueError naming it, or is left out with a note when
    ``skip_bad_images``."""
    base = "train" if split == "holdout" else split
    if holdout and base != "train":
        raise ValueError("holdout only applies to split='train' or 'holdout'")
    if split == "holdout" and not holdout:
        raise ValueError("split='holdout' needs holdout=k > 0")
    if dataset == "embedded":
        (xa, ya), (xb, yb) = load_embedded()
        s = _array_split("embedded", *_pick(base, (xa, ya), (xb, yb), dataset), 10,
                         FASHION_MNIST_CLASSES)
    elif dataset in TFDS_NAMES:
        s = _tfds_split(dataset, base, data_dir, manual_dir)
    elif os.path.isdir(os.path.expanduser(dataset)):
        s = _directory_split(os.path.expanduser(dataset), base, skip_bad_images)
    else:
        raise ValueError(
            f"unknown dataset {dataset!r}: use 'embedded', a tensorflow-datasets name "
            f"({', '.join(TFDS_NAMES)}), or a directory (idx files, a CIFAR python "
            "folder, or an image-folder tree)")
    return _apply_holdout(s, split, holdout) if holdout else s


def _pick(split, train, test, what):
    if split == "train":
        return train
    if split in ("test", "validation"):
        return test
    raise ValueError(f"{what} has splits 'train' and 'test', not {split!r}")


def holdout_split(s: Split, k: int) -> tuple[Split, Split]:
    """``(train, holdout)``: ``s`` with ``k`` examples kept apart, as :func:`load_split`
    does with ``holdout=k``."""
    return _apply_holdout(s, "train", k), _apply_holdout(s, "holdout", k)


def _spread_holdout(size: int, k: int):
    """A mask of ``k`` of ``size`` examples spread evenly (every (size/k)-th): on data
    listed class by class, each class in about its share."""
    held = np.zeros(size, bool)
    held[np.round(np.linspace(0, size - 1, k)).astype(int)] = True
    return held


def _apply_holdout(s: Split, split: str, k: int) -> Split:
    if not 0 < k < s.size:
        raise ValueError(f"holdout={k} must be between 1 and the training size {s.size} - 1")
    n = s.size - k
    if s.arrays is not None:
        x, y = s.arrays
        classes = np.asarray(y).reshape(len(y), -1)
        classes = classes[:, 0] if classes.shape[1] == 1 else classes.argmax(1)
        present, tail = np.unique(classes), np.unique(classes[n:])
        if k < len(present) or len(tail) == len(present):
            # the last k, as Keras' validation_split takes them (the shipped datasets
            # are stored in random order)
            part = (x[:n], y[:n]) if split == "train" else (x[n:], y[n:])
            return dataclasses.replace(s, size=len(part[0]), arrays=part)
        # stored sorted by class (the last k miss classes they could hold): spread
        # picks, as for an image folder
        keep = _spread_holdout(s.size, k)
        keep = ~keep if split == "train" else keep
        return dataclasses.replace(s, size=int(keep.sum()), arrays=(x[keep], y[keep]))
    if s.files is not None:  # listed class by class: hold out every (size/k)-th file
        paths, labels = s.files
        held = _spread_holdout(s.size, k)
        keep = ~held if split == "train" else held
        return _refile(s, tuple(p for p, h in zip(paths, keep) if h),
                       tuple(lab for lab, h in zip(labels, keep) if h))
    fn = s._dataset_fn
    sub = (lambda: fn().take(n)) if split == "train" else (lambda: fn().skip(n))
    return dataclasses.replace(s, size=n if split == "train" else k, _dataset_fn=sub)


# ------------------------------------------------------------------- directories
def _directory_split(path: str, split: str, skip_bad_images: bool = False) -> Split:
    names = set(os.listdir(path))
    if any(n.startswith("train-images-idx3-ubyte") for n in names):
        train, test = load_idx_dir(path)
        classes = FASHION_MNIST_CLASSES if "fashion" in path.lower() else None
        return _array_split(path, *_pick(split, train, test, path),
                            int(max(train[1].max(), test[1].max())) + 1, classes)
    if "data_batch_1" in names or {"train", "test", "meta"} <= names:
        return _cifar_python_split(path, split)
    return image_folder_split(path, split, skip_bad_images=skip_bad_images)


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles only what CIFAR's batch files hold: dicts, lists, strings, bytes, ints
    and numpy arrays. A pickle names functions that the loader calls, so a crafted file
    could run any code; every other global is refused before it is looked up."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol 2 stores bytes
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"{getattr(self, 'path', 'the file')} asks to load {module}.{name}, which a "
                "CIFAR batch never holds; refusing it (a pickle can run code). Use the "
                "original files from cs.toronto.edu/~kriz/cifar.html.")
        return super().find_class(module, name)


def read_cifar_python(path: str, split: str):
    """CIFAR-10/100 "python version" (the pickled batches of
    cs.toronto.edu/~kriz/cifar.html): ``(images uint8 (N, 32, 32, 3), labels, names)``.

    The batches are read with a restricted unpickler (dicts, lists, bytes, numpy
    arrays only).

    Raises:
        ValueError: a file holds anything else, is not a pickle, or has the wrong shape.
    """
    def load(name):
        file = os.path.join(path, name)
        with open(file, "rb") as f:
            unpickler = _CifarUnpickler(f, encoding="bytes")
            unpickler.path = file
            try:
                return unpickler.load()
            except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
                raise ValueError(f"{file} is not a CIFAR batch file: {err}") from None

    def key(d, k):
        return d[k.encode()] if k.encode() in d else d[k]

    if os.path.exists(os.path.join(path, "data_batch_1")):  # CIFAR-10
        files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        files = [f for f in files if os.path.exists(os.path.join(path, f))]
        label_key, meta, names_key = "labels", "batches.meta", "label_names"
    else:  # CIFAR-100
        files = ["train" if split == "train" else "test"]
        label_key, meta, names_key = "fine_labels", "meta", "fine_label_names"
    batches = [load(f) for f in files]
    data = np.concatenate([np.asarray(key(b, "data"), np.uint8) for b in batches])
    labels = np.concatenate([np.asarray(key(b, label_key), np.int64) for b in batches])
    if data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{path}: CIFAR batches must hold (N, 3072) rows, got {data.shape}")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)  # stored as planes
    names = None
    if os.path.exists(os.path.join(path, meta)):
        names = [n.decode() if isinstance(n, bytes) else n for n in key(load(meta), names_key)]
    return images, labels, names


def _cifar_python_split(path, split):
    _pick(split, None, None, path)  # validates the split name
    x, y, names = read_cifar_python(path, "train" if split == "train" else "test")
    return _array_split(path, x, y, len(names) if names else int(y.max()) + 1, names)


def image_folder_split(path: str, split: str = "train", *, skip_bad_images: bool = False,
                       progress: bool = True) -> Split:
    """A tree of class folders. ``path/train/<class>/...`` with ``path/test`` beside it
    (or, without ``test``, one of ``val``/``valid``/``validation``:
    :data:`VALIDATION_FOLDERS`), or ``path/<class>/...`` itself (then every split is the
    whole tree). ``split="validation"`` reads the first of ``val``, ``valid``,
    ``validation`` (else ``test``). Classes are the sorted folder names of the training
    tree, so train and test agree on label numbers. For ``split="train"``, anything
    beside ``train/`` that no split reads (class folders put at the top, a second
    validation folder, image files) is named in a :class:`SkippedFilesWarning`.

    Files are listed by name (:data:`~keras_resnet.data.images.IMAGE_EXTENSIONS`,
    directly inside each class folder); any other entry (``scan.tiff``, ``notes.txt``, a
    sub-folder; hidden files such as ``.DS_Store`` aside) is left out with a
    :class:`SkippedFilesWarning` that counts them and names a few.

    Every file is decoded once first (:func:`~keras_resnet.data.images.scan_images`):
    the split's ``image_shape`` is ``(H, W, 3)`` when all files share one size (else
    ``(None, None, 3)``), ``image_sizes`` holds the distinct sizes, and unreadable files
    raise a ValueError naming them, or are left out (counted in ``skipped``, with a
    printed note) when ``skip_bad_images``. Images decode to 3 channels (grey is
    repeated, alpha dropped); 16-bit PNGs are scaled to 8 bits.

    Hidden folders (names starting with ``.``) are not classes; image files directly in
    the split's folder (beside its class folders) are not read, with a
    :class:`SkippedFilesWarning`.

    Raises:
        ValueError: no class folders, one class folder only, or no images; unreadable
            files (see above); for ``split="train"``, a class folder left without a
            readable image (named: it would be a class the network never sees).
    """
    root = path
    sub = SPLIT_FOLDERS.get(split)
    if sub is None:
        raise ValueError(f"image folders have splits 'train', 'validation'/'test', not {split!r}")
    if os.path.isdir(os.path.join(path, "train")):
        found = _split_folder(path, split)
        if found is None:
            near = [d for d in _class_folders(path) if d.lower() in sub]
            hint = (f"; it has {', '.join(d + '/' for d in near)}: folder names are "
                    f"case-sensitive, rename it to {near[0].lower()}/" if near else "")
            raise ValueError(f"{path} has a train/ folder but none of "
                             f"{', '.join(d + '/' for d in sub)} for split {split!r}{hint}")
        root = os.path.join(path, found)
        classes = _class_folders(os.path.join(path, "train"))
        if split == "train":
            _warn_unread_beside_train(path, classes)
    else:
        classes = _class_folders(path)
        splits = {d for names in SPLIT_FOLDERS.values() for d in names}
        if classes and all(d.lower() in splits for d in classes):
            # test/ (or val/) with no train/ beside it: split folders, not classes
            raise ValueError(
                f"{path} has {', '.join(d + '/' for d in classes)} but no train/ folder: a "
                "folder with splits needs train/ (whose class folders define the classes) "
                "beside test/; or give one split's class folders directly, e.g. --dataset "
                f"{os.path.join(path, classes[0])}")
    if not classes:
        raise ValueError(f"{path}: no class folders found (expected <class>/<image> files)")
    if len(classes) == 1:
        where = os.path.join(path, "train") if root != path else path
        raise ValueError(
            f"{where} has one class folder ({classes[0]}): a classifier needs at least "
            "two classes (with one, its single output is 1 for every image and no "
            "accuracy means anything). Add a folder per class")
    loose = sorted(e.name for e in os.scandir(root)
                   if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS))
    if loose:
        warnings.warn(
            f"{len(loose)} image file(s) directly in {root} are not read ("
            f"{', '.join(loose[:3])}{', ...' if len(loose) > 3 else ''}): an image folder "
            "reads the images inside its class folders only; move them into the folder "
            "of their class", SkippedFilesWarning, stacklevel=2)
    # a test folder's class folders by their names in one Unicode form: macOS writes
    # "café" decomposed (NFD), Linux and Windows keep what they are given (often NFC)
    present = {_nfc(d): d for d in _class_folders(root)}
    wanted = {_nfc(c) for c in classes}
    unread = tuple(
        (d, sum(1 for e in os.scandir(os.path.join(root, d))
                if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS)))
        for key, d in sorted(present.items()) if root != path and key not in wanted)
    paths, labels, other = [], [], []
    for i, c in enumerate(classes):
        if _nfc(c) not in present:
            continue
        folder = os.path.join(root, present[_nfc(c)])
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.lower().endswith(IMAGE_EXTENSIONS) and entry.is_file():
                paths.append(entry.path)
                labels.append(i)
            elif not entry.name.startswith("."):
                other.append(os.path.join(c, entry.name) + ("/" if entry.is_dir() else ""))
    if other:
        warnings.warn(_not_read_message(other, len(other) + len(paths), root),
                      SkippedFilesWarning, stacklevel=2)
    if not paths:
        raise ValueError(f"{root}: no images ({', '.join(IMAGE_EXTENSIONS)}) in class folders")
    scan = scan_images(paths, progress=progress)
    skipped = 0
    if scan.bad:
        if not skip_bad_images:
            raise ValueError(bad_images_message(scan.bad, len(paths), root))
        skipped = len(scan.bad)
        print(f"Skipping {skipped} unreadable image file(s) of {len(paths)} in {root} "
              f"(--skip-bad-images), e.g. {scan.bad[0][0]} ({scan.bad[0][1]})")
        keep = [s is not None for s in scan.sizes]
        paths = [p for p, k in zip(paths, keep) if k]
        labels = [lab for lab, k in zip(labels, keep) if k]
        if not paths:
            raise ValueError(f"{root}: none of its {skipped} image files can be read")
    if split == "train":
        seen = set(labels)
        empty = [c for i, c in enumerate(classes) if i not in seen]
        if empty:
            raise ValueError(
                f"{root}: no readable training image in class folder(s) {', '.join(empty)} "
                f"({len(empty)} of {len(classes)} classes); a class the network never sees "
                f"cannot be learnt. Put {IMAGE_FORMATS} files ({', '.join(IMAGE_EXTENSIONS)}) "
                "in them, or remove those folders")
    sizes = frozenset(scan.distinct_sizes)
    return _folder_split(root, tuple(paths), tuple(labels), tuple(classes),
                         native=next(iter(sizes)) if len(sizes) == 1 else None,
                         image_sizes=sizes, skipped=skipped, unread_classes=unread,
                         colour=any(scan.colour))


def validation_folder(dataset) -> str | None:
    """The validation folder of an image-folder tree that has ``train/`` and ``test/``:
    the first of ``val/``, ``valid/``, ``validation/`` beside them (``train`` validates
    on it, ``evaluate --split validation`` reads it); None for any other dataset. (With
    ``train/`` and no ``test/``, that folder is the test split itself.)"""
    path = os.path.expanduser(os.fspath(dataset))
    if not (os.path.isdir(os.path.join(path, "train")) and os.path.isdir(
            os.path.join(path, "test"))):
        return None
    return next((d for d in VALIDATION_FOLDERS if os.path.isdir(os.path.join(path, d))), None)


def _warn_unread_beside_train(path, classes) -> None:
    """A :class:`SkippedFilesWarning` naming what lies beside ``path/train`` that no
    split reads: other folders (class folders put at the top, a second validation
    folder, ...) and image files."""
    test = _split_folder(path, "test") or "test"  # no test/: val/ is the test split
    val = validation_folder(path)
    used = {"train", test, val}
    folders = [d for d in _class_folders(path) if d not in used]
    images = sorted(e.name for e in os.scandir(path)
                    if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS))
    if not folders and not images:
        return
    named = [d + "/" for d in folders] + images
    shown = ", ".join(named[:5]) + (f", and {len(named) - 5} more" if len(named) > 5 else "")
    wanted = {_nfc(c) for c in classes}
    like = [d for d in folders if _nfc(d) in wanted]
    one = len(like) == 1
    why = (f" ({', '.join(d + '/' for d in like)} "
           f"{'has the name of a class' if one else 'have the names of classes'} of "
           f"train/: move {'its' if one else 'their'} images into train/<class>/ to train "
           f"on them, or {test}/<class>/ to score on them)" if like else "")
    read = f"train/ (training), {test}/ (the score)" + (f", {val}/ (validation)" if val else "")
    warnings.warn(
        f"{path} has {len(named)} entr{'y' if len(named) == 1 else 'ies'} beside train/ "
        f"that no split reads: {shown}{why}. Its splits are {read}, each with a folder "
        "per class; move or rename the others to use them", SkippedFilesWarning,
        stacklevel=3)


def unread_classes_message(split) -> str:
    """The core of the refusal of a split whose folder has class folders that its
    training tree lacks (:attr:`Split.unread_classes`): which folders, how many images
    each, and that a score would leave them out. Empty when there are none."""
    unread = split.unread_classes
    if not unread:
        return ""
    folders = ", ".join(f"{c} ({n} images)" for c, n in unread[:5])
    images = sum(n for _, n in unread)
    return (f"class folder(s) in {split.name} that its training classes lack: "
            f"{folders}{', ...' if len(unread) > 5 else ''}; their {images} images would "
            "be left out of the score")


def check_held_out_classes(held_out, train, dataset) -> None:
    """Raises ValueError when ``held_out`` (the test split that ``train`` and ``tune``
    score on) has class folders that the ``train`` split of ``dataset`` lacks: a score
    would leave their images out without a word. Both are :class:`Split` objects."""
    unread = unread_classes_message(held_out)
    if unread:
        raise ValueError(
            f"the dataset {dataset} has {unread}. The network learns the "
            f"{train.num_classes} classes of its training folder: remove or move those "
            "folders, or add a training folder of the same name for each")


def _nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def _class_folders(folder: str) -> list:
    """The class folders of ``folder``: its sub-folders by name, hidden ones
    (``.thumbnails``, ``.ipynb_checkpoints``) left out as Keras'
    ``image_dataset_from_directory`` leaves them."""
    return sorted(d for d in os.listdir(folder)
                  if not d.startswith(".") and os.path.isdir(os.path.join(folder, d)))


class SkippedFilesWarning(UserWarning):
    """Entries of an image folder's class folders that are not read (not image files by
    their names, or sub-folders)."""


def _not_read_message(other, total: int, root: str) -> str:
    """One line: how many entries of ``root``'s class folders are not read, a few of
    them, and what is read."""
    shown = ", ".join(other[:3]) + (f", and {len(other) - 3} more" if len(other) > 3 else "")
    return (f"{len(other)} of the {total} entries in the class folders of {root} are not "
            f"read ({shown}): an image folder reads {IMAGE_FORMATS} files "
            f"({', '.join(IMAGE_EXTENSIONS)}) directly inside each class folder; convert "
            "or move the others to use them")


def files_split(paths, *, name: str = "images") -> Split:
    """Image files (no labels: all 0) as a :class:`Split`, decoded as the folder
    sources decode them; unreadable or missing files raise one clear error (predict)."""
    paths = tuple(os.fspath(p) for p in paths)
    sizes = frozenset(read_image(p).shape[:2] for p in paths)  # names a bad file
    return _folder_split(name, paths, (0,) * len(paths), ("?",),
                         native=next(iter(sizes)) if len(sizes) == 1 else None,
                         image_sizes=sizes)


def _refile(s: Split, paths, labels, size=None) -> Split:
    """``s`` (a folder split) over other files, or resized to ``size``."""
    return _folder_split(s.name, paths, labels, s.class_names, size=size or s._size,
                         native=s._native, image_sizes=s.image_sizes, skipped=s.skipped,
                         unread_classes=s.unread_classes, colour=s._colour)


def _folder_split(name, paths, labels, classes, *, size=None, native=None,
                  image_sizes=None, skipped=0, unread_classes=(), colour=None) -> Split:
    """``size``: resize every image to (H, W); ``native``: the one size all files have
    (None: they vary); ``colour``: whether any file holds colour (None: not known)."""
    def make():
        import tensorflow as tf

        def load(p, y):
            img = decode(tf.io.read_file(p), channels=3)
            return (resize_to(img, size) if size else img), y

        ds = tf.data.Dataset.from_tensor_slices((list(paths), np.asarray(labels, "int64")))
        return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)

    hw = size or native or (None, None)
    return Split(name, len(paths), len(classes), (*hw, 3), classes,
                 files=(tuple(paths), tuple(labels)), _dataset_fn=make,
                 image_sizes=image_sizes, skipped=skipped, _size=size, _native=native,
                 unread_classes=tuple(unread_classes), _colour=colour)


# ------------------------------------------------------------------- TFDS
def fashion_mnist_manual_dir(source: str = DEBIAN_FASHION_MNIST,
                             target: str | None = None) -> str:
    """A TFDS ``manual_dir`` for ``fashion_mnist`` made from Debian's idx files.

    TFDS checks each file's SHA-256. Debian's files hold the same compressed data as the
    upstream ones, but their gzip header lost the stored file name and modification
    time; writing the upstream header back gives byte-identical files, which TFDS then
    takes from ``manual_dir`` instead of downloading. Returns the folder.
    """
    if target is None:
        home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
        target = os.path.join(home, "datasets", "fashion_mnist_manual")
    os.makedirs(target, exist_ok=True)
    for prefix, mtime in _FASHION_MNIST_MTIMES.items():
        for kind in ("images-idx3", "labels-idx1"):
            stem = f"{prefix}-{kind}-ubyte"
            out = os.path.join(target, stem + ".gz")
            if os.path.exists(out):
                continue
            with open(os.path.join(source, stem + ".gz"), "rb") as f:
                raw = f.read()
            if raw[:3] != b"\x1f\x8b\x08":
                raise ValueError(f"{source}/{stem}.gz is not a gzip file")
            if raw[3] != 0:  # already has a stored name: keep the file as it is
                body = raw
            else:
                header = (b"\x1f\x8b\x08\x08" + struct.pack("<I", mtime) + raw[8:10]
                          + stem.encode() + b"\x00")
                body = header + raw[10:]
            gzip.decompress(body)  # refuse to write a file gzip cannot read
            write_file(out, body)
    return target


# Where tensorflow-datasets downloads each name from (its builders' URLs), and what to do
# without that host: the files to place, or the folder route.
_TFDS_HOSTS = {"cifar10": "www.cs.toronto.edu", "cifar100": "www.cs.toronto.edu",
               "fashion_mnist": "fashion-mnist.s3-website.eu-central-1.amazonaws.com"}
_OFFLINE_FILES = {
    "cifar10": "the 'CIFAR-10 python version' folder cifar-10-batches-py (data_batch_1 "
               "... data_batch_5, test_batch, batches.meta from "
               "https://www.cs.toronto.edu/~kriz/cifar.html): pass it as --dataset DIR",
    "cifar100": "the 'CIFAR-100 python version' folder cifar-100-python (train, test, meta): "
                "pass it as --dataset DIR",
    "fashion_mnist": "the four idx files (train-images-idx3-ubyte.gz, ...; Debian: apt-get "
                     "install dataset-fashion-mnist puts them in "
                     f"{DEBIAN_FASHION_MNIST}): pass that folder as --dataset DIR",
    "imagenet2012": "ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar in a folder passed "
                    "as --manual-dir",
}
HOST_TIMEOUT_S = 5.0


def _reachable(host: str, timeout: float | None = None) -> bool:
    """Whether a TCP connection to ``host``:443 opens within ``timeout`` seconds (name
    lookup included: it runs in a thread, since getaddrinfo takes no timeout)."""
    import concurrent.futures
    import socket

    timeout = HOST_TIMEOUT_S if timeout is None else timeout

    def connect():
        with socket.create_connection((host, 443), timeout=timeout):
            return True

    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return pool.submit(connect).result(timeout=timeout)
    except Exception:  # noqa: BLE001 - any failure means: not reachable now
        return False
    finally:
        pool.shutdown(wait=False)


def _check_download_host(name: str) -> None:
    """Fail within seconds when a TFDS dataset must be downloaded and its host cannot be
    reached (TFDS itself retries for minutes). Skipped behind a proxy, where a direct
    connection says nothing."""
    if name == "imagenet2012":
        raise RuntimeError(
            f"tensorflow-datasets cannot download imagenet2012: it needs "
            f"{_OFFLINE_FILES[name]}; or put the images in class folders "
            "(DIR/train/<class>/*.jpg, DIR/val/<class>/...) and pass --dataset DIR")
    if any(os.environ.get(v) for v in ("https_proxy", "HTTPS_PROXY", "all_proxy",
                                       "ALL_PROXY")):
        return
    host = _TFDS_HOSTS.get(name)
    if host and not _reachable(host):
        raise RuntimeError(
            f"{name!r} is not prepared in the tensorflow-datasets folder and its download "
            f"host {host} cannot be reached (offline?). Without the network use "
            f"{_OFFLINE_FILES[name]}; or put your images in class folders "
            "(DIR/train/<class>/*.png, DIR/test/<class>/...) and pass --dataset DIR")


def _tfds_split(name, split, data_dir, manual_dir) -> Split:
    import tensorflow_datasets as tfds

    if split == "test" and name == "imagenet2012":
        split = "validation"
    if manual_dir is None and name == "fashion_mnist" and os.path.isdir(DEBIAN_FASHION_MNIST):
        manual_dir = fashion_mnist_manual_dir()
    builder = tfds.builder(name, data_dir=data_dir)
    # (tfds.testing.mock_data replaces download_and_prepare: nothing is downloaded then)
    mocked = "mock" in getattr(type(builder).download_and_prepare, "__qualname__", "")
    if manual_dir is None and not mocked and not builder.is_prepared():
        _check_download_host(name)
    try:
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
            manual_dir=manual_dir) if manual_dir else None)
    except Exception as err:  # network errors, missing manual files: say what to do
        raise RuntimeError(
            f"tensorflow-datasets could not prepare {name!r}: {err}\n"
            f"Offline, place the dataset's original files in a folder and pass it as "
            f"manual_dir (CLI: --manual-dir); for imagenet2012 TFDS needs "
            "ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar there.") from None
    info = builder.info
    label = info.features["label"]
    shape = tuple(info.features["image"].shape)
    if split in info.splits:
        size = info.splits[split].num_examples
    else:  # no split metadata (e.g. under tfds.testing.mock_data): count
        try:
            size = int(builder.as_dataset(split=split).reduce(0, lambda n, _: n + 1))
        except Exception:  # noqa: BLE001
            raise ValueError(f"{name} has splits {sorted(info.splits)}, not {split!r}") from None

    def make():
        return builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)

    names = tuple(label.names) if hasattr(label, "names") else None
    if size <= 100_000 and None not in shape:  # small: keep in memory as arrays too
        batches = list(tfds.as_numpy(make().batch(8192)))
        x = np.concatenate([b[0] for b in batches])
        y = np.concatenate([b[1] for b in batches])
        return _array_split(name, x, y, label.num_classes, names)
    return Split(name, size, label.num_classes, shape, names, _dataset_fn=make)


def read_images(paths, size, channels: int) -> np.ndarray:
    """Image files as one uint8 batch ``(N, H, W, C)``, each resized to ``size``
    ``(H, W)`` as :meth:`Split.resized` does (bilinear, antialiased; an image of that
    size is left as it is); ``channels`` 1 gives grey (luminance), 3 RGB. Decoded by
    TensorFlow as the training data are (:mod:`.images`: 16-bit PNGs scaled to 8 bits,
    alpha dropped).

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: a file is not an image this can read (:data:`IMAGE_FORMATS`).
    """
    import tensorflow as tf

    size = tuple(int(d) for d in size)
    batch = [to_channels(resize_to(tf.constant(read_image(os.fspath(p))), size), channels)
             for p in paths]
    return np.stack([b.numpy() for b in batch])
