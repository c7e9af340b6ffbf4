"""The ``keras-resnet`` command.

    keras-resnet models [--family imagenet|cifar]
    keras-resnet summary NAME [--input-shape 224,224,3] [--shortcut A|B|C] [--stride-placement 1x1|3x3]
    keras-resnet convert SRC --arch resnet50 --out x.weights.h5 [--no-top]
    keras-resnet demo [--model resnet20] [--epochs 8] [--out runs/demo]
"""

from __future__ import annotations

import argparse
import os
import sys


def _quiet_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _shape(text):
    try:
        parts = tuple(None if p.strip().lower() in ("none", "?") else int(p)
                      for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected H,W,C such as 224,224,3 (None for any size), got {text!r}")
    return parts


def cmd_models(args):
    from . import paper
    from .complexity import spec_complexity
    from .specs import SPECS, list_models

    header = (f"{'name':<11}{'constructor':<12}{'family':<9}{'block':<11}{'depth':>6}"
              f"{'shortcut':>9}{'input':>13}{'params':>13}{'GMACs':>8}  paper")
    print(header)
    print("-" * len(header))
    for name in list_models(family=args.family):
        spec = SPECS[name]
        c = spec_complexity(spec)
        ref = paper.reported(spec)
        if "gmacs" in ref:
            note = f"{ref['gmacs']} GMACs (Table 1)"
        elif "params_m" in ref:
            note = f"{ref['params_m']}M params (Table 6)"
        else:
            note = ""
        size = "x".join(str(d) for d in spec.default_input_shape)
        print(f"{name:<11}{spec.constructor_name:<12}{spec.family:<9}{spec.block:<11}"
              f"{spec.depth:>6}{spec.shortcut or '-':>9}{size:>13}{c.params:>13,}"
              f"{c.macs / 1e9:>8.3f}  {note}")
    print("\nparams: trainable parameters; GMACs: multiply-adds of conv+fc layers per "
          "image at the default input size (the paper's 'FLOPs').")
    return 0


def cmd_summary(args):
    _quiet_tensorflow()
    from .builder import build
    from .complexity import model_complexity, stage_table

    options = {}
    if args.shortcut:
        options["shortcut"] = args.shortcut
    if args.stride_placement:
        options["stride_placement"] = args.stride_placement
    model = build(args.name, input_shape=args.input_shape, classes=args.classes, **options)
    total = model_complexity(model)
    print(f"{model.name}: input {tuple(model.input.shape[1:])}")
    print(f"{'stage':<8}{'output shape':>22}{'params':>14}{'MMACs':>12}")
    for row in stage_table(model):
        print(f"{row['stage']:<8}{str(row['output_shape']):>22}{row['params']:>14,}"
              f"{row['macs'] / 1e6:>12.1f}")
    print(f"{'total':<8}{'':>22}{total.params:>14,}{total.macs / 1e6:>12.1f}")
    print(f"non-trainable (BN statistics): {total.non_trainable:,}; "
          f"layers: {len(model.layers)}")
    return 0


def cmd_demo(args):
    _quiet_tensorflow()
    from .demo import run_demo

    run_demo(model_name=args.model, epochs=args.epochs, batch_size=args.batch_size,
             out=args.out, seed=args.seed)
    return 0


def cmd_convert(args):
    _quiet_tensorflow()
    from .builder import build
    from .fileio import atomic_write

    if not args.out.endswith(".weights.h5"):
        raise ValueError(f"--out must end in .weights.h5, got {args.out!r}")
    options = {"stride_placement": args.stride_placement} if args.stride_placement else {}
    model = build(args.arch, weights=args.src, include_top=not args.no_top, **options)
    atomic_write(args.out, model.save_weights)
    print(f"Converted {args.src} -> {args.out} ({model.name}, "
          f"{model.count_params():,} parameters, "
          f"{'no top' if args.no_top else 'with classifier'}). Load it with "
          f"keras_resnet.build({args.arch!r}, weights={args.out!r}"
          f"{', include_top=False' if args.no_top else ''}"
          f"{_placement_hint(model)})")
    return 0


def _placement_hint(model):
    """Files from torchvision are v1.5: the loading call must say so too."""
    try:
        strided_3x3 = model.get_layer("conv3_block1_2_conv").strides == (2, 2)
    except ValueError:
        return ""
    return ", stride_placement='3x3'" if strided_3x3 else ""


def make_parser():
    parser = argparse.ArgumentParser(
        prog="keras-resnet",
        description="ResNets of He et al. (2015) for Keras 3: list, inspect, train.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="table of every registered model")
    p.add_argument("--family", choices=["imagenet", "cifar"])
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("summary", help="per-stage output shapes, parameters and FLOPs")
    p.add_argument("name", help="registry name, e.g. resnet50 (see `keras-resnet models`)")
    p.add_argument("--input-shape", type=_shape, default=None, metavar="H,W,C")
    p.add_argument("--classes", type=int, default=None)
    p.add_argument("--shortcut", choices=["A", "B", "C"])
    p.add_argument("--stride-placement", choices=["1x1", "3x3", "v1", "v1.5"])
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("convert", help="convert a keras.applications .h5 or torchvision "
                       ".pth file into this package's .weights.h5")
    p.add_argument("src", help="weights file (.h5 or .pth) or registry tag")
    p.add_argument("--arch", required=True, help="e.g. resnet50")
    p.add_argument("--out", required=True, help="output file, ending in .weights.h5")
    p.add_argument("--no-top", action="store_true", help="drop the classifier")
    p.add_argument("--stride-placement", choices=["1x1", "3x3", "v1", "v1.5"])
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("demo", help="train a ResNet on the embedded Fashion-MNIST sample")
    p.add_argument("--model", default="resnet20")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_demo)
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
