"""The ``keras-resnet`` command line: the parser and ``main``.

    keras-resnet models [--family imagenet|cifar]
    keras-resnet summary NAME [--input-shape 224,224,3] [--shortcut A|B|C] [--stride-placement 1x1|3x3]
    keras-resnet convert SRC --arch resnet50 --out x.weights.h5 [--no-top]
    keras-resnet train --model resnet20 --dataset embedded --recipe fashion-mnist --epochs N --out runs/x [--precision float32|bfloat16|float16]
    keras-resnet evaluate --weights runs/x|TAG --dataset embedded --view center|10crop|multiscale
    keras-resnet plot runs/x [runs/y ...] [--out curves.png]
    keras-resnet export --weights runs/x|TAG --format savedmodel|tflite|onnx|openvino [--quantize none|float16|dynamic|int8] [--include-preprocessing] --out PATH
    keras-resnet predict IMAGE [IMAGE ...] --weights runs/x|TAG [--backend auto|openvino|onnxruntime|litert|keras] [--precision float32|bfloat16|int8|auto] [--calibration FOLDER]
    keras-resnet tune --max-trials 4 --epochs 3 --out runs/tune
    keras-resnet demo [--epochs 10] [--out runs/demo]    (train + evaluate on the embedded data)
"""

from __future__ import annotations

import argparse
import sys

from . import commands


