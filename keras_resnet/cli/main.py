"""The ``keras-resnet`` command line: the parser and ``main``.

    keras-resnet models [--family imagenet|cifar]
    keras-resnet summary NAME [--input-shape 224,224,3] [--shortcut A|B|C] [--stride-placement 1x1|3x3]
    keras-resnet convert SRC --arch resnet50 --out x.weights.h5 [--no-top]
    keras-resnet train --model resnet20 --dataset embedded|PHOTOS [--image-size H W] [--recipe R] --epochs N --out runs/x [--weights TAG_OR_FILE --freeze-backbone E] [--skip-bad-images] [--precision float32|bfloat16|float16]
    keras-resnet evaluate --weights runs/x|TAG --dataset embedded --view center|10crop|multiscale
    keras-resnet plot runs/x [runs/y ...] [--out curves.png]
    keras-resnet export --weights runs/x|TAG --format savedmodel|tflite|onnx|openvino [--quantize none|float16|dynamic|int8] [--include-preprocessing] [--skip-bad-images] --out PATH
    keras-resnet predict IMAGE [IMAGE ...] --weights runs/x|TAG [--backend auto|openvino|onnxruntime|litert|keras] [--precision float32|bfloat16|int8|auto] [--calibration FOLDER]
    keras-resnet tune --max-trials 4 --epochs 3 --out runs/tune
    keras-resnet demo [--epochs 10] [--out runs/demo]    (train + evaluate on the embedded data)
"""

from __future__ import annotations

import argparse
import errno
import sys

# The train command's options are generated from TrainConfig's fields (their
# metadata: flag, type, choices, metavar, default, help) with plain argparse. Libraries
# that build a parser from a dataclass (tyro, jsonargparse, simple-parsing) were
# weighed: each is a new dependency that brings its own help layout and option
# spellings (tyro's grouped, rich-formatted help; jsonargparse's config-file options;
# simple-parsing's own flag naming), while keeping today's --help exactly (--no-lr-scaling,
# --image-size H W, the defaults shown by _Help) takes ~10 lines here.
from .._version import __version__
from ..training.config import (DATASET_HELP, cli_arguments, example_count as _count,
                               positive_int as _positive)
from . import commands

# flag and add_argument keywords of each TrainConfig field, in field order
_TRAIN_OPTIONS = {kwargs["dest"]: (flag, kwargs) for flag, kwargs in cli_arguments()}


