"""``train``: one function behind ``keras-resnet train``. The run directory it writes
(config, model, pixel mean, inference record, log, checkpoints, backups, metrics,
curves) is described and read back by :mod:`keras_resnet.rundir`.

The run's options are a :class:`~keras_resnet.training.TrainConfig` (checked when it
is made); ``train`` runs them as a sequence of named steps over one :class:`_Run`
state: resolve network and recipe (``TrainConfig.resolve``), load data and holdout
count, choose the input, record the config, check the placement, prepare the run
directory, split the holdout, pixel mean, then in :func:`_fit`: build, compile per
phase, resume, evaluation data, callbacks, fit the phases, score, save.

Validation (the best checkpoint, plateau schedules, the curves' bold line) uses a
holdout of the training data, 10% by default (the paper's CIFAR split is 45k/5k); the
test set gives only the final score. ``holdout=0`` trains on all training data and
then validates on the test set, which config.json records as ``"validation": "test"``.

Everything that can be checked is checked before the run directory is written: the
options (TrainConfig), the data (a folder's files are decoded once: an unreadable one
is named), the image size, the weights to start from; and a run that fails before its
first epoch is logged removes the directory it created, so the corrected command
starts afresh.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
import warnings
from typing import Any

import keras
import numpy as np

from .. import cpu, rundir
from ..data.augment import (IMAGENET_CROP, IMAGENET_EVAL_RESIZE, IMAGENET_SCALE_RANGE,
                            compute_pixel_mean, eval_dataset, train_dataset)
from ..data.sources import holdout_split, load_split
from ..evaluation.curves import plot_run
from ..io import atomic_write, write_file
from ..pretrained import registry
from ..pretrained.loading import default_shape_for
from ..pretrained.transforms import resolve_preprocessing
from ..preprocessing import Preprocessing
from ..pretrained.weights import Weights, resolve_weights
from ..rundir import PLACEMENT_KEYS, RunConfigMismatch  # noqa: F401  (re-exported)
from ..zoo import build, run_class_names
from .callbacks import RunKeeper, SyncReplicaStatistics
from .config import (BF16_SLOWDOWN_MEASURED, DEFAULT_HOLDOUT, ONEDNN_SPEEDUP_MEASURED,  # noqa: F401
                     PRECISION_OF_POLICY, PRECISIONS, UNFROZEN_LR_FACTOR, TrainConfig,
                     check_image_size, default_recipe, holdout_count)
from .fused_bn import fused_batchnorm
from .recipes import Recipe, make_optimizer
from .strategy import (choose_placement, is_chief, multi_worker_trainer, num_workers,
                       sync_moving_statistics)

__all__ = ["RunConfigMismatch", "TrainConfig", "run_class_names", "train"]
# TensorFlow itself is imported inside the three helpers that call it: under the JAX
# backend nothing else here needs it, and _keep_tensorflow_off_gpus must run before it
# initialises its devices.


def resolve_input(spec, train_split, image_size=None, weights_shape=None):
    """``(input_shape, resize, why)``: what the network takes, the ImageNet family's
    evaluation resize (None for CIFAR), and where the size came from (for the log).

    CIFAR family (a fixed size): ``image_size``; else the size the weights were trained
    at (fine-tuning: the filters see objects at the scale they learnt; on
    examples/finetune_folder.py's 32x32 photos the shipped 28x28 ResNet-20 reached
    90.75% fine-tuned at 28x28 and 86.5% at 32x32, 6 epochs each); else the data's size
    when all images share one; else the family's 32x32. ImageNet family: a square crop
    of ``image_size`` (default 224, the paper's), the evaluation resize 256/224 of it.
    Channels: the weights' (grey weights read grey images), else the data's (image
    folders: 3).

    Raises:
        ValueError: a non-square ImageNet-family size, or a size that is not 2 positive
            integers.
    """
    check_image_size(image_size, spec.family)  # TrainConfig's check, for direct callers
    image_size = tuple(image_size) if image_size is not None else None
    channels = int(weights_shape[-1]) if weights_shape else int(train_split.image_shape[-1])
    if spec.family == "imagenet":
        crop = image_size[0] if image_size else spec.default_input_shape[0]
        why = "--image-size" if image_size else "the ImageNet family's size"
        return (crop, crop, channels), rundir.imagenet_resize(crop), why
    native = tuple(train_split.image_shape[:2])
    if image_size:
        hw, why = image_size, "--image-size"
    elif weights_shape:
        hw, why = tuple(weights_shape[:2]), "the weights' size"
    elif None not in native:
        hw, why = native, "the data's size"
    else:
        hw, why = tuple(spec.default_input_shape[:2]), "the CIFAR family's size"
    return (*hw, channels), None, why


def _weights_shape(spec, weights):
    """The input shape registry weights record (None for files and ImageNet tags)."""
    return default_shape_for(spec.name, weights) if weights else None


def _weights_normalisation(spec, weights, input_shape):
    """How a registry tag's own input normalisation survives fine-tuning by ``train``.

    Returns ``(pixel_mean, in_model)``. Tags trained with a per-pixel mean keep it as
    the run's pixel mean (at another size: its per-channel average) and ``in_model`` is
    None. Tags with another normalisation (keras.applications' Caffe mode, torchvision's
    mean/std) get a zero pixel mean, so the data pipeline hands the network ``x / 255``
    exactly as for every run, and ``in_model``: settings for
    :func:`~keras_resnet.arch.builder.preprocessing_layers` that take ``x / 255`` to what
    the weights expect (the tag's scale times 255, its mean/std and channel order). Those
    layers hold no variables, are saved in ``model.keras`` and are exported with it, so
    ``predict``, ``evaluate`` and every export read the run as any other.
    Files and non-tags: ``(None, None)``.
    """
    try:
        resolved = resolve_weights(weights, spec.name)
    except ValueError:
        return None, None  # build gives the error
    if not isinstance(resolved, Weights):
        return None, None
    entry = resolved.entry
    if entry.preprocessing.get("mode") == "pixel_mean":
        mean = registry.pixel_mean(entry)
        if tuple(mean.shape) != tuple(input_shape):
            mean = np.broadcast_to(mean.mean(axis=(0, 1)), input_shape).astype("float32")
        return mean, None
    settings = resolve_preprocessing(True, spec.name, entry.tag)
    if settings.mean.ndim > 1:  # a per-pixel mean under another mode: nothing registers one
        raise ValueError(f"train --weights {weights!r}: per-pixel means are read only in "
                         "'pixel_mean' mode; fine-tune these weights in Python")
    in_model = settings.replace(scale=settings.scale * 255.0)
    return np.zeros(input_shape, "float32"), in_model


def _freeze(net, phase: str):
    """``"frozen"``: only the classifier trains; ``"unfrozen"``: every layer but
    BatchNormalization (kept in inference mode with its statistics, as the
    freeze-then-unfreeze recipe does); ``"all"``: everything."""
    for layer in net.layers:
        if phase == "all":
            layer.trainable = True
        elif phase == "frozen":
            layer.trainable = layer.name == "predictions"
        else:
            layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)


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
    ``x / 255`` (see :func:`_weights_normalisation`). ``freeze_backbone=E``: the first
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
            images (named); weights that do not fit; see also
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


@dataclasses.dataclass
class _Run:
    """What one training run builds up, step by step: each step function reads the
    attributes set before it and sets its own (its docstring says which)."""

    config: TrainConfig
    verbose: Any
    plot: bool
    fused_bn: bool
    # TrainConfig.resolve
    spec: Any = None
    recipe: Recipe | None = None
    epochs: int = 0
    batch_size: int = 0
    # _load_data, _split_holdout: the splits; k images of the training data held out
    full_train: Any = None
    train_split: Any = None
    val_split: Any = None
    test_split: Any = None
    k: int = 0
    val_name: str = "test"
    # _choose_input, _pixel_mean
    input_shape: tuple = ()
    resize: int | None = None
    size_from: str = ""
    given_mean: Any = None
    in_model: Preprocessing | None = None
    pixel_mean: Any = None
    record: dict = dataclasses.field(default_factory=dict)  # config.json
    # _check_placement
    placement: Any = None
    onednn: bool | None = None
    split_by_jax: bool = False
    chief: bool = True
    # _fit's steps
    phases: list = dataclasses.field(default_factory=list)  # (phase, first, end epoch)
    phase: str = "all"
    steps_per_epoch: int = 0
    net: Any = None
    trainer: Any = None
    metrics: list = dataclasses.field(default_factory=list)
    plateau: list = dataclasses.field(default_factory=list)
    keeper: Any = None
    base_lr: float = 0.0
    start_epoch: int = 0
    val_ds: Any = None
    test_ds: Any = None
    replicas: bool = False
    history: Any = None
    seconds: float = 0.0
    scores: dict = dataclasses.field(default_factory=dict)

    @property
    def channels(self) -> int:
        return self.input_shape[-1]

    @property
    def split_over(self) -> int:
        """Devices each batch is split over (JAX splits it; tf.distribute: 1 here)."""
        return self.placement.devices if self.split_by_jax else 1


def _train(config: TrainConfig, *, verbose, strategy, plot, fused_bn) -> dict:
    """The steps before the fit (checks first, then the run directory)."""
    if keras.backend.backend() == "jax":
        _keep_tensorflow_off_gpus()
    run = _Run(config, verbose=verbose, plot=plot, fused_bn=fused_bn)
    run.spec, run.recipe, run.epochs, run.batch_size = config.resolve()
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
        return _fit(run)
    except BaseException:
        if run.chief and rundir.discard_unstarted(out, created):
            print(f"Removed {out}: the run stopped before its first epoch (nothing of it "
                  "to resume), so the corrected command starts afresh")
        raise


def _load_data(run: _Run) -> None:
    """Sets ``full_train``, ``test_split``, ``k`` and ``val_name``. The data come first
    (an image folder is decoded once: an unreadable file is named before anything is
    written); validation (best checkpoint, plateau schedules) on a holdout of ``k``
    training images, the test set only gives the final score."""
    c = run.config
    source = dict(data_dir=c.data_dir, manual_dir=c.manual_dir,
                  skip_bad_images=c.skip_bad_images)
    full_train = load_split(c.dataset, "train", **source)
    if c.max_train_examples:
        full_train = full_train.take(c.max_train_examples)
    run.k = holdout_count(c.holdout, full_train.size)
    run.val_name = "holdout" if run.k else "test"
    test_split = load_split(c.dataset, "test", **source)
    if c.max_test_examples:
        test_split = test_split.take(c.max_test_examples)
    run.full_train, run.test_split = full_train, test_split


def _choose_input(run: _Run) -> None:
    """Sets ``input_shape``, ``resize``, ``size_from`` (:func:`resolve_input`), the
    weights' own normalisation (``given_mean``, ``in_model``); CIFAR family: the
    splits resized to the input size (a note says how many sizes differed)."""
    c, spec = run.config, run.spec
    run.input_shape, run.resize, run.size_from = resolve_input(
        spec, run.full_train, c.image_size, _weights_shape(spec, c.weights))
    if spec.family == "cifar":
        hw = tuple(run.input_shape[:2])
        sizes = set()
        for s in (run.full_train, run.test_split):
            sizes |= set(s.image_sizes or ()) or {tuple(s.image_shape[:2])}
        other = sorted(x for x in sizes if x != hw and None not in x)
        if other:
            shown = ", ".join("x".join(map(str, x)) for x in other[:3])
            print(f"Note: images of {len(other)} other size(s) ({shown}"
                  f"{', ...' if len(other) > 3 else ''}) are resized to {hw[0]}x{hw[1]} "
                  "(bilinear, antialiased); --image-size H W chooses the size")
        run.full_train, run.test_split = run.full_train.resized(hw), run.test_split.resized(hw)
    run.given_mean, run.in_model = (
        _weights_normalisation(spec, c.weights, run.input_shape) if c.weights
        else (None, None))


def _record_config(run: _Run) -> None:
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


def _check_placement(run: _Run, strategy) -> None:
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
    if run.split_by_jax and run.full_train.size - run.k < devices:
        raise ValueError(f"{run.full_train.size - run.k} training image(s) cannot be split "
                         f"over {devices} devices; use at least {devices}")


def _warn_slow_cpu(run: _Run) -> None:
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


def _split_holdout(run: _Run) -> None:
    """Sets ``train_split`` and ``val_split``: ``k`` training images held out (cut to
    ``max_test_examples``), or the test set when ``k`` is 0."""
    c = run.config
    if run.k:
        run.train_split, run.val_split = holdout_split(run.full_train, run.k)
        if c.max_test_examples:
            run.val_split = run.val_split.take(c.max_test_examples)
    else:
        run.train_split, run.val_split = run.full_train, run.test_split


def _pixel_mean(run: _Run) -> None:
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


def _even_batches(ds, devices: int, *, pad: bool):
    """Batches whose size is a multiple of ``devices`` (JAX splits each batch evenly).

    ``pad=False`` (training) trims a batch to a multiple (a last short batch loses at
    most ``devices - 1`` images; an empty one is dropped); ``pad=True`` (evaluation)
    pads with zero images of weight 0, so accuracies count every real image exactly.
    """
    import tensorflow as tf

    if devices == 1:
        return ds
    if not pad:
        def trim(x, y):
            k = tf.shape(y)[0] // devices * devices
            return x[:k], y[:k]

        return ds.map(trim).filter(lambda x, y: tf.shape(y)[0] > 0).prefetch(tf.data.AUTOTUNE)

    def padded(x, y):
        n = tf.shape(y)[0]
        k = (devices - n % devices) % devices
        x = tf.pad(x, tf.concat([[[0, k]], tf.zeros([tf.rank(x) - 1, 2], "int32")], 0))
        weights = tf.concat([tf.ones([n]), tf.zeros([k])], 0)
        return x, tf.pad(y, [[0, k]]), weights

    return ds.map(padded).prefetch(tf.data.AUTOTUNE)


@contextlib.contextmanager
def _worker_faults(placement, keeper):
    """Under a multi-worker strategy, a worker that dies makes the others' collective
    ops fail (TensorFlow aborts them once the peer's connection drops). Turn that into
    one clear error saying how to resume; single-process errors pass through as they
    are."""
    try:
        yield
    except Exception as err:  # noqa: BLE001 - re-raised unless it is a peer failure
        import tensorflow as tf

        strategy = placement.strategy
        peer_failure = (tf.errors.UnavailableError, tf.errors.AbortedError,
                        tf.errors.CancelledError, tf.errors.DeadlineExceededError)
        if not (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
                and (isinstance(err, peer_failure)
                     or (isinstance(err, tf.errors.InternalError)
                         and "collective" in str(err).lower()))):
            raise  # out of memory, bad data, ...: not a dead worker
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RuntimeError(
            f"a worker of this multi-worker job stopped ({type(err).__name__}: {first}); "
            f"the last backup is after epoch {keeper.latest_backup_epoch()} in "
            f"{keeper.backup_dir}. Start every worker again with the same command and "
            "TF_CONFIG to resume from it") from err


def _fit(run: _Run) -> dict:
    """The run itself, once its directory is set up: build (and load the weights),
    compile per phase, resume, fit, score, save. Returns the metrics."""
    run.phases = _phases(run.config.freeze_backbone, run.epochs)
    run.steps_per_epoch = _steps_per_epoch(run)
    placement = run.placement
    with placement.run_scope():
        with placement.build_scope():
            _build(run)
            _resume(run)
        _eval_datasets(run)
        callbacks = _callbacks(run)
        _announce(run)
        start = time.perf_counter()
        with _worker_faults(placement, run.keeper):
            _fit_phases(run, callbacks)
            run.seconds = time.perf_counter() - start
            _score(run)
    history = run.history
    if history is not None and history.history.get("loss") and \
            not np.isfinite(history.history["loss"][-1]):
        raise FloatingPointError("training diverged (loss is not finite); see log.csv")
    result = _result(run)
    _save(run, result)
    return result


def _phases(freeze_backbone: int, epochs: int) -> list:
    """``[(phase, first epoch, end epoch)]``: fine-tuning with a frozen backbone first
    (``"frozen"`` then ``"unfrozen"``), else ``"all"``."""
    if freeze_backbone:
        return [p for p in [("frozen", 0, freeze_backbone),
                            ("unfrozen", freeze_backbone, epochs)] if p[1] < p[2]]
    return [("all", 0, epochs)]


def _steps_per_epoch(run: _Run) -> int:
    """Training steps per epoch (JAX over several devices: batches trimmed to a
    multiple of the device count)."""
    size, batch = run.train_split.size, run.batch_size
    if run.split_by_jax:
        return size // batch + (size % batch >= run.placement.devices)
    return -(-size // batch)


def _build(run: _Run) -> None:
    """Sets ``net`` (built, with the weights loaded), ``trainer`` and ``metrics``."""
    c, spec = run.config, run.spec
    net_input = tuple(run.input_shape) if spec.family == "cifar" else \
        (None, None, run.channels)
    run.net = build(spec, input_shape=net_input, classes=run.train_split.num_classes,
                    weight_decay=run.recipe.weight_decay, shortcut=c.shortcut,
                    weights=c.weights, include_preprocessing=run.in_model or False)
    run.trainer = multi_worker_trainer(run.net)  # net itself, except with several workers
    run.metrics = ["accuracy"]
    if run.train_split.num_classes > 5:
        run.metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5"))


def _compile(run: _Run, phase: str) -> float:
    """Set the trainable layers for ``phase`` and compile a fresh optimiser whose
    schedule spans the phase's epochs. Returns the base rate."""
    if phase != "all":
        _freeze(run.net, phase)
    r = run.recipe
    if phase == "unfrozen":
        r = r.replace(learning_rate=r.learning_rate * UNFROZEN_LR_FACTOR,
                      warmup_learning_rate=None if r.warmup_learning_rate is None
                      else r.warmup_learning_rate * UNFROZEN_LR_FACTOR)
    first, end = next((a, b) for p, a, b in run.phases if p == phase)
    optimizer, base = make_optimizer(
        r, steps_per_epoch=run.steps_per_epoch, epochs=end - first, depth=run.spec.depth,
        global_batch=run.batch_size, scale_lr=run.config.scale_lr)
    # Weighted metrics and a loss averaged over the weights: evaluation batches padded
    # for JAX devices carry weight-0 images that must not count (without weights both
    # equal Keras' defaults).
    loss = keras.losses.SparseCategoricalCrossentropy(reduction="mean_with_sample_weight")
    if keras.config.dtype_policy().name == "mixed_float16":
        # Dynamic loss scaling. compile() would add the same wrapper by itself, but then
        # the saved compile config names the bare optimiser, and loading model.keras
        # skips the wrapper's variables with a warning.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer,
                                                        name="loss_scale_optimizer")
    run.trainer.compile(optimizer=optimizer, loss=loss, weighted_metrics=run.metrics)
    return base


def _resume(run: _Run) -> None:
    """Sets ``plateau``, ``keeper``, ``phase``, ``base_lr`` and ``start_epoch``: compile
    for the phase of the newest backup and restore it (0: a new run)."""
    r, epochs = run.recipe, run.epochs
    if r.schedule == "plateau":
        run.plateau = [keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.1, patience=r.plateau_patience, verbose=1)]
    run.keeper = RunKeeper(run.config.out, chief=run.chief, stateful=run.plateau)
    # The phase the newest backup was written in (its optimiser state must find the
    # same variables): a backup at the end of the frozen phase still is one.
    backup = run.keeper.latest_backup_epoch()
    run.phase = next((p for p, a, b in run.phases
                      if backup <= b and (backup < b or p == "frozen")), run.phases[-1][0])
    run.base_lr = _compile(run, run.phase)
    # Resume from the newest backup that loads. The training data start there: epoch
    # e's order and augmentation depend on (seed, e) only, so a resumed run trains on
    # the batches an uninterrupted one would.
    run.start_epoch = min(run.keeper.restore(run.trainer), epochs)
    if run.start_epoch == epochs:
        print(f"This run is already complete ({epochs}/{epochs} epochs in "
              f"{run.config.out}); evaluating its model again.")


def _eval_datasets(run: _Run) -> None:
    """Sets ``val_ds`` and ``test_ds`` (the same when validating on the test set)."""
    family, batch = run.spec.family, max(run.batch_size, 256)
    options = dict(channels=run.channels)
    if run.resize:
        options.update(resize=run.resize, crop=run.input_shape[0])

    def batches(split):
        return _even_batches(eval_dataset(split, family, run.pixel_mean, batch_size=batch,
                                          **options), run.split_over, pad=True)

    run.val_ds = batches(run.val_split)
    run.test_ds = batches(run.test_split) if run.k else run.val_ds


def _callbacks(run: _Run) -> list:
    """The fit's callbacks (sets ``replicas``); the RunKeeper last: it logs what the
    others have added."""
    out, placement = run.config.out, run.placement
    tb_dir = os.path.join(out, "tensorboard") if run.chief else os.path.join(
        out, ".tensorboard-worker-tmp")
    run.replicas = placement.strategy is not None and \
        placement.strategy.num_replicas_in_sync > 1
    sync = [SyncReplicaStatistics(placement.strategy, run.net)] if run.replicas else []
    return [keras.callbacks.TerminateOnNaN(),
            keras.callbacks.TensorBoard(tb_dir, write_graph=False, profile_batch=0),
            *run.plateau, *sync, run.keeper]


def _announce(run: _Run) -> None:
    """Print the run's one-line summary."""
    c, r = run.config, run.recipe
    shape = run.input_shape
    source = ("" if c.recipe is not None
              else " (the default for this network and data; --recipe to choose)")
    tuning = (f"; fine-tuning {c.weights}" + (
        f": {c.freeze_backbone} epoch(s) with the backbone frozen, then the whole net "
        f"(BatchNormalization excepted) at {UNFROZEN_LR_FACTOR:g}x the rate"
        if c.freeze_backbone else "")) if c.weights else ""
    test = f" / {run.test_split.size} test" if run.k else ""
    print(f"Training {run.spec.name} ({run.net.count_params():,} parameters) on "
          f"{c.dataset}: {run.train_split.size} train / {run.val_split.size} "
          f"{run.val_name} (validation){test} images of "
          f"{shape[0]}x{shape[1]}x{run.channels} ({run.size_from}), recipe "
          f"{r.name}{source} ({r.reference}), {run.epochs} epochs x "
          f"{run.steps_per_epoch} steps, global batch {run.batch_size}, base lr "
          f"{run.base_lr:g}, precision {run.record['precision']}{tuning}; "
          f"{run.placement.description}. Run dir: {c.out}")


def _fit_phases(run: _Run, callbacks: list) -> None:
    """``model.fit`` over each phase not done yet (sets ``history``); a new phase
    recompiles (its trainable layers, its optimiser)."""
    c, keeper, crop = run.config, run.keeper, run.input_shape[0]
    start_epoch = run.start_epoch
    for phase, first, end in run.phases:
        if start_epoch >= end:
            continue
        if phase != run.phase:
            run.phase = phase
            with run.placement.build_scope():
                _compile(run, phase)
            keeper._callback_state = {}
        initial = max(start_epoch, first)
        keeper.start_epoch = initial
        train_ds = _even_batches(
            train_dataset(run.train_split, run.spec.family, run.pixel_mean, run.batch_size,
                          channels=run.channels, seed=c.seed,
                          crop=run.recipe.augmentation == "pad-crop-flip", epochs=end,
                          initial_epoch=initial, **_train_sizes(run.spec.family, crop)),
            run.split_over, pad=False)
        with fused_batchnorm(run.net, enabled=run.fused_bn):  # net's layers only
            run.history = run.trainer.fit(
                train_ds, validation_data=run.val_ds, epochs=end, initial_epoch=initial,
                steps_per_epoch=run.steps_per_epoch, verbose=run.verbose,
                callbacks=callbacks, shuffle=False)  # the pipeline shuffles
        start_epoch = end


def _score(run: _Run) -> None:
    """Sets ``scores``: the holdout's (if any) and the test set's. Several replicas:
    their BatchNormalization statistics are averaged first (the saved model's)."""
    if run.replicas:
        sync_moving_statistics(run.net, run.placement.strategy)
    sets = [("holdout", run.val_ds)] * bool(run.k) + [("test", run.test_ds)]
    run.scores = {name: run.trainer.evaluate(ds, verbose=0, return_dict=True)
                  for name, ds in sets}


def _result(run: _Run) -> dict:
    """metrics.json's content."""
    p = run.placement
    result = {"model": run.spec.name, "dataset": run.config.dataset,
              "recipe": run.recipe.name, "epochs": run.epochs,
              "resumed_from_epoch": run.keeper.resumed_from,
              "train_examples": run.train_split.size, "validation": run.val_name,
              f"{run.val_name}_examples": run.val_split.size,
              "test_examples": run.test_split.size, "input_shape": list(run.input_shape),
              "train_seconds_this_process": round(run.seconds, 1),
              "precision": run.record["precision"], "backend": p.backend,
              "devices": p.devices, "tf_onednn": run.onednn,
              # the optimiser is wrapped under mixed_float16 (dynamic loss scaling)
              "loss_scaling": isinstance(run.trainer.optimizer,
                                         keras.optimizers.LossScaleOptimizer)}
    for name, values in run.scores.items():
        result[f"{name}_accuracy"] = float(values["accuracy"])
        result[f"{name}_top1_error"] = 1.0 - float(values["accuracy"])
    return result


def _save(run: _Run, result: dict) -> None:
    """Write model.keras, metrics.json and curves.png (chief only); print the score."""
    out = run.config.out
    paths = rundir.paths(out)
    if run.chief:
        atomic_write(paths["model"], run.net.save)
        write_file(paths["metrics"], json.dumps(result, indent=2) + "\n")
        if run.plot:
            plot_run(out)
    held = f"holdout accuracy {result['holdout_accuracy']:.2%}; " if run.k else ""
    print(f"{held}test accuracy: {result['test_accuracy']:.2%}  "
          f"(top-1 error {result['test_top1_error']:.2%}). Saved {paths['model']}")


def _train_sizes(family, crop):
    """The ImageNet training transform for a crop size: the paper's [256, 480] scale
    range at 224, in proportion at other sizes."""
    if family != "imagenet":
        return {}
    lo, hi = (round(crop * s / IMAGENET_CROP) for s in IMAGENET_SCALE_RANGE)
    return {"imagenet_crop": crop, "imagenet_scale_range": (lo, hi)}
