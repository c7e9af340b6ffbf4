"""The ``keras-resnet`` command.

    keras-resnet models [--family imagenet|cifar]
    keras-resnet summary NAME [--input-shape 224,224,3] [--shortcut A|B|C] [--stride-placement 1x1|3x3]
    keras-resnet convert SRC --arch resnet50 --out x.weights.h5 [--no-top]
    keras-resnet train --model resnet20 --dataset embedded --recipe fashion-mnist --epochs N --out runs/x
    keras-resnet evaluate --weights runs/x|TAG --dataset embedded --view center|10crop|multiscale
    keras-resnet plot runs/x [runs/y ...] [--out curves.png]
    keras-resnet export --weights runs/x|TAG --format savedmodel|tflite|onnx|openvino [--quantize none|float16|dynamic|int8] [--include-preprocessing] --out PATH
    keras-resnet predict IMAGE [IMAGE ...] --weights runs/x|TAG [--backend auto|openvino|onnxruntime|litert|keras] [--precision float32|bfloat16]
    keras-resnet tune --max-trials 4 --epochs 3 --out runs/tune
    keras-resnet demo [--epochs 10] [--out runs/demo]    (train + evaluate on the embedded data)
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


def _positive(text):
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return n


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
    from .training import train

    result = train(args.model, "embedded", "fashion-mnist", epochs=args.epochs,
                   batch_size=args.batch_size, out=args.out, seed=args.seed,
                   overwrite=True)
    ev = _evaluate(args.out, None, "embedded", "10crop", 256, None, None, None, None)
    # Ship it: int8 TFLite, verified by the LiteRT interpreter on the test images.
    from . import export
    from .data.sources import load_split

    model, mean, family = _load_for_evaluation(args.out, None, None)
    x, y = _preprocessed(load_split("embedded", "test"), family, mean, 2000)
    rep, _ = _preprocessed(load_split("embedded", "train"), family, mean, 300)
    path = os.path.join(args.out, "model_int8.tflite")
    r = export.tflite(model, path, quantization="int8", representative_data=rep,
                      verify_images=x, labels=y)
    lat = r["latency_ms_batch1"]
    print(f"Demo: {result['model']} on the embedded Fashion-MNIST sample: test accuracy "
          f"{result['test_accuracy']:.2%} (centre view), {ev['top1_accuracy']:.2%} (10-crop).")
    print(f"Exported {path}: int8, {r['size_bytes'] / 1024:.0f} KiB; LiteRT on "
          f"{r['verified_images']} test images: top-1 agreement with Keras "
          f"{r['top1_agreement']:.2%}, accuracy {r['tflite_accuracy']:.2%}; batch-1 latency "
          f"{lat['tflite']:.2f} ms vs {lat['keras_tf_function']:.2f} ms (Keras tf.function). "
          f"Report: {path}.report.json")
    return 0


def cmd_train(args):
    _quiet_tensorflow()
    from .training import train

    train(args.model, args.dataset, args.recipe, epochs=args.epochs,
          batch_size=args.batch_size, out=args.out, seed=args.seed, overwrite=args.overwrite,
          holdout=args.holdout, max_train_examples=args.max_train_examples,
          max_test_examples=args.max_test_examples, data_dir=args.data_dir,
          manual_dir=args.manual_dir, scale_lr=not args.no_lr_scaling,
          shortcut=args.shortcut, width_multiplier=args.width_multiplier,
          verbose=2 if args.log_epochs else "auto", fused_bn=not args.no_fused_bn)
    return 0


def _load_for_evaluation(weights, model_name, pixel_mean_path):
    """(model, pixel_mean, family) from a run directory, a .keras file, a
    .weights.h5 file plus --model and --pixel-mean, or a registry tag of weights
    trained with a per-pixel mean (those shipped in the package)."""
    import json

    import numpy as np

    from .pretrained.registry import load_registry, pixel_mean
    from .saving import load_model
    from .specs import get_spec

    entries, _ = load_registry()
    if weights in entries and not os.path.exists(weights):
        entry = entries[weights]
        if entry.preprocessing.get("mode") != "pixel_mean":
            raise ValueError(
                f"evaluate and export take registry tags of weights trained with a "
                f"per-pixel mean (such as the Fashion-MNIST ones); {weights!r} uses "
                f"{entry.preprocessing.get('mode')!r} preprocessing. In Python: model, "
                f"preprocess = keras_resnet.load_pretrained({weights!r}); then score it, or "
                f"export it with keras_resnet.export.onnx(model, path, "
                f"preprocessing={weights!r}, verify_images=preprocess(images)).")
        from .builder import build

        spec = get_spec(entry.arch)
        model = build(spec, input_shape=tuple(entry.input_shape), weights=weights)
        return model, pixel_mean(entry), spec.family
    if not os.path.exists(weights):
        pixel_mean_tags = [t for t, e in entries.items()
                           if e.preprocessing.get("mode") == "pixel_mean"]
        raise FileNotFoundError(
            f"--weights {weights!r} is neither a run directory, a file, nor a registry "
            f"tag; tags it takes: {', '.join(pixel_mean_tags) or 'none registered'}")
    if os.path.isdir(weights):
        with open(os.path.join(weights, "config.json")) as f:
            config = json.load(f)
        path = os.path.join(weights, "model.keras")
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} not found: the run has not finished; its "
                                    f"checkpoints are in {weights}/checkpoints")
        model = load_model(path)
        mean = np.load(pixel_mean_path or os.path.join(weights, "pixel_mean.npy"))
        return model, mean, get_spec(config["model"]).family
    if pixel_mean_path is None:
        raise ValueError("--pixel-mean FILE.npy is needed with a model or weights file "
                         "(a run directory has its own)")
    mean = np.load(pixel_mean_path)
    if weights.endswith(".keras"):
        model = load_model(weights)
        family = "imagenet" if model.input.shape[1] is None or model.input.shape[1] > 64 else "cifar"
        return model, mean, family
    if not model_name:
        raise ValueError("--model is needed with a .weights.h5 file")
    from .builder import build

    spec = get_spec(model_name)
    shape = tuple(mean.shape) if spec.family == "cifar" else (None, None, mean.shape[-1])
    return build(spec, input_shape=shape, weights=weights, classes=None), mean, spec.family


def _evaluate(weights, model_name, dataset, view, batch_size, max_examples, pixel_mean,
              data_dir, manual_dir, split="test"):
    from .data.sources import load_split
    from .evaluation import evaluate

    model, mean, family = _load_for_evaluation(weights, model_name, pixel_mean)
    data = load_split(dataset, split, data_dir=data_dir, manual_dir=manual_dir)
    if max_examples:
        data = data.take(max_examples)
    return evaluate(model, data, family, mean, view, batch_size=batch_size)


def cmd_evaluate(args):
    _quiet_tensorflow()
    import json

    r = _evaluate(args.weights, args.model, args.dataset, args.view, args.batch_size,
                  args.max_examples, args.pixel_mean, args.data_dir, args.manual_dir,
                  args.split)
    print(f"{args.dataset} {args.split}, {r['examples']} images, view {r['view']}: "
          f"top-1 error {r['top1_error']:.2%}, top-5 error {r['top5_error']:.2%} "
          f"(top-1 accuracy {r['top1_accuracy']:.2%})")
    if args.json:
        from .fileio import atomic_write

        atomic_write(args.json, lambda p: open(p, "w").write(json.dumps(r, indent=2) + "\n"))
    return 0


def cmd_tune(args):
    _quiet_tensorflow()
    from .tuning import tune

    tune(args.dataset, algorithm=args.algorithm, max_trials=args.max_trials,
         epochs=args.epochs, batch_size=args.batch_size, out=args.out,
         ns=tuple(args.n), shortcuts=tuple(args.shortcuts),
         width_multipliers=tuple(args.width_multipliers),
         max_train_examples=args.max_train_examples, max_val_examples=args.max_val_examples,
         overwrite=args.overwrite, seed=args.seed)
    return 0


def _class_names(weights):
    """Class names of a run directory (stored by train) or a registry tag; None if unknown."""
    from .pretrained.registry import load_registry
    from .training.run import run_class_names

    entries, _ = load_registry()
    if weights in entries and not os.path.exists(weights):
        return list(entries[weights].class_names) if entries[weights].class_names else None
    return run_class_names(weights) if os.path.isdir(weights) else None


def _preprocessed(split, family, mean, n):
    import numpy as np

    from .data.augment import eval_dataset

    xs, ys = [], []
    for x, y in eval_dataset(split.take(n), family, mean, batch_size=256):
        xs.append(x.numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)


def cmd_export(args):
    _quiet_tensorflow()
    import json

    import numpy as np

    from . import export
    from .data.sources import load_split

    if args.format != "tflite" and (args.quantize != "none" or args.int8_io):
        raise ValueError("--quantize and --int8-io apply to --format tflite only")
    quantize = None if args.quantize == "none" else args.quantize
    if quantize is None and args.int8_io:
        raise ValueError("--int8-io needs --quantize int8")
    if args.format == "openvino" and not args.out.endswith(".xml"):
        raise ValueError(f"--format openvino writes an IR: --out must end in .xml (the "
                         f"weights go to the .bin beside it), got {args.out!r}")
    model, mean, family = _load_for_evaluation(args.weights, args.model, args.pixel_mean)
    # What the file records about its input: the per-pixel mean of the run or tag.
    settings = {"mode": "pixel_mean", "scale": 1 / 255, "mean": np.asarray(mean, "float32"),
                "channel_order": "gray" if mean.shape[-1] == 1 else "RGB", "std": None}

    def raw(x):  # the uint8 images that the preprocessed batch x came from
        return np.clip(np.round((x + mean) * 255), 0, 255).astype("uint8")

    x = y = rep = None
    if not args.no_verify:
        x, y = _preprocessed(load_split(args.dataset, "test"), family, mean, args.verify_images)
    if quantize == "int8":
        rep, _ = _preprocessed(load_split(args.dataset, "train"), family, mean,
                               args.representative)
    options = {"preprocessing": settings, "class_names": _class_names(args.weights)}
    if args.include_preprocessing:
        options["include_preprocessing"] = settings
        x = None if x is None else raw(x)
        rep = None if rep is None else raw(rep)
    if args.format == "savedmodel":
        report = export.saved_model(model, args.out, verify_images=x, labels=y, **options)
    elif args.format == "onnx":
        report = export.onnx(model, args.out, verify_images=x, labels=y, **options)
    elif args.format == "openvino":
        report = export.openvino(model, args.out, verify_images=x, labels=y, **options)
    else:
        report = export.tflite(model, args.out, quantization=quantize,
                               representative_data=rep, int8_io=args.int8_io,
                               verify_images=x, labels=y, **options)
    shown = {k: v for k, v in report.items() if k != "metadata"}
    print(json.dumps(shown, indent=2))
    print(f"wrote {args.out} (report with the file's metadata: {args.out}.report.json)")
    return 0


def _predict_inputs(paths, model, mean, family):
    """Images from files, resized to the model's input and normalised as in evaluation."""
    import keras
    import numpy as np

    h, w, c = tuple(model.inputs[0].shape[1:])
    if None in (h, w):
        raise ValueError("predict needs a fixed-size model; build it with input_shape=(H, W, C)")
    batch = []
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"image {path!r} not found")
        try:
            img = keras.utils.load_img(path, color_mode="grayscale" if c == 1 else "rgb",
                                       target_size=(h, w))
        except Exception as e:  # PIL's UnidentifiedImageError and the like
            raise ValueError(f"{path!r} is not an image file this can read (PNG, JPEG, "
                             f"BMP, GIF...): {type(e).__name__}") from None
        batch.append(keras.utils.img_to_array(img))
    x = np.stack(batch)
    if mean is None:  # a registry tag: its own preprocess function
        return x
    if family != "cifar":
        raise ValueError("predict on run directories supports the CIFAR-family nets; "
                         "for ImageNet weights pass a registry tag")
    return x / 255.0 - mean