def _shape(text):
    try:
        parts = tuple(None if p.strip().lower() in ("none", "?") else int(p)
                      for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected H,W,C such as 224,224,3 (None for any size), got {text!r}")
    return parts


def _fraction(text):
    """--min-agreement: a fraction in (0, 1], said in the flag's words (argparse names
    the flag), not in the Predictor's argument name."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value <= 1:
        raise argparse.ArgumentTypeError(
            f"expected a fraction in (0, 1] such as 0.995 (99.5% of the images keep their "
            f"top-1 class), got {text!r}")
    return value


def _precision(text):
    """predict's --precision: a name the Predictor takes, or one of its aliases (bf16,
    fp32, f32, i8), in any letter case; returns the name."""
    from ..deploy.predictor import _ALIASES, PRECISIONS  # the Predictor's own table

    name = text.lower()
    name = _ALIASES.get(name, name)
    if name not in PRECISIONS:
        raise argparse.ArgumentTypeError(
            f"expected one of {', '.join(PRECISIONS)} (or {', '.join(_ALIASES)}), "
            f"got {text!r}")
    return name


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every option's default (argparse's formatter, minus "(default: None)" and
    the defaults of flags, which their help describes)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" in text or action.default in (None, False, argparse.SUPPRESS) \
                or action.option_strings == [] or action.nargs == 0:
            return text
        return text + " (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose help shows defaults; its subcommands' parsers too."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)


WEIGHTS_HELP = ("a run directory of `keras-resnet train`, a .keras model, a .weights.h5 "
                "file (with --model and --pixel-mean), or a registry tag such as "
                "resnet20.fashion_mnist")
MODEL_HELP = "registry name of the network, for a .weights.h5 file"
PIXEL_MEAN_HELP = (".npy mean image (H, W, C) in [0, 1] units that the network subtracts "
                   "from image/255; needed only with a .weights.h5 file, or a .keras "
                   "model that does not normalise its input itself (a run directory and "
                   "a tag have their own)")
# predict's --precision names as --help lists them (the Predictor's PRECISIONS: a test
# checks; not imported here, so that the parser is built without the deploy package)
PREDICT_PRECISIONS = ("float32", "bfloat16", "int8", "auto")
SKIP_BAD_IMAGES_HELP = ("leave unreadable files of an image folder out (counted) instead of "
                        "stopping with their names; default: as the run did for its own "
                        "folder (train --skip-bad-images), else stop")

def make_parser():
    """The ``keras-resnet`` parser: one subparser per command (the ``_add_*``
    functions below, in the order ``--help`` lists them)."""
    parser = _Parser(
        prog="keras-resnet",
        description="ResNets of He et al. (2015) for Keras 3: list, inspect, train, "
                    "fine-tune, evaluate, export and predict.",
    )
    parser.add_argument("--version", action="version",
                        version=f"keras-resnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_models, _add_weights, _add_summary, _add_convert, _add_demo,
                _add_train, _add_evaluate, _add_tune, _add_export, _add_predict,
                _add_plot):
        add(sub)
    return parser


def _train_option(p, name, **changes):
    """Add TrainConfig's field ``name`` as an option of ``p``: its flag, type, choices,
    metavar, default and help from the field's metadata, ``changes`` replacing any
    (another command's default or help)."""
    flag, kwargs = _TRAIN_OPTIONS[name]
    p.add_argument(flag, **{**kwargs, **changes})


def _add_models(sub):
    p = sub.add_parser("models", help="table of every registered model")
    p.add_argument("--family", choices=["imagenet", "cifar"],
                   help="only this family (default: both)")
    p.set_defaults(func=commands.cmd_models)


def _add_weights(sub):
    p = sub.add_parser("weights", help="the pretrained-weights catalogue: published top-1, "
                       "params, GMACs, file, licence, eval transform, how to load each")
    p.add_argument("--arch", default=None, help="only this network's weights, e.g. resnet50")
    p.add_argument("--markdown", action="store_true",
                   help="print the catalogue as Markdown (the page docs/weights.md; with "
                   "--arch, that network's model cards: docs/weights/ARCH.md)")
    p.set_defaults(func=commands.cmd_weights)


def _add_summary(sub):
    p = sub.add_parser("summary", help="per-stage output shapes, parameters and FLOPs")
    p.add_argument("name", help="registry name, e.g. resnet50 (see `keras-resnet models`)")
    p.add_argument("--input-shape", type=_shape, default=None, metavar="H,W,C",
                   help="input size (None for any size); default: the family's "
                        "(224,224,3 or 32,32,3)")
    p.add_argument("--classes", type=int, default=None,
                   help="classifier size; default: the family's (1000 or 10)")
    p.add_argument("--shortcut", choices=["A", "B", "C"],
                   help="shortcut option (paper section 3.3); default: the model's")
    p.add_argument("--stride-placement", choices=["1x1", "3x3", "v1", "v1.5"],
                   help="bottleneck stride on the first 1x1 (v1, the paper's) or the 3x3 "
                        "(v1.5, torchvision's); default: 1x1")
    p.set_defaults(func=commands.cmd_summary)


def _add_convert(sub):
    p = sub.add_parser("convert", help="convert a keras.applications .h5, a torchvision "
                       ".pth or a timm .safetensors file into this package's .weights.h5 "
                       "(which records its architecture)")
    p.add_argument("src", help="weights file (.h5, .pth or .safetensors) or registry tag")
    p.add_argument("--arch", required=True, help="registry name of the network, e.g. "
                   "resnet50, resnet50d (timm's *d files)")
    p.add_argument("--out", required=True, help="output file, ending in .weights.h5")
    p.add_argument("--no-top", action="store_true", help="drop the classifier")
    p.add_argument("--stride-placement", choices=["1x1", "3x3", "v1", "v1.5"],
                   help="the file's stride placement; default: the format's (torchvision, timm: 3x3)")
    p.set_defaults(func=commands.cmd_convert)


def _add_demo(sub):
    p = sub.add_parser("demo", help="train + evaluate a ResNet-20 on the embedded "
                       "Fashion-MNIST sample (the README's main job)")
    p.add_argument("--model", default="resnet20", help="registry name of the network")
    p.add_argument("--epochs", type=int, default=10, help="training epochs")
    p.add_argument("--batch-size", type=int, default=64, help="global batch size")
    p.add_argument("--out", default="runs/demo", help="run directory (overwritten)")
    p.add_argument("--seed", type=int, default=0, help="random seed (order, augmentation, init)")
    p.set_defaults(func=commands.cmd_demo)


def _add_train(sub):
    """Every TrainConfig field as an option (generated), then the two options that
    are not part of a run's configuration."""
    p = sub.add_parser("train", help="train (or fine-tune) with a paper recipe on any "
                       "dataset, an image folder included; resumes after a crash")
    for name in _TRAIN_OPTIONS:
        _train_option(p, name)
    run = p.add_argument_group("how the run executes (not part of its configuration)")
    run.add_argument("--log-epochs", action="store_true",
                     help="one line per epoch instead of a progress bar")
    run.add_argument("--no-fused-bn", action="store_true",
                     help="Keras' own BatchNormalization training code instead of "
                          "TensorFlow's fused kernel (same numbers, ~1.6x slower)")
    p.set_defaults(func=commands.cmd_train)


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="top-1/top-5 error under an evaluation view")
    p.add_argument("--weights", required=True, help=WEIGHTS_HELP)
    p.add_argument("--model", default=None, help=MODEL_HELP)
    _train_option(p, "dataset", default=None,
                  help=DATASET_HELP + "; default: the run's own dataset, else embedded")
    p.add_argument("--split", default="test",
                   help="train | test | validation (ImageNet's; an image folder's val/, "
                        "valid/ or validation/)")
    p.add_argument("--view", default="center", choices=["center", "10crop", "multiscale"],
                   help="the paper's evaluation views (multiscale: ImageNet-family nets)")
    p.add_argument("--batch-size", type=int, default=256, help="images per batch")
    p.add_argument("--max-examples", type=_count, default=None, metavar="N",
                   help="score at most this many images, a random choice (the same "
                        "each time); default: all")
    p.add_argument("--pixel-mean", default=None, help=PIXEL_MEAN_HELP)
    _train_option(p, "skip_bad_images", default=None, help=SKIP_BAD_IMAGES_HELP)
    for name in ("data_dir", "manual_dir"):
        _train_option(p, name)
    p.add_argument("--json", default=None, help="also write the result here")
    p.set_defaults(func=commands.cmd_evaluate)


