"""``train``: one function behind ``keras-resnet train``. The run directory it writes
(config, model, pixel mean, inference record, log, checkpoints, backups, metrics,
curves) is described and read back by :mod:`keras_resnet.rundir`.

The run's options are a :class:`~keras_resnet.training.TrainConfig` (checked when it
is made); ``train`` runs them as a sequence of named steps over one :class:`RunState`
state (:mod:`.state`): resolve network and recipe (``TrainConfig.resolve``), load data
and holdout count, choose the input (:mod:`.inputs`), record the config, check the
placement, prepare the run directory, split the holdout, pixel mean; then
:func:`~keras_resnet.training.fit.fit_run`: build, compile per phase, resume,
evaluation data, callbacks, fit the phases, score, save.

Validation (the best checkpoint, plateau schedules, the curves' bold line) uses a
holdout of the training data, 10% by default (the paper's CIFAR split is 45k/5k), or an
image folder's own ``val/`` beside ``train/`` and ``test/``; the test set gives only
the final score. ``holdout=0`` trains on all training data and
then validates on the test set, which config.json records as ``"validation": "test"``.

Everything that can be checked is checked before the run directory is written: the
options (TrainConfig), the data (a folder's files are decoded once: an unreadable one
is named), the image size, the weights to start from; and a run that fails before its
first epoch is logged removes the directory it created, so the corrected command
starts afresh.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings

import keras

from .. import cpu, rundir
from ..data.augment import IMAGENET_EVAL_RESIZE, compute_pixel_mean
from ..data.sources import check_held_out_classes, holdout_split, load_split, validation_folder
from ..rundir import RunConfigMismatch
from ..zoo import run_class_names
from .config import (BF16_SLOWDOWN_MEASURED, ONEDNN_SPEEDUP_MEASURED, PRECISION_OF_POLICY,
                     PRECISIONS, TrainConfig)
from .config import default_recipe, holdout_count  # noqa: F401 (kept importable from here)
from .fit import fit_run
from .inputs import resolve_input, weights_normalisation, weights_shape
from .state import RunState
from .strategy import choose_placement, is_chief, num_workers

__all__ = ["RunConfigMismatch", "TrainConfig", "resolve_input", "run_class_names", "train"]
# TensorFlow itself is imported inside the three helpers that call it: under the JAX
# backend nothing else here needs it, and _keep_tensorflow_off_gpus must run before it
# initialises its devices.


def train(model: TrainConfig | str = "resnet20", dataset: str = "embedded",
          recipe: str | None = None, *, verbose="auto", strategy=None, plot: bool = True,
          fused_bn: bool = True, **options) -> dict:
    """Train with a :class:`~keras_resnet.training.TrainConfig`; resumable; returns the
    final metrics (also written to ``metrics.json`` in the run directory).

    Two call forms, the same run::

        train(TrainConfig("resnet20", "embedded", epochs=1, out="runs/x"))
        train("resnet20", "embedded", epochs=1, out="runs/x")

    ``model``: a TrainConfig, or the network's name (then ``dataset``, ``recipe`` and
    ``options``, any of TrainConfig's fields by name, make the config). Given a
    TrainConfig, ``options`` replace its fields (``train(config, epochs=2)``) and
    ``dataset``/``recipe`` must be left out. The fields (defaults, units, rules) are
    documented on TrainConfig; a few effects in brief:

    ``recipe`` None follows the network family (:func:`default_recipe`).
    ``batch_size`` is the global batch (all replicas, or all JAX devices); the learning
    rate is scaled from the recipe's batch linearly unless ``scale_lr=False``.
    ``holdout``: see :func:`holdout_count` and the module docstring. ``image_size``
    ``(H, W)`` in pixels, see :func:`resolve_input` for the default (CIFAR family: the
    weights' size, else the data's, else 32x32; ImageNet family: 224). CIFAR-family
    nets take images resized to it (a note says how many had another size);
    ImageNet-family nets take random crops of it (the shorter side resized to
    256/224..480/224 of the crop) and are evaluated on the centre crop after resizing
    to 256/224 of it. ``skip_bad_images``: leave out unreadable files of an image
    folder (counted) instead of stopping with their names.

    Fine-tuning: ``weights`` (a registry tag or a weights file, as ``build`` takes them)
    initialise the network; a classifier for another number of classes starts afresh
    (one printed line says so). Tags trained with a per-pixel mean keep their own
    normalisation; tags with another one (keras.applications' Caffe mode, torchvision's
    mean/std) get it as weightless layers inside the network, after the run's usual
    ``x / 255`` (see :func:`weights_normalisation`). ``freeze_backbone=E``: the first
    ``E`` epochs train the classifier only (the backbone frozen, BatchNormalization in
    inference mode), the rest train every layer but BatchNormalization at
    :data:`UNFROZEN_LR_FACTOR` of the recipe's learning rate, on the recipe's schedule
    over those epochs.

    ``precision``: ``"float32"``, ``"bfloat16"`` or ``"float16"``: Keras'
    ``float32``, ``mixed_bfloat16`` or ``mixed_float16`` policy for the run (restored
    afterwards); None (the default) keeps the caller's global policy if it is one of
    these three (float32 unless set). Variables, the classifier's softmax and the loss
    stay float32; under float16 the optimiser is wrapped in Keras'
    ``LossScaleOptimizer`` (dynamic loss scaling). config.json records the policy
    name, the backend and the device count. Warns (UserWarning) when bfloat16 is asked
    for on a CPU without bf16 instructions under TensorFlow, and when TensorFlow runs
    without its oneDNN kernels only because it was imported before keras_resnet
    (:mod:`keras_resnet.cpu`).

    Not part of the configuration (they change neither the numbers nor the run
    directory, or are no data): ``verbose`` (``model.fit``'s), ``plot`` (write
    ``curves.png``), ``fused_bn`` (the BatchNormalization layers' training branch as
    TensorFlow's fused kernel: same numbers up to float rounding, ~1.6x faster CIFAR
    ResNet training on a 2-core CPU, docs/benchmarks.md; TensorFlow backend only) and
    ``strategy``. Devices: the TensorFlow backend uses tf.distribute (``strategy``, or
    the automatic choice: :mod:`keras_resnet.training.strategy`); with several
    replicas the BatchNormalization moving statistics are averaged over them before
    every evaluation and at the end (each replica keeps its own otherwise), so
    ``metrics.json`` scores the saved model. The JAX backend uses
    ``keras.distribution.DataParallel`` over all its devices, the global batch split
    evenly (``batch_size`` must be a multiple of the device count; a last training
    batch is trimmed to a multiple, evaluation batches are padded with zero-weight
    images).

    Raises:
        ValueError: options TrainConfig refuses (see :meth:`TrainConfig.validate`); a
            global dtype policy a run cannot record; an unknown dataset; unreadable
            images (named); an image folder whose test folder has classes that its
            train folder lacks; weights that do not fit; see also
            :func:`~keras_resnet.training.strategy.choose_placement`.
        TypeError: an unknown option, or ``dataset``/``recipe`` beside a TrainConfig.
        RunConfigMismatch: ``out`` holds a run with another configuration.
    """
    config = _as_config(model, dataset, recipe, options)
    precision = config.precision
    if precision is None:
        current = keras.config.dtype_policy().name
        precision = PRECISION_OF_POLICY.get(current)
        if precision is None:
            raise ValueError(f"the global dtype policy is {current!r}; train() runs "
                             f"{sorted(PRECISIONS.values())}: pass precision= one of "
                             f"{sorted(PRECISIONS)}")
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(PRECISIONS[precision])
    try:
        return _train(config, verbose=verbose, strategy=strategy, plot=plot,
                      fused_bn=fused_bn)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _as_config(model, dataset, recipe, options) -> TrainConfig:
    """train()'s arguments as one TrainConfig (see train's two call forms)."""
    if isinstance(model, TrainConfig):
        if dataset != "embedded" or recipe is not None:
            raise TypeError("train(config): give dataset and recipe in the TrainConfig "
                            "(or by name, to replace its fields)")
        return dataclasses.replace(model, **options) if options else model
    return TrainConfig(model, dataset, recipe, **options)


def _train(config: TrainConfig, *, verbose, strategy, plot, fused_bn) -> dict:
    """The steps before the fit (checks first, then the run directory)."""
    if keras.backend.backend() == "jax":
        _keep_tensorflow_off_gpus()
    run = RunState(config, verbose=verbose, plot=plot, fused_bn=fused_bn)
    run.spec, run.recipe, run.epochs, run.batch_size = config.resolve()
    if config.freeze_backbone and config.freeze_backbone >= run.epochs:
        warnings.warn(
            f"freeze_backbone={config.freeze_backbone} covers all {run.epochs} epochs: only "
            "the classifier trains and the backbone is never fine-tuned; give more epochs "
            f"than that (--epochs {config.freeze_backbone + 5}, say) to fine-tune it after",
            UserWarning, stacklevel=3)
    _load_data(run)
    _choose_input(run)
    _record_config(run)
    _check_placement(run, strategy)
    out = config.out
    run.chief = is_chief()
    created = rundir.prepare(out, run.record, overwrite=config.overwrite, chief=run.chief,
                             placement={"backend": run.placement.backend,
                                        "devices": run.placement.devices})
    try:
        keras.utils.set_random_seed(config.seed)
        _split_holdout(run)
        _pixel_mean(run)
        return fit_run(run)
    except BaseException:
        if run.chief and rundir.discard_unstarted(out, created):
            print(f"Removed {out}: the run stopped before its first epoch (nothing of it "
                  "to resume), so the corrected command starts afresh")
        raise


def _load_data(run: RunState) -> None:
    """Sets ``full_train``, ``test_split``, ``k`` and ``val_name`` (and ``val_split``
    for an image folder with its own validation folder). The data come first (an image
    folder is decoded once: an unreadable file is named before anything is written);
    validation (best checkpoint, plateau schedules) on a holdout of ``k`` training
    images, or on the ``k`` images of the folder's ``val/`` (``valid/``,
    ``validation/``) beside ``train/`` and ``test/`` when ``holdout`` is not given; the
    test set only gives the final score."""
    c = run.config
    source = dict(data_dir=c.data_dir, manual_dir=c.manual_dir,
                  skip_bad_images=c.skip_bad_images)
    full_train = load_split(c.dataset, "train", **source)
    if c.max_train_examples:  # a random choice: a folder lists its files class by class
        full_train = full_train.sample(c.max_train_examples, c.seed)
    test_split = load_split(c.dataset, "test", **source)
    check_held_out_classes(test_split, full_train, c.dataset)
    val_folder = validation_folder(c.dataset)
    if val_folder and c.holdout is None:  # train/, val/, test/: validate on val/
        run.val_split = load_split(c.dataset, "validation", **source)
        check_held_out_classes(run.val_split, full_train, c.dataset)
        run.k, run.val_name = run.val_split.size, val_folder
        print(f"Note: validating on {os.path.join(c.dataset, val_folder)} (best checkpoint, "
              "plateau schedule) and scoring on test/; --holdout K validates on K of the "
              "training images instead")
    else:
        run.k = holdout_count(c.holdout, full_train.size)
        run.val_name = "holdout" if run.k else "test"
        if val_folder:
            print(f"Note: {os.path.join(c.dataset, val_folder)} is not read: --holdout "
                  f"{c.holdout} validates on " + ("training images" if run.k else "test/")
                  + f"; leave --holdout out to validate on {val_folder}/")
    if full_train.files and test_split.files and full_train.name == test_split.name:
        print(f"Note: {test_split.name} has class folders but no train/ and test/ "
              "folders, so both splits are the whole folder and the test score is on the "
              "images the network trains on; put some in train/ and the rest in test/ "
              "for a score on unseen ones")
    if c.max_test_examples:
        test_split = test_split.sample(c.max_test_examples, c.seed)
    run.full_train, run.test_split = full_train, test_split


def _choose_input(run: RunState) -> None:
    """Sets ``input_shape``, ``resize``, ``size_from`` (:func:`resolve_input`), the
    weights' own normalisation (``given_mean``, ``in_model``); CIFAR family: the
    splits resized to the input size (a note says how many sizes differed). Grey
    weights on data that holds colour: a note says the images are read in grey."""
    c, spec = run.config, run.spec
    run.input_shape, run.resize, run.size_from = resolve_input(
        spec, run.full_train, c.image_size, weights_shape(spec, c.weights))
    if run.channels == 1 and run.full_train.has_colour():  # grey already: nothing lost
        print(f"Note: the weights {c.weights} take 1-channel (grey) images, so the images "
              f"of {c.dataset} are converted to greyscale (any colour is lost), here and in "
              "this run's predict/evaluate/export; to keep colour, train from scratch "
              "(leave --weights out) or fine-tune RGB weights (e.g. --model resnet18 "
              "--weights resnet18.tv_in1k)")
    if spec.family == "cifar":
        hw = tuple(run.input_shape[:2])
        sizes = set()
        for s in (run.full_train, run.test_split, run.val_split):
            if s is None:
                continue
            sizes |= set(s.image_sizes or ()) or {tuple(s.image_shape[:2])}
        other = sorted(x for x in sizes if x != hw and None not in x)
        if other:
            shown = ", ".join("x".join(map(str, x)) for x in other[:3])
            print(f"Note: images of {len(other)} other size(s) ({shown}"
                  f"{', ...' if len(other) > 3 else ''}) are resized to {hw[0]}x{hw[1]} "
                  "(bilinear, antialiased); --image-size H W chooses the size")
        run.full_train, run.test_split = run.full_train.resized(hw), run.test_split.resized(hw)
        if run.val_split is not None:
            run.val_split = run.val_split.resized(hw)
    run.given_mean, run.in_model = (
        weights_normalisation(spec, c.weights, run.input_shape) if c.weights
        else (None, None))


def _record_config(run: RunState) -> None:
    """Sets ``record``: config.json's content (what a resumed run must match), as it
    reads back from the file."""
    c = run.config
    record = {"model": run.spec.name, "dataset": c.dataset,
              "recipe": dataclasses.asdict(run.recipe), "epochs": run.epochs,
              "batch_size": run.batch_size, "seed": c.seed, "holdout": run.k,
              "validation": run.val_name, "max_train_examples": c.max_train_examples,
              "max_test_examples": c.max_test_examples, "scale_lr": c.scale_lr,
              "shortcut": c.shortcut, "width_multiplier": c.width_multiplier,
              "precision": keras.config.dtype_policy().name,
              "image_size": list(c.image_size) if c.image_size else None,
              "weights": os.fspath(c.weights) if c.weights else None,
              "freeze_backbone": c.freeze_backbone,
              "skip_bad_images": bool(c.skip_bad_images)}
    run.record = json.loads(json.dumps(record))


def _check_placement(run: RunState, strategy) -> None:
    """Sets ``placement``, ``onednn`` and ``split_by_jax``; refuses what the devices
    cannot run (before the run directory is written) and warns of slow CPU paths."""
    c = run.config
    if c.overwrite and num_workers() > 1:
        raise ValueError("--overwrite with several workers could let a worker read the old "
                         "run's backups before the chief deletes them: delete the run "
                         f"directory {c.out} first, then start every worker")
    placement = run.placement = choose_placement(strategy)
    _warn_slow_cpu(run)
    devices = placement.devices
    run.split_by_jax = placement.strategy is None and devices > 1
    if run.split_by_jax and run.batch_size % devices:
        raise ValueError(f"batch_size {run.batch_size} does not split evenly over "
                         f"{devices} devices; use a multiple of {devices}")
    held = run.k if run.val_split is None else 0  # a validation folder: none held out
    if run.split_by_jax and run.full_train.size - held < devices:
        raise ValueError(f"{run.full_train.size - held} training image(s) cannot be split "
                         f"over {devices} devices; use at least {devices}")


def _warn_slow_cpu(run: RunState) -> None:
    """Sets ``onednn``; warns of bfloat16 emulated on a CPU and of TensorFlow without
    its oneDNN kernels (stacklevel: the caller of train())."""
    placement = run.placement
    if (run.record["precision"] == "mixed_bfloat16" and placement.on_cpu
            and placement.backend == "tensorflow" and cpu.cpu_bf16_units() == []):
        warnings.warn(
            "precision bfloat16 on a CPU without bfloat16 instructions (/proc/cpuinfo "
            "lists no avx512_bf16, amx_bf16 or AArch64 bf16): TensorFlow emulates it "
            "with float32 units, and a ResNet-20 training step measured "
            f"{BF16_SLOWDOWN_MEASURED} slower than float32 on such a CPU "
            "(docs/benchmarks.md, 'Training precision'). Use precision float32 here; "
            "bfloat16 pays off on CPUs with those instructions and on accelerators",
            UserWarning, stacklevel=5)
    run.onednn = cpu.tf_onednn_enabled() if placement.backend == "tensorflow" else None
    if run.onednn is False and placement.on_cpu and cpu.onednn_env_choice() is not False:
        warnings.warn(
            "TensorFlow runs without its oneDNN kernels: on this CPU (no AVX512_VNNI, "
            "AVX512_BF16, AVX-VNNI or AMX) that is its default, and keras_resnet can only "
            "change it before TensorFlow is imported. ResNet-20 training measured "
            f"{ONEDNN_SPEEDUP_MEASURED} faster with them on such a CPU (docs/benchmarks.md, "
            "'Training precision'). Put `import keras_resnet` before `import keras` / "
            "`import tensorflow`, or set TF_ENABLE_ONEDNN_OPTS=1 in the environment "
            "before Python starts (TF_ENABLE_ONEDNN_OPTS=0 silences this)",
            UserWarning, stacklevel=5)


def _split_holdout(run: RunState) -> None:
    """Sets ``train_split`` and ``val_split``: ``k`` training images held out (cut to
    ``max_test_examples``, a seeded random choice:
    :meth:`~keras_resnet.data.sources.Split.sample`), or the test set when ``k`` is 0."""
    c = run.config
    if run.val_split is not None:  # the dataset's own validation folder
        run.train_split = run.full_train
        if c.max_test_examples:
            run.val_split = run.val_split.sample(c.max_test_examples, c.seed)
    elif run.k:
        run.train_split, run.val_split = holdout_split(run.full_train, run.k)
        if c.max_test_examples:
            run.val_split = run.val_split.sample(c.max_test_examples, c.seed)
    else:
        run.train_split, run.val_split = run.full_train, run.test_split


def _pixel_mean(run: RunState) -> None:
    """Sets ``pixel_mean`` (a resumed run keeps its own; else the weights', else the
    training data's) and writes the run's input record (chief only)."""
    c, spec = run.config, run.spec
    run.pixel_mean = rundir.read_pixel_mean(c.out)
    if run.pixel_mean is None:
        run.pixel_mean = run.given_mean if run.given_mean is not None else compute_pixel_mean(
            run.train_split, spec.family, run.channels,
            resize=run.resize or IMAGENET_EVAL_RESIZE, crop=run.input_shape[0])
    if run.chief:
        names = tuple(run.train_split.class_names) if run.train_split.class_names else None
        rundir.write_inputs(c.out, rundir.InputRecord(
            spec.name, spec.family, tuple(run.input_shape), run.resize, names, c.dataset),
            run.pixel_mean)


def _keep_tensorflow_off_gpus():
    """Under the JAX backend TensorFlow only runs the input pipeline: hide the GPUs from
    it, or it reserves most of their memory, which JAX needs."""
    import tensorflow as tf

    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # TensorFlow has already initialised its devices
        pass