def cmd_predict(args):
    _quiet_tensorflow()
    import json

    import numpy as np

    from .inference import Predictor
    from .pretrained.registry import load_registry

    entries, _ = load_registry()
    names = None
    if args.weights in entries:
        from .preprocessing import load_pretrained

        entry = entries[args.weights]
        options = {} if entry.input_shape else {"input_shape": (224, 224, 3)}
        model, preprocess = load_pretrained(args.weights, **options)
        x = preprocess(_predict_inputs(args.images, model, None, None).astype("uint8"))
        names = list(entry.class_names) if entry.class_names else (
            "imagenet" if entry.classes == 1000 else None)
    else:
        model, mean, family = _load_for_evaluation(args.weights, args.model, args.pixel_mean)
        x = _predict_inputs(args.images, model, mean, family)
    if names is None:
        names = _class_names(args.weights)
    if args.top < 1:
        raise ValueError(f"--top must be at least 1, got {args.top}")
    predictor = Predictor(model, backend=args.backend, precision=args.precision,
                          verify_images=x[:32] if args.precision == "bfloat16" else x[:4])
    for name, r in predictor.report.items():
        status = (f"{r['latency_ms']:.2f} ms/image ({r['precision']})" if "latency_ms" in r else
                  "verified" if r.get("verified") else f"unused ({r.get('error')})")
        print(f"  backend {name:12s} {status}")
    print(f"using backend {predictor.backend!r}")
    probs = np.asarray(predictor(x))
    top = min(args.top, probs.shape[-1])
    results = []
    for path, p in zip(args.images, probs):
        order = np.argsort(-p)[:top]
        if names == "imagenet":
            from .classes import imagenet_classes

            label = [imagenet_classes()[i][1] for i in order]
        else:
            label = [names[i] if names else str(i) for i in order]
        results.append({"image": path, "top": [{"class": int(i), "name": n,
                                                 "probability": float(p[i])}
                                                for i, n in zip(order, label)]})
        print(path + ": " + ", ".join(f"{n} {p[i]:.1%}" for i, n in zip(order, label)))
    if args.json:
        from .fileio import atomic_write

        out = {"backend": predictor.backend, "backends": predictor.report,
               "predictions": results}
        atomic_write(args.json, lambda f: open(f, "w").write(json.dumps(out, indent=2) + "\n"))
    return 0