def _add_tune(sub):
    p = sub.add_parser("tune", help="keras-tuner search over depth, width, shortcut, "
                       "learning rate and weight decay")
    _train_option(p, "dataset")
    p.add_argument("--algorithm", choices=["random", "hyperband"], default="random",
                   help="keras-tuner's search algorithm")
    p.add_argument("--max-trials", type=int, default=4, help="networks to try")
    _train_option(p, "epochs", default=3, help="epochs per trial")
    _train_option(p, "batch_size", default=64, help="batch size")
    p.add_argument("--n", type=int, nargs="+", default=[1, 2], help="depths 6n+2 to try")
    p.add_argument("--shortcuts", nargs="+", default=["A", "B"], choices=["A", "B", "C"],
                   help="shortcut options to try")
    p.add_argument("--width-multipliers", type=float, nargs="+", default=[1.0],
                   help="widths to try")
    _train_option(p, "max_train_examples")
    _train_option(p, "skip_bad_images")
    p.add_argument("--max-val-examples", type=_count, default=None, metavar="N",
                   help="validate on at most this many images, a random choice that "
                        "--seed fixes; default: all")
    _train_option(p, "out", default="runs/tune", help="output folder")
    _train_option(p, "overwrite", help="start the search afresh")
    _train_option(p, "seed")
    p.set_defaults(func=commands.cmd_tune)


def _add_export(sub):
    p = sub.add_parser("export", help="SavedModel, TFLite, ONNX or OpenVINO file, verified "
                                      "by its own runtime against Keras")
    p.add_argument("--weights", required=True, help=WEIGHTS_HELP)
    p.add_argument("--model", default=None, help=MODEL_HELP)
    p.add_argument("--pixel-mean", default=None, help=PIXEL_MEAN_HELP)
    p.add_argument("--format", choices=["savedmodel", "tflite", "onnx", "openvino"],
                   default="tflite", help="file format")
    p.add_argument("--include-preprocessing", action="store_true",
                   help="the file takes raw uint8 images and normalises them itself")
    p.add_argument("--quantize", choices=["none", "float16", "dynamic", "int8"], default="none",
                   help="tflite: float16, dynamic or int8; openvino: int8 (NNCF); int8 is "
                        "calibrated on --representative training images and verified by "
                        "top-1 agreement >= 98%%")
    p.add_argument("--int8-io", action="store_true", help="int8 input/output tensors too")
    p.add_argument("--out", required=True, help="file (.tflite, .onnx, .xml) or SavedModel folder")
    p.add_argument("--dataset", default=None,
                   help="where the verification (test split) and representative (train "
                        "split) images come from; default: the run's own dataset, else "
                        "embedded")
    p.add_argument("--verify-images", type=_positive, default=1000,
                   help="test images the file is verified on")
    p.add_argument("--representative", type=_positive, default=300,
                   help="training images int8 quantization is calibrated on")
    p.add_argument("--no-verify", action="store_true",
                   help="do not verify on the test images (the file is still compared "
                        "with Keras on random images, an int8 file on its calibration "
                        "images)")
    _train_option(p, "skip_bad_images", default=None, help=SKIP_BAD_IMAGES_HELP)
    p.set_defaults(func=commands.cmd_export)


