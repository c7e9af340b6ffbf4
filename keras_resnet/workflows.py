"""Workflows on this repository's run directories and datasets, over the deployment
library (:mod:`keras_resnet.deploy`): what ``keras-resnet export`` and ``keras-resnet
predict`` run.

* :func:`export_trained` — export a network trained here (a run directory or a shipped
  tag), verified on its dataset's test images, with its preprocessing and class names
  in the file;
* :func:`classify_files` — classify image files with the fastest verified runtime.

They live here, beside :mod:`keras_resnet.demo`, and not in ``deploy/``, because they
load data (:mod:`keras_resnet.data`) and networks (:mod:`keras_resnet.zoo`): the
deployment library takes any Keras model and numpy arrays and needs neither.
"""

from __future__ import annotations

import os

import numpy as np

from .data.augment import eval_arrays
from .data.images import IMAGE_EXTENSIONS, read_image
from .data.sources import files_split, load_split, read_images
from .deploy.job import removing_created_folders
from .deploy.predictor import MIN_AGREEMENT, Predictor
from .deploy.tflite import tflite
from .deploy.verify import ChanceLevelError
from .deploy.writers import OPENVINO_QUANTIZATIONS, onnx, openvino, saved_model
from .pretrained.weights import registered
from .zoo import load_pretrained, load_trained

FORMATS = ("savedmodel", "onnx", "openvino", "tflite")
# Below this many images, converting the model to every runtime (seconds each) costs
# more than any runtime saves over the Keras call itself (milliseconds per image):
# ``classify_files`` with backend="auto" and float32 then runs Keras directly.
FAST_PATH_IMAGES = 32