def cmd_plot(args):
    from .analysis import plot_runs

    out = args.out or os.path.join(args.runs[0], "curves.png")
    plot_runs(args.runs, out, labels=args.labels)
    print(f"wrote {out}")
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

    p = sub.add_parser("demo", help="train + evaluate a ResNet-20 on the embedded "
                       "Fashion-MNIST sample (the README's main job)")
    p.add_argument("--model", default="resnet20")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_demo)

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
    p.add_argument("--holdout", type=int, default=None,
                   help="keep the last N training images apart as the validation set "
                        "(the paper's 45k/5k CIFAR split: 5000)")
    p.add_argument("--max-train-examples", type=int, default=None)
    p.add_argument("--max-test-examples", type=int, default=None)
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
    p.set_defaults(func=cmd_train)

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
    p.set_defaults(func=cmd_evaluate)

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
    p.set_defaults(func=cmd_tune)

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
    p.add_argument("--quantize", choices=["none", "float16", "dynamic", "int8"], default="none")
    p.add_argument("--int8-io", action="store_true", help="int8 input/output tensors too")
    p.add_argument("--out", required=True, help="file (.tflite, .onnx, .xml) or SavedModel folder")
    p.add_argument("--dataset", default="embedded",
                   help="where the verification (test split) and representative (train "
                        "split) images come from")
    p.add_argument("--verify-images", type=_positive, default=1000)
    p.add_argument("--representative", type=_positive, default=300)
    p.add_argument("--no-verify", action="store_true")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("predict", help="classify image files with the fastest verified "
                                       "runtime (OpenVINO, ONNX Runtime, LiteRT, Keras)")
    p.add_argument("images", nargs="+", help="image files (PNG, JPEG, ...)")
    p.add_argument("--weights", required=True,
                   help="a run directory, a .keras model, a .weights.h5 file (+ --model), "
                        "or a weights registry tag")
    p.add_argument("--model", default=None)
    p.add_argument("--pixel-mean", default=None)
    p.add_argument("--backend", default="auto",
                   help="auto (fastest verified float32), openvino, onnxruntime, litert, keras")
    p.add_argument("--precision", default="float32", choices=["float32", "bfloat16"],
                   help="bfloat16: OpenVINO's bf16 inference (verified by top-1 agreement)")
    p.add_argument("--top", type=int, default=3)
    p.add_argument("--json", default=None, help="also write the predictions as JSON")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("plot", help="training/test error curves of runs as a PNG")
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--out", default=None, help="PNG path (default: RUN/curves.png)")
    p.add_argument("--labels", nargs="+", default=None)
    p.set_defaults(func=cmd_plot)
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