def _add_predict(sub):
    p = sub.add_parser("predict", help="classify image files with the fastest verified "
                                       "runtime (OpenVINO, ONNX Runtime, LiteRT, Keras)")
    p.add_argument("images", nargs="+", help="image files (PNG, JPEG, BMP, GIF, WebP)")
    p.add_argument("--weights", required=True, help=WEIGHTS_HELP)
    p.add_argument("--model", default=None, help=MODEL_HELP)
    p.add_argument("--pixel-mean", default=None, help=PIXEL_MEAN_HELP)
    p.add_argument("--backend", default="auto",
                   help="auto (fastest verified candidate), openvino, onnxruntime, litert, "
                        "keras")
    p.add_argument("--precision", default="float32", type=_precision,
                   choices=PREDICT_PRECISIONS,
                   help="float32; bfloat16 (OpenVINO, CPUs with bf16 units); int8 (OpenVINO "
                        "through NNCF, or LiteRT; needs --calibration); auto: the fastest of "
                        "every precision that keeps --min-agreement. Any letter case; "
                        "bf16, fp32, f32 and i8 name them too")
    p.add_argument("--min-agreement", type=_fraction, default=0.995,
                   help="accuracy budget of bfloat16/int8: the fraction of verification "
                        "images whose top-1 class must equal the float32 model's")
    p.add_argument("--calibration", default=None, metavar="FOLDER",
                   help="a folder of images like the ones to classify: int8 is calibrated "
                        "and every precision verified on them")
    p.add_argument("--top", type=int, default=3, help="classes listed per image")
    p.add_argument("--json", default=None, help="also write the predictions as JSON")
    p.set_defaults(func=commands.cmd_predict)


def _add_plot(sub):
    p = sub.add_parser("plot", help="training and validation error curves of runs as a PNG")
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--out", default=None, help="PNG path; default: RUN/curves.png")
    p.add_argument("--labels", nargs="+", default=None,
                   help="one label per run; default: the folder names")
    p.set_defaults(func=commands.cmd_plot)


def main(argv=None):
    import warnings

    args = make_parser().parse_args(argv)

    def one_line(message, category, filename, lineno, file=None, line=None):
        """Warnings as one line naming the command, not Python's file:line form."""
        text = " ".join(str(message).split())
        print(f"keras-resnet {args.command}: warning: {text}", file=sys.stderr)

    shown = warnings.showwarning
    warnings.showwarning = one_line
    try:
        return args.func(args)
    except (ValueError, ImportError, RuntimeError) as err:
        print(f"keras-resnet {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a missing file, a folder it cannot write, a full disk
        print(f"keras-resnet {args.command}: error: {_os_error_line(err)}", file=sys.stderr)
        return 2
    finally:
        warnings.showwarning = shown


# OSError numbers whose fix is another path or other permissions
_NOT_ALLOWED = (errno.EACCES, errno.EPERM, errno.EROFS)


def _os_error_line(err: OSError) -> str:
    """An OSError as one line: the package's own messages as they are; the operating
    system's (``[Errno 30] Read-only file system: 'x'``) as the path, the reason and,
    where a path or its permissions are the cause, what to do."""
    if err.strerror is None or err.filename is None:
        return str(err)  # the package's own message (it says what to do)
    line = f"{err.filename}: {err.strerror.lower()}"
    if err.errno in _NOT_ALLOWED:
        line += "; check its permissions, or give a path you can read and write"
    elif err.errno == errno.ENOSPC:
        line += "; free some space, or give a path on another disk"
    return line


if __name__ == "__main__":
    sys.exit(main())