def _shape(text):
    try:
        parts = tuple(None if p.strip().lower() in ("none", "?") else int(p)
                      for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected H,W,C such as 224,224,3 (None for any size), got {text!r}")
    return parts


def _holdout(text):
    try:
        if text.endswith("%"):
            return float(text[:-1]) / 100
        return float(text) if "." in text else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a count (5000), a fraction (0.1) or a percentage (10%), got {text!r}")


def _positive(text):
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return n


def make_parser():
    parser = argparse.ArgumentParser(
        prog="keras-resnet",
        description="ResNets of He et al. (2015) for Keras 3: list, inspect, train.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="table of every registered model")
    p.add_argument("--family", choices=["imagenet", "cifar"])
    p.set_defaults(func=commands.cmd_models)

    p = sub.add_parser("summary", help="per-stage output shapes, parameters and FLOPs")
    p.add_argument("name", help="registry name, e.g. resnet50 (see `keras-resnet models`)")
    p.add_argument("--input-shape", type=_shape, default=None, metavar="H,W,C")
    p.add_argument("--classes", type=int, default=None)
    p.add_argument("--shortcut", choices=["A", "B", "C"])
    p.add_argument("--stride-placement", choices=["1x1", "3x3", "v1", "v1.5"])
    p.set_defaults(func=commands.cmd_summary)

    p = sub.add_parser("convert", help="convert a keras.applications .h5 or torchvision "
                       ".pth file into this package's .weights.h5")
    p.add_argument("src", help="weights file (.h5 or .pth) or registry tag")
    p.add_argument("--arch", required=True, help="e.g. resnet50")
    p.add_argument("--out", required=True, help="output file, ending in .weights.h5")
    p.add_argument("--no-top", action="store_true", help="drop the classifier")
    p.add_argument("--stride-placement", choices=["1x1", "3x3", "v1", "v1.5"])
    p.set_defaults(func=commands.cmd_convert)

    p = sub.add_parser("demo", help="train + evaluate a ResNet-20 on the embedded "
                       "Fashion-MNIST sample (the README's main job)")
    p.add_argument("--model", default="resnet20")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=commands.cmd_demo)

    p = sub.add_parser("train", help="train with a paper recipe; resumes after a crash")
    p.add_argument("--model", default="resnet20", help="registry name, e.g. resnet20, plain56")
    p.add_argument("--dataset", default="embedded",
                   help="embedded | fashion_mnist | cifar10 | cifar100 | imagenet2012 | a "
                        "directory (idx files, CIFAR python folder, image folders)")
    p.add_argument("--recipe", default="fashion-mnist",
                   help="paper-cifar10 | paper-imagenet | fashion-mnist")
    p.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    p.add_argument("--batch-size", type=int, default=None,
                   help="global batch (all replicas); default: the recipe's")
    p.add_argument("--out", default="runs/train", help="run directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true",
                   help="delete a run with another configuration in --out and start afresh")
    p.add_argument("--holdout", type=_holdout, default=None,
                   help="training images kept apart as the validation set (best "
                        "checkpoint, plateau schedule): a count (5000: the paper's 45k/5k "
                        "CIFAR split) or a fraction (0.1, 10%%); default 10%%; 0 trains on "
                        "everything and validates on the test set. The test set always "
                        "gives the final score")
    p.add_argument("--max-train-examples", type=int, default=None)
    p.add_argument("--max-test-examples", type=int, default=None,
                   help="evaluate on at most this many test images (and holdout "
                        "images: the holdout is taken from the training data first, then "
                        "cut to this many)")
    p.add_argument("--data-dir", default=None, help="tensorflow-datasets data_dir")
    p.add_argument("--manual-dir", default=None,
                   help="folder with the dataset's original files (TFDS manual_dir)")
    p.add_argument("--no-lr-scaling", action="store_true",
                   help="keep the recipe's learning rate for another global batch size")
    p.add_argument("--shortcut", choices=["A", "B", "C"])
    p.add_argument("--width-multiplier", type=float, default=None)
    p.add_argument("--log-epochs", action="store_true",
                   help="one line per epoch instead of a progress bar")
    p.add_argument("--no-fused-bn", action="store_true",
                   help="Keras' own BatchNormalization training code instead of "
                        "TensorFlow's fused kernel (same numbers, ~1.6x slower)")
    p.add_argument("--precision", choices=["float32", "bfloat16", "float16"],
                   default="float32",
                   help="compute precision: Keras' float32, mixed_bfloat16 or "
                        "mixed_float16 policy (variables and the classifier's output stay "
                        "float32; float16 adds loss scaling). bfloat16 pays off only on "
                        "accelerators and CPUs with AVX512_BF16/AMX: elsewhere it is "
                        "emulated, ~12x slower than float32")
    p.set_defaults(func=commands.cmd_train)

    p = sub.add_parser("evaluate", help="top-1/top-5 error under an evaluation view")
    p.add_argument("--weights", required=True,
                   help="a run directory, a .keras model, a .weights.h5 file (+ --model), "
                        "or a registry tag such as resnet20.fashion_mnist")
    p.add_argument("--model", default=None)
    p.add_argument("--dataset", default="embedded")
    p.add_argument("--split", default="test")
    p.add_argument("--view", default="center", choices=["center", "10crop", "multiscale"])
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--max-examples", type=int, default=None)
    p.add_argument("--pixel-mean", default=None, help=".npy mean image (run dirs have one)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--manual-dir", default=None)
    p.add_argument("--json", default=None, help="also write the result here")
    p.set_defaults(func=commands.cmd_evaluate)

    p = sub.add_parser("tune", help="keras-tuner search over depth, width, shortcut, "
                       "learning rate and weight decay")
    p.add_argument("--dataset", default="embedded")
    p.add_argument("--algorithm", choices=["random", "hyperband"], default="random")
    p.add_argument("--max-trials", type=int, default=4)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--n", type=int, nargs="+", default=[1, 2], help="depths 6n+2 to try")
    p.add_argument("--shortcuts", nargs="+", default=["A", "B"], choices=["A", "B", "C"])
    p.add_argument("--width-multipliers", type=float, nargs="+", default=[1.0])
    p.add_argument("--max-train-examples", type=int, default=None)
    p.add_argument("--max-val-examples", type=int, default=None)
    p.add_argument("--out", default="runs/tune")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=commands.cmd_tune)

    p = sub.add_parser("export", help="SavedModel, TFLite, ONNX or OpenVINO file, verified "
                                      "by its own runtime against Keras")
    p.add_argument("--weights", required=True,
                   help="a run directory, a .keras model, a .weights.h5 file (+ --model), "
                        "or a registry tag such as resnet20.fashion_mnist")
    p.add_argument("--model", default=None)
    p.add_argument("--pixel-mean", default=None)
    p.add_argument("--format", choices=["savedmodel", "tflite", "onnx", "openvino"],
                   default="tflite")
    p.add_argument("--include-preprocessing", action="store_true",
                   help="the file takes raw uint8 images and normalises them itself")
    p.add_argument("--quantize", choices=["none", "float16", "dynamic", "int8"], default="none",
                   help="tflite: float16, dynamic or int8; openvino: int8 (NNCF); int8 is "
                        "calibrated on 300 training images and verified by top-1 agreement "
                        ">= 98%%")
    p.add_argument("--int8-io", action="store_true", help="int8 input/output tensors too")
    p.add_argument("--out", required=True, help="file (.tflite, .onnx, .xml) or SavedModel folder")
    p.add_argument("--dataset", default="embedded",
                   help="where the verification (test split) and representative (train "
                        "split) images come from")
    p.add_argument("--verify-images", type=_positive, default=1000)
    p.add_argument("--representative", type=_positive, default=300)
    p.add_argument("--no-verify", action="store_true")
    p.set_defaults(func=commands.cmd_export)

    p = sub.add_parser("predict", help="classify image files with the fastest verified "
                                       "runtime (OpenVINO, ONNX Runtime, LiteRT, Keras)")
    p.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...)")
    p.add_argument("--weights", required=True,
                   help="a run directory, a .keras model, a .weights.h5 file (+ --model), "
                        "or a weights registry tag")
    p.add_argument("--model", default=None)
    p.add_argument("--pixel-mean", default=None)
    p.add_argument("--backend", default="auto",
                   help="auto (fastest verified candidate), openvino, onnxruntime, litert, "
                        "keras")
    p.add_argument("--precision", default="float32",
                   choices=["float32", "bfloat16", "int8", "auto"],
                   help="float32; bfloat16 (OpenVINO, CPUs with bf16 units); int8 (OpenVINO "
                        "through NNCF, or LiteRT; needs --calibration); auto: the fastest of "
                        "every precision that keeps --min-agreement")
    p.add_argument("--min-agreement", type=float, default=0.995,
                   help="accuracy budget of bfloat16/int8: the fraction of verification "
                        "images whose top-1 class must equal the float32 model's")
    p.add_argument("--calibration", default=None, metavar="FOLDER",
                   help="a folder of images like the ones to classify: int8 is calibrated "
                        "and every precision verified on them")
    p.add_argument("--top", type=int, default=3)
    p.add_argument("--json", default=None, help="also write the predictions as JSON")
    p.set_defaults(func=commands.cmd_predict)

    p = sub.add_parser("plot", help="training/test error curves of runs as a PNG")
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--out", default=None, help="PNG path (default: RUN/curves.png)")
    p.add_argument("--labels", nargs="+", default=None)
    p.set_defaults(func=commands.cmd_plot)
    return parser


def main(argv=None):
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, ImportError, RuntimeError) as err:
        print(f"keras-resnet {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
