"""The commands of ``keras-resnet``: each turns parsed arguments into library calls
and prints the result."""

from __future__ import annotations

import os
import sys
import warnings

# Each command imports the package modules it runs inside its function: `keras-resnet
# --help` and the light commands (models, weights) then start without TensorFlow or
# Keras (seconds of import), which the heavy ones need.


# Lines TensorFlow's C++ side writes to stderr while it is imported on a machine
# without a GPU, before its log level is read (absl's pre-initialisation notice, the
# CUDA stub's "no drivers" line, cuInit failures). They say nothing a user can act on.
_IMPORT_NOISE = ("All log messages before absl::InitializeLog()", "cudart_stub.cc",
                 "Could not find cuda drivers", "cuInit", "cuda_executor.cc",
                 "cpu_feature_guard.cc", "This TensorFlow binary is optimized",
                 "To enable the following instructions", "oneDNN custom operations",
                 "Unable to register cu", "computation placer already registered",
                 "TF-TRT Warning", "util/port.cc")


def _quiet_tensorflow():
    """Import TensorFlow with its log level at errors only, dropping the start-up lines
    above from stderr (file descriptor 2, where the C++ code writes); any other line
    TensorFlow writes while importing is passed on."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().decode(errors="replace").splitlines()
                    if line.strip() and not any(n in line for n in _IMPORT_NOISE)]
    if kept:
        print("\n".join(kept), file=sys.stderr)


def cmd_weights(args):
    from ..pretrained import cards

    if args.markdown:
        if args.arch and not cards.rows(args.arch):
            print(f"no pretrained weights are registered for {args.arch}")
            return 0
        print(cards.arch_page(args.arch) if args.arch else cards.catalogue_markdown(), end="")
        return 0
    rows = cards.rows(args.arch)
    if not rows:
        print(f"no pretrained weights are registered for {args.arch}")
        return 0
    columns = [c for c in cards.COLUMNS if c != "load it"]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for r in rows:
        print("  ".join(r[c].ljust(widths[c]) for c in columns))
    print("\nLoad one: keras_resnet.build(ARCH, weights=TAG), e.g. "
          + rows[0]["load it"].strip("`") + "; --markdown prints the page with every line.")
    return 0


def cmd_models(args):
    from ..arch import paper
    from ..arch.complexity import spec_complexity
    from ..arch.specs import SPECS, list_models

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
        elif spec.downsample == "avg":
            note = "ResNet-D (He et al. 2019)"
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
    from ..zoo import build
    from ..arch.complexity import model_complexity, stage_table

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


# the export report's name for the Keras latency -> how Keras compiled the call
KERAS_COMPILED = {"keras_tf_function": "tf.function", "keras_jax_jit": "jax.jit"}


def cmd_demo(args):
    _quiet_tensorflow()
    from ..demo import run_demo

    r = run_demo(args.model, epochs=args.epochs, batch_size=args.batch_size, out=args.out,
                 seed=args.seed)
    t, rep = r["train"], r["tflite"]
    lat = rep["latency_ms_batch1"]
    print(f"Demo: {t['model']} on the embedded Fashion-MNIST sample: test accuracy "
          f"{t['test_accuracy']:.2%} (centre view; {t['train_examples']} training images, "
          f"{t['train_seconds_this_process']:.0f} s of training).")
    keras_key = next(k for k in lat if k.startswith("keras_"))
    print(f"Exported {r['tflite_path']}: int8, {rep['size_bytes'] / 1024:.0f} KiB; LiteRT on "
          f"{rep['verified_images']} test images: top-1 agreement with Keras "
          f"{rep['top1_agreement']:.2%}, accuracy {rep['tflite_accuracy']:.2%}; batch-1 "
          f"latency {lat['tflite']:.2f} ms vs {lat[keras_key]:.2f} ms (Keras, "
          f"{KERAS_COMPILED.get(keras_key, keras_key)}). Report: "
          f"{r['tflite_path']}.report.json")
    return 0


def cmd_train(args):
    from ..training.config import TrainConfig

    config = TrainConfig.from_mapping(args)  # checked before TensorFlow's seconds of import
    _quiet_tensorflow()
    from ..training import train

    train(config, verbose=2 if args.log_epochs else "auto", fused_bn=not args.no_fused_bn)
    return 0


def _evaluate(weights, model_name, dataset, view, batch_size, max_examples, pixel_mean,
              data_dir, manual_dir, split="test", skip_bad_images=None):
    """``(result, dataset)``: the evaluation of a trained network; ``dataset`` None is
    the run's own (else the embedded sample); ``skip_bad_images`` None: as the run did
    for its own folder."""
    from ..data.sources import load_split
    from ..evaluation import evaluate
    from ..zoo import load_trained

    t = load_trained(weights, model=model_name, pixel_mean=pixel_mean)
    if skip_bad_images is None:
        skip_bad_images = t.skips_bad_images_in(dataset)
    dataset = dataset or t.dataset or "embedded"
    data = load_split(dataset, split, data_dir=data_dir, manual_dir=manual_dir,
                      skip_bad_images=skip_bad_images)
    t.check_classes(data, dataset)  # else a score against another dataset's labels
    if max_examples:  # a random choice: a folder lists its files class by class
        data = data.sample(max_examples, seed=0)
    h, w = t.input_shape[:2]
    sizes = set(data.image_sizes or ()) or {tuple(data.image_shape[:2])}
    other = sorted(s for s in sizes if s != (h, w) and None not in s)
    if t.family == "cifar" and other:
        shown = ", ".join("x".join(map(str, s)) for s in other[:3])
        print(f"Note: {dataset} has images of {shown}{', ...' if len(other) > 3 else ''}; "
              f"they are resized to the network's {h}x{w} (bilinear, antialiased)")
    result = evaluate(t.model, data, t.family, t.pixel_mean, view, batch_size=batch_size,
                      resize=t.resize or 256, crop=t.input_shape[0])
    return result, dataset


def cmd_evaluate(args):
    _quiet_tensorflow()
    import json

    r, dataset = _evaluate(args.weights, args.model, args.dataset, args.view,
                           args.batch_size, args.max_examples, args.pixel_mean,
                           args.data_dir, args.manual_dir, args.split, args.skip_bad_images)
    top5 = "" if r["top5_error"] is None else f", top-5 error {r['top5_error']:.2%}"
    print(f"{dataset} {args.split}, {r['examples']} images, view {r['view']}: "
          f"top-1 error {r['top1_error']:.2%}{top5} "
          f"(top-1 accuracy {r['top1_accuracy']:.2%})")
    if args.json:
        from ..io import write_file

        write_file(args.json, json.dumps(r, indent=2) + "\n")
    return 0


def cmd_tune(args):
    _quiet_tensorflow()
    from ..training.tuning import tune

    tune(args.dataset, algorithm=args.algorithm, max_trials=args.max_trials,
         epochs=args.epochs, batch_size=args.batch_size, out=args.out,
         ns=tuple(args.n), shortcuts=tuple(args.shortcuts),
         width_multipliers=tuple(args.width_multipliers),
         max_train_examples=args.max_train_examples, max_val_examples=args.max_val_examples,
         overwrite=args.overwrite, seed=args.seed, skip_bad_images=args.skip_bad_images)
    return 0


def cmd_export(args):
    _quiet_tensorflow()
    import json

    from ..workflows import export_trained
    from ..zoo import load_trained

    trained = load_trained(args.weights, model=args.model, pixel_mean=args.pixel_mean)
    report = export_trained(
        trained, args.out, args.format, dataset=args.dataset,
        quantization=None if args.quantize == "none" else args.quantize,
        int8_io=args.int8_io, include_preprocessing=args.include_preprocessing,
        verify_images=None if args.no_verify else args.verify_images,
        representative=args.representative, skip_bad_images=args.skip_bad_images)
    shown = {k: v for k, v in report.items() if k != "metadata"}
    print(json.dumps(shown, indent=2))
    print(f"wrote {args.out} (report with the file's metadata: {args.out}.report.json)")
    return 0


# The Predictor's argument names as the predict command's flags, for the reasons it
# gives (a user of the command never saw the Python names)
_PREDICT_FLAGS = {"calibration_images": "--calibration FOLDER",
                  "verify_images": "the images to classify",
                  "min_agreement": "--min-agreement", "precision='float32'":
                  "--precision float32"}


def _in_cli_words(text: str) -> str:
    for name, flag in _PREDICT_FLAGS.items():
        text = text.replace(name, flag)
    return text


def cmd_predict(args):
    _quiet_tensorflow()
    import json

    from ..workflows import classify_files
    from ..io import write_file

    from ..deploy.predictor import SmallVerificationWarning
    from ..deploy.verify import CalibrationVerificationWarning

    with warnings.catch_warnings():  # said below in the command's own words
        warnings.simplefilter("ignore", SmallVerificationWarning)
        warnings.simplefilter("ignore", CalibrationVerificationWarning)
        r = classify_files(args.images, args.weights, model=args.model,
                           pixel_mean=args.pixel_mean, backend=args.backend,
                           precision=args.precision, top=args.top,
                           min_agreement=args.min_agreement, calibration=args.calibration)
    v, total = r["verification"], len(r["predictions"])
    if v["source"] == "calibration_images":
        checked = f"{v['images']} calibration image(s)"
    elif v["images"] < total:  # float32: the first few (classify_files' verify_images)
        checked = f"{v['images']} of the {total} images to classify"
    else:
        checked = f"the {total} image(s) to classify"
    print(f"candidates checked against the Keras model on {checked}")
    for name, b in r["backends"].items():
        agree = (f", top-1 agreement {b['top1_agreement']:.2%} of "
                 f"{b['verified_images']}" if "top1_agreement" in b else "")
        status = (f"{b['latency_ms']:.2f} ms/image{agree}" if "latency_ms" in b
                  else f"verified{agree}" if b.get("verified")
                  else f"skipped ({_in_cli_words(b['skipped'])})" if "skipped" in b
                  else f"unused ({b.get('error')})")
        print(f"  {name:18s} {status}" + (f" — {b['note']}" if "note" in b else ""))
    print(f"using {r['backend']!r} at {r['precision']}")
    if r["precision"] != "float32" and v["images"] < v["images_to_resolve"]:
        print(f"note: {v['images']} image(s) cannot check a {v['min_agreement']:.1%} "
              f"top-1 agreement budget (that takes {v['images_to_resolve']}): give "
              "--calibration FOLDER with a few hundred images like these, or "
              "--precision float32")
    if r["precision"] == "int8" and v["source"] == "calibration_images":
        print("note: int8 was checked on the calibration images it was calibrated on; on "
              "new images it may agree a little less with Keras")
    for note in r.get("notes", ()):
        print(f"note: {note}")
    for p in r["predictions"]:
        print(p["image"] + ": " + ", ".join(f"{t['name']} {t['probability']:.1%}"
                                            for t in p["top"]))
    if args.json:
        write_file(args.json, json.dumps(r, indent=2) + "\n")
    return 0


def cmd_plot(args):
    from ..evaluation.curves import plot_runs

    out = args.out or os.path.join(args.runs[0], "curves.png")
    plot_runs(args.runs, out, labels=args.labels)
    print(f"wrote {out}")
    return 0


def cmd_convert(args):
    _quiet_tensorflow()
    from ..arch.complexity import parameter_count
    from ..pretrained.record import save_weights
    from ..zoo import build

    if not args.out.endswith(".weights.h5"):
        raise ValueError(f"--out must end in .weights.h5, got {args.out!r}")
    options = {"stride_placement": args.stride_placement} if args.stride_placement else {}
    model = build(args.arch, weights=args.src, include_top=not args.no_top, **options)
    save_weights(model, args.out)  # records the architecture (v1 / v1.5 told apart)
    print(f"Converted {args.src} -> {args.out} ({model.name}, "
          f"{parameter_count(model):,} parameters, "
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