def export_trained(trained, path, format: str, *, dataset: str | None = None,
                   quantization=None, int8_io: bool = False,
                   include_preprocessing: bool = False, verify_images: int | None = 1000,
                   representative: int = 300, skip_bad_images: bool | None = None) -> dict:
    """Export a network trained here (:class:`keras_resnet.zoo.Trained`: a run
    directory or a shipped tag, from :func:`keras_resnet.zoo.load_trained`), verified
    on ``verify_images`` test images of ``dataset``, with its preprocessing and class
    names in the file. What ``keras-resnet export`` runs.

    The file takes the run's input size (:attr:`Trained.input_shape`; an
    ImageNet-family network trained on any size is fixed to its crop), and images are
    brought to it as evaluation does (resized; ImageNet family: resized and
    centre-cropped). The verification and calibration images are a random choice, the
    same on every call (:meth:`~keras_resnet.data.sources.Split.sample`, seed 0): an
    image folder lists its files class by class, and its first few hundred would be a
    class or two.

    Args:
        dataset: where the verification (test split) and calibration (train split)
            images come from; None: the run's own dataset, else ``"embedded"``.
        format: one of :data:`FORMATS`; ``"openvino"`` needs a path ending in ``.xml``.
        quantization: TFLite: None, ``"float16"``, ``"dynamic"`` or ``"int8"``;
            OpenVINO: None or ``"int8"`` (NNCF); int8 is calibrated on
            ``representative`` training images.
        int8_io: TFLite int8 only: int8 input and output tensors.
        include_preprocessing: the file takes raw 0-255 pixels (uint8).
        verify_images: how many test images to verify on; None: no test images (the
            file is still compared with Keras on random images, or an int8 file on its
            calibration images: the exporters' rule), e.g. for a network not trained
            enough to pass the chance-level check.
        skip_bad_images: leave unreadable files of an image folder out of the
            verification and calibration images; None: as the run did for its own folder
            (``train --skip-bad-images``, :meth:`~keras_resnet.zoo.Trained.skips_bad_images_in`),
            else False.

    Returns:
        the export report (see the exporters). An export that fails removes the
        folders it made for the file
        (:func:`~keras_resnet.deploy.job.removing_created_folders`).

    Raises:
        ValueError: options that do not go together, a dataset with another number of
            classes than the network's, or a failed check.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if format == "openvino" and quantization not in OPENVINO_QUANTIZATIONS:
        raise ValueError(f"--format openvino takes --quantize int8 (NNCF) or none, not "
                         f"{quantization!r}")
    if format not in ("tflite", "openvino") and quantization:
        raise ValueError("--quantize applies to --format tflite and openvino only")
    if format != "tflite" and int8_io:
        raise ValueError("--int8-io applies to --format tflite only")
    if quantization is None and int8_io:
        raise ValueError("--int8-io needs --quantize int8")
    if format == "openvino" and not os.fspath(path).endswith(".xml"):
        raise ValueError(f"--format openvino writes an IR: --out must end in .xml (the "
                         f"weights go to the .bin beside it), got {path!r}")
    mean = np.asarray(trained.pixel_mean, "float32")
    settings = trained.preprocessing
    if skip_bad_images is None:
        skip_bad_images = (trained.skips_bad_images_in(dataset)
                           if hasattr(trained, "skips_bad_images_in") else False)
    dataset = dataset or getattr(trained, "dataset", None) or "embedded"
    sizes = dict(resize=trained.resize or 256, crop=trained.input_shape[0])
    model = trained.fixed_size_model()

    def raw(x):  # the uint8 images that the preprocessed batch x came from
        return np.clip(np.round((x + mean) * 255), 0, 255).astype("uint8")

    def split(name):  # a dataset of other classes would verify against wrong labels
        s = load_split(dataset, name, skip_bad_images=skip_bad_images)
        if hasattr(trained, "check_classes"):
            trained.check_classes(s, dataset)
        return s

    x = y = rep = None
    if verify_images:
        x, y = eval_arrays(split("test").sample(verify_images), trained.family, mean,
                           verify_images, **sizes)
    if quantization == "int8":
        rep, _ = eval_arrays(split("train").sample(representative), trained.family, mean,
                             representative, **sizes)
    options = {"preprocessing": settings, "class_names": trained.class_names}
    if include_preprocessing:
        options["include_preprocessing"] = settings
        x = None if x is None else raw(x)
        rep = None if rep is None else raw(rep)
    try:
        with removing_created_folders():  # a failed export leaves no folder it made
            if format == "tflite":
                return tflite(model, path, quantization=quantization,
                              representative_data=rep, int8_io=int8_io, verify_images=x,
                              labels=y, **options)
            if format == "openvino":
                return openvino(model, path, quantization=quantization,
                                representative_data=rep, verify_images=x, labels=y,
                                **options)
            writer = {"savedmodel": saved_model, "onnx": onnx}[format]
            return writer(model, path, verify_images=x, labels=y, **options)
    except ChanceLevelError as e:
        # the images were preprocessed here, with the run's own settings: the network
        # itself is not trained (enough)
        raise ChanceLevelError(
            f"the network is at chance level on the {e.images} {dataset} test images "
            f"({e.accuracy:.1%} top-1), preprocessed with its own settings: it is not trained "
            "enough to verify an export against. Train it longer, or leave the test images "
            "out (--no-verify / verify_images=None: the file is then checked on random "
            "images only). Nothing was written.", e.accuracy,
            e.images) from None


def _image_paths(spec):
    """Image files from a folder (searched recursively) or a list of paths."""
    if isinstance(spec, (str, os.PathLike)) and os.path.isdir(spec):
        found = sorted(os.path.join(d, f) for d, _, fs in os.walk(spec) for f in fs
                       if f.lower().endswith(IMAGE_EXTENSIONS))
        if not found:
            raise ValueError(f"{os.fspath(spec)!r}: no images ({', '.join(IMAGE_EXTENSIONS)})")
        return found
    return [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)


def _check_not_a_folder(path: str) -> None:
    """A folder among the images to classify: say what it is and what predict takes
    (the image reader would only say it found no image there)."""
    if not os.path.isdir(path):
        return
    from . import rundir

    if rundir.is_run_dir(path) or os.path.exists(os.path.join(path, rundir.MODEL)):
        raise ValueError(
            f"{path!r} is a folder holding a trained model (a run directory), given where "
            f"an image file goes: predict takes the model as --weights {path} and the "
            "image files to classify by position")
    raise ValueError(
        f"{path!r} is a folder, given where an image file goes: predict classifies image "
        f"files ({', '.join(IMAGE_EXTENSIONS)}); name them, e.g. "
        f"{os.path.join(path, '*.png')} {os.path.join(path, '*.jpg')} (every image type "
        "the folder holds; the model goes after --weights: a run directory, a .keras file "
        "or a registry tag)")


def classify_files(paths, weights, *, model: str | None = None, pixel_mean=None,
                   backend: str = "auto", precision: str = "float32", top: int = 3,
                   min_agreement: float = MIN_AGREEMENT, calibration=None) -> dict:
    """Classify image files with the fastest verified runtime: what
    ``keras-resnet predict`` runs.

    Args:
        paths: image files (PNG, JPEG, BMP, GIF, WebP: ``IMAGE_EXTENSIONS``; grey, RGB
            or RGBA; 8 or 16 bits),
            decoded as the training data are and brought to the network's input as its
            evaluation does (:mod:`keras_resnet.data.images`): CIFAR-family networks
            take them resized to their input size; ImageNet-family ones resized
            (shorter side) and centre-cropped.
        weights: a registry tag (``"resnet20.fashion_mnist"``, ``"resnet50.imagenet"``),
            a run directory of ``keras-resnet train`` (any family), or a model / weights
            file (see :func:`keras_resnet.zoo.load_trained` for ``model`` and
            ``pixel_mean``; a ``.keras`` model that normalises its input itself needs
            no pixel mean).
        model: the registry network of a weights file (see ``load_trained``).
        pixel_mean: the mean image of a weights file (see ``load_trained``).
        backend: as for :class:`~keras_resnet.Predictor`. With ``backend="auto"``,
            float32 and at most :data:`FAST_PATH_IMAGES` images, the Keras model runs
            them directly (no conversion; the report says so).
        precision: as for :class:`~keras_resnet.Predictor`.
        min_agreement: as for :class:`~keras_resnet.Predictor`.
        calibration: image files or a folder of them, read like ``paths``: the int8
            calibration (and verification) images for ``precision="int8"`` / ``"auto"``.
        top: how many classes to list per image, >= 1.

    Returns:
        ``{"backend": name, "precision": name, "backends": Predictor.report,
        "predictions": [{"image": path, "top": [{"class": index, "name": name,
        "probability": p}, ...]}, ...], "notes": [line, ...]}``; ``notes`` says when
        grey (1-channel) weights were given colour images, which are classified in grey.

    Raises:
        ValueError: ``top`` < 1, an unreadable file (named, with the decoder's reason),
            ``precision="int8"`` without ``calibration``.
        FileNotFoundError: a missing image, weights or calibration folder.
    """
    if top < 1:
        raise ValueError(f"--top must be at least 1, got {top}")
    if precision == "int8" and calibration is None:
        raise ValueError("precision int8 needs calibration images, a few hundred like the "
                         "ones to classify: give a folder of them (--calibration FOLDER)")
    if isinstance(calibration, (str, os.PathLike)) and not os.path.exists(calibration):
        raise FileNotFoundError(f"calibration folder {os.fspath(calibration)!r} not found")
    paths = [os.fspath(p) for p in paths]
    for path in paths:
        _check_not_a_folder(path)
    tag = registered(weights)
    if tag is not None:
        entry = tag.entry
        if entry.input_shape:  # trained here at a fixed size
            net, preprocess = load_pretrained(weights)
            h, w, c = entry.input_shape

            def load(files):
                return preprocess(read_images(files, (h, w), c))
        else:  # published ImageNet weights: their own resize and crop, per image
            net, preprocess = load_pretrained(weights, input_shape=(entry.crop, entry.crop, 3))

            def load(files):
                return np.concatenate([preprocess(read_image(f)) for f in files])
        names, preprocessing = list(tag.class_names), tag.preprocessing
    else:
        trained = load_trained(weights, model=model, pixel_mean=pixel_mean)
        names, preprocessing = trained.class_names, trained.preprocessing
        net = trained.fixed_size_model()

        def load(files):  # decoded, resized (and cropped) as the run's evaluation does
            x, _ = eval_arrays(files_split(files), trained.family, trained.pixel_mean,
                               len(files), resize=trained.resize or 256,
                               crop=trained.input_shape[0])
            return x
    notes = []
    if net.input_shape[-1] == 1:  # grey weights: colour images are read as grey, say so
        colour, checked = _colour_images(paths)
        if colour:
            notes.append(
                f"{colour} of {'the' if checked == len(paths) else f'the first {checked}'} "
                f"image(s) are in colour, and these weights take 1-channel (grey) images: "
                "they were converted to greyscale before classifying (any colour is lost). "
                "For colour photos use weights trained on RGB images (a run of "
                "`keras-resnet train` on them, or e.g. resnet18.tv_in1k)")
    x = load(paths)  # (images to classify, and any calibration images: the same way)
    cal = None if calibration is None else load(_image_paths(calibration))
    fast = backend == "auto" and precision == "float32" and len(x) <= FAST_PATH_IMAGES
    # checked on: the calibration images when given (the Predictor's default), else the
    # images themselves (all of them where top-1 agreement is counted)
    verify = None if cal is not None else x if precision != "float32" else x[:4]
    predictor = Predictor(net, backend="keras" if fast else backend, precision=precision,
                          min_agreement=min_agreement, calibration_images=cal,
                          verify_images=verify, preprocessing=preprocessing)
    report = predictor.report
    if fast:
        report["keras"]["note"] = (f"{len(x)} image(s): run by Keras directly (converting to "
                                   f"the other runtimes pays off above {FAST_PATH_IMAGES})")
    probs = np.asarray(predictor(x))
    k = min(top, probs.shape[-1])
    predictions, tied = [], 0
    for path, p in zip(paths, probs):
        order = np.argsort(-p, kind="stable")[:k]
        # a reduced precision rounds the scores (int8: steps of 1/256): a listed place
        # whose probability equals another class's is a tie, not a ranking
        tied += any(np.sum(p == p[i]) > 1 for i in order[1:])
        predictions.append({"image": os.fspath(path), "top": [
            {"class": int(i), "name": names[i] if names else str(int(i)),
             "probability": float(p[i])} for i in order]})
    if tied and k > 1 and predictor.precision != "float32":
        notes.append(
            f"for {tied} image(s) places after the first tie with other classes (equal "
            f"probabilities from the {predictor.precision} runtime's rounding): those are "
            "listed in class order, not ranked; --precision float32 ranks them")
    return {"backend": predictor.backend, "precision": predictor.precision,
            "backends": report, "verification": predictor.verification,
            "predictions": predictions, "notes": notes}


# Images looked at for colour when the weights take grey images (a second decoding of
# each: bounded, so that a long list does not pay it twice over)
COLOUR_CHECK_IMAGES = 64


def _colour_images(paths) -> tuple[int, int]:
    """(how many of the first :data:`COLOUR_CHECK_IMAGES` files hold colour: channels
    that differ somewhere, how many were looked at); files that cannot be read are left
    to the reading that follows, which names them."""
    checked = paths[:COLOUR_CHECK_IMAGES]
    colour = 0
    for path in checked:
        try:
            rgb = read_image(path, 3)
        except (OSError, ValueError):
            continue
        colour += bool((rgb[..., 0] != rgb[..., 1]).any() or (rgb[..., 1] != rgb[..., 2]).any())
    return colour, len(checked)
