"""``train``: one function behind ``keras-resnet train``. The run directory it writes
(config, model, pixel mean, inference record, log, checkpoints, backups, metrics,
curves) is described and read back by :mod:`keras_resnet.rundir`.

Validation (the best checkpoint, plateau schedules, the curves' bold line) uses a
holdout of the training data, 10% by default (the paper's CIFAR split is 45k/5k); the
test set gives only the final score. ``holdout=0`` trains on all training data and
then validates on the test set, which config.json records as ``"validation": "test"``.

Everything that can be checked is checked before the run directory is written: the
data (a folder's files are decoded once: an unreadable one is named), the image size,
the weights to start from; and a run that fails before its first epoch is logged
removes the directory it created, so the corrected command starts afresh.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
import warnings

import numpy as np

from .. import rundir
from ..io import atomic_write, write_file
from ..rundir import PLACEMENT_KEYS, RunConfigMismatch  # noqa: F401  (re-exported)
from ..data.augment import IMAGENET_CROP, IMAGENET_EVAL_RESIZE, IMAGENET_SCALE_RANGE
from ..zoo import build, run_class_names

__all__ = ["RunConfigMismatch", "run_class_names", "train"]


DEFAULT_HOLDOUT = 0.1  # of the training data: the paper's CIFAR 45k/5k split
# --precision: Keras' dtype policy for each (variables stay float32 in the mixed ones)
PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
# Quoted by train()'s warnings; measured by bench/train_throughput_vs_torch.py on a 2-core
# AVX2 AMD EPYC, docs/benchmarks.md "Training precision" (keep the two in step).
BF16_SLOWDOWN_MEASURED = "12x"
ONEDNN_SPEEDUP_MEASURED = "1.8x"
_PRECISION_OF_POLICY = {policy: name for name, policy in PRECISIONS.items()}
# Fine-tuning (freeze_backbone): the whole network (BatchNormalization excepted) trains
# after the frozen epochs at this fraction of the recipe's rate, the usual 10x lower
# rate of the freeze-then-unfreeze recipe (Keras' transfer-learning guide, and
# examples/transfer_learning.py).
UNFROZEN_LR_FACTOR = 0.1


def holdout_count(holdout, train_size: int) -> int:
    """How many training examples to keep apart for validation.

    Args:
        holdout: None (the default, 10%), a fraction ``0 < f < 1``, or a count (0 trains
            on everything and validates on the test set).
        train_size: examples in the training split.

    Raises:
        ValueError: a negative value, or one that leaves nothing to train on.
    """
    if holdout is None:
        holdout = DEFAULT_HOLDOUT
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or holdout < 0:
        raise ValueError(f"holdout must be a count >= 0 or a fraction in (0, 1), got "
                         f"{holdout!r}")
    k = round(holdout * train_size) if isinstance(holdout, float) and holdout < 1 else holdout
    if k != int(k):
        raise ValueError(f"holdout must be a whole count or a fraction below 1, got {holdout!r}")
    k = int(k)
    if holdout and not 0 < k < train_size:
        raise ValueError(f"holdout={holdout!r} keeps {k} of {train_size} training examples "
                         "apart; it must leave at least one on each side (--holdout 0 "
                         "trains on everything)")
    return k


def default_recipe(family: str, dataset: str) -> str:
    """The recipe ``train`` uses when none is given: the network family's paper recipe
    (``paper-cifar10`` or ``paper-imagenet``), except ``fashion-mnist`` (the CIFAR
    recipe shortened for a CPU) for a CIFAR-family net on Fashion-MNIST data."""
    if family == "imagenet":
        return "paper-imagenet"
    fashion = dataset in ("embedded", "fashion_mnist") or "fashion" in str(dataset).lower()
    return "fashion-mnist" if fashion else "paper-cifar10"


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
    if image_size is not None:
        image_size = tuple(image_size)
        if len(image_size) != 2 or any(not isinstance(d, int) or isinstance(d, bool)
                                       or d < 1 for d in image_size):
            raise ValueError(f"image_size must be two whole numbers (H, W), got {image_size!r}")
    channels = int(weights_shape[-1]) if weights_shape else int(train_split.image_shape[-1])
    if spec.family == "imagenet":
        if image_size and image_size[0] != image_size[1]:
            raise ValueError(f"ImageNet-family networks train on square crops (section 3.4); "
                             f"give --image-size N N, got {image_size[0]} {image_size[1]}")
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
    from ..pretrained.loading import default_shape_for

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
    from ..pretrained import registry
    from ..pretrained.transforms import resolve_preprocessing
    from ..pretrained.weights import Weights, resolve_weights

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
    import keras

    for layer in net.layers:
        if phase == "all":
            layer.trainable = True
        elif phase == "frozen":
            layer.trainable = layer.name == "predictions"
        else:
            layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)


def train(model: str = "resnet20", dataset: str = "embedded", recipe: str | None = None,
          *, epochs: int | None = None, batch_size: int | None = None,
          out: str = "runs/train", seed: int = 0, overwrite: bool = False,
          holdout: int | float | None = None, max_train_examples: int | None = None,
          max_test_examples: int | None = None, data_dir: str | None = None,
          manual_dir: str | None = None, scale_lr: bool = True, shortcut: str | None = None,
          width_multiplier: float | None = None, verbose="auto", strategy=None,
          plot: bool = True, fused_bn: bool = True, precision: str | None = None,
          image_size=None, weights: str | None = None, freeze_backbone: int = 0,
          skip_bad_images: bool = False) -> dict:
    """Train ``model`` on ``dataset`` with ``recipe``; resumable; returns final metrics.

    ``recipe``: a name of :data:`~keras_resnet.training.RECIPES`; None (the default)
    follows the network family (:func:`default_recipe`). ``batch_size`` is the global
    batch (all replicas, or all JAX devices); the learning rate is scaled from the
    recipe's batch linearly unless ``scale_lr=False``. ``fused_bn`` runs the
    BatchNormalization layers' training branch as TensorFlow's fused kernel (same
    numbers up to float rounding, ~1.6x faster CIFAR ResNet training on a 2-core CPU:
    docs/benchmarks.md; TensorFlow backend only); it is not part of the run's
    configuration. ``holdout``: see :func:`holdout_count` and the module docstring.

    Data of any source (a folder of images included) train every family:
    ``image_size`` ``(H, W)`` in pixels, see :func:`resolve_input` for the default
    (CIFAR family: the weights' size, else the data's, else 32x32; ImageNet family:
    224).
    CIFAR-family nets take images resized to it (a note says how many had another
    size); ImageNet-family nets take random crops of it (the shorter side resized to
    256/224..480/224 of the crop) and are evaluated on the centre crop after resizing to
    256/224 of it. ``skip_bad_images``: leave out unreadable files of an image folder
    (counted) instead of stopping with their names.

    Fine-tuning: ``weights`` (a registry tag or a weights file, as ``build`` takes them)
    initialise the network; a classifier for another number of classes starts afresh
    (one printed line says so). Tags trained with a per-pixel mean keep their own
    normalisation; tags with another one (keras.applications' Caffe mode, torchvision's
    mean/std) get it as weightless layers inside the network, after the run's usual
    ``x / 255`` (see :func:`_weights_normalisation`). ``freeze_backbone=E``: the
    first ``E`` epochs train the classifier only (the backbone frozen, BatchNormalization in inference mode), the rest train
    every layer but BatchNormalization at :data:`UNFROZEN_LR_FACTOR` of the recipe's
    learning rate, on the recipe's schedule over those epochs.

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

    Devices: the TensorFlow backend uses tf.distribute (``strategy``, or the automatic
    choice: :mod:`keras_resnet.training.strategy`); with several replicas the
    BatchNormalization moving statistics are averaged over them before every evaluation
    and at the end (each replica keeps its own otherwise), so ``metrics.json`` scores
    the saved model. The JAX backend uses ``keras.distribution.DataParallel`` over all
    its devices, the global batch split evenly (``batch_size`` must be a multiple of the
    device count; a last training batch is trimmed to a multiple, evaluation batches are
    padded with zero-weight images).

    Raises:
        ValueError: an unknown precision, model, recipe or dataset; bad sizes;
            unreadable images (named); weights that do not fit; see also
            :func:`~keras_resnet.training.strategy.choose_placement`.
        RunConfigMismatch: ``out`` holds a run with another configuration.
    """
    import keras

    if isinstance(precision, str):
        precision = _PRECISION_OF_POLICY.get(precision, precision)  # a policy name
    if precision is None:
        current = keras.config.dtype_policy().name
        precision = _PRECISION_OF_POLICY.get(current)
        if precision is None:
            raise ValueError(f"the global dtype policy is {current!r}; train() runs "
                             f"{sorted(PRECISIONS.values())}: pass precision= one of "
                             f"{sorted(PRECISIONS)}")
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(PRECISIONS[precision])
    try:
        return _train(model, dataset, recipe, epochs=epochs, batch_size=batch_size,
                      out=out, seed=seed, overwrite=overwrite, holdout=holdout,
                      max_train_examples=max_train_examples,
                      max_test_examples=max_test_examples, data_dir=data_dir,
                      manual_dir=manual_dir, scale_lr=scale_lr, shortcut=shortcut,
                      width_multiplier=width_multiplier, verbose=verbose,
                      strategy=strategy, plot=plot, fused_bn=fused_bn,
                      precision=precision, image_size=image_size, weights=weights,
                      freeze_backbone=freeze_backbone, skip_bad_images=skip_bad_images)
    finally:
        keras.config.set_dtype_policy(previous_policy)


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


def _train(model, dataset, recipe, *, epochs, batch_size, out, seed, overwrite, holdout,
           max_train_examples, max_test_examples, data_dir, manual_dir, scale_lr,
           shortcut, width_multiplier, verbose, strategy, plot, fused_bn, precision,
           image_size, weights, freeze_backbone, skip_bad_images):
    import keras

    if keras.backend.backend() == "jax":
        _keep_tensorflow_off_gpus()
    from ..data.augment import compute_pixel_mean
    from ..data.sources import holdout_split, load_split
    from ..arch.specs import get_spec
    from .recipes import get_recipe
    from .. import cpu
    from .strategy import choose_placement, is_chief, num_workers

    if isinstance(dataset, (str, os.PathLike)) and os.path.isdir(dataset):
        # recorded absolute, so that evaluate/predict/export of the run find its images
        # from any working directory
        dataset = os.path.abspath(dataset)
    spec = get_spec(model)
    if width_multiplier is not None:
        from ..arch.specs import cifar_spec

        if spec.family != "cifar":
            raise ValueError("width_multiplier applies to CIFAR-family networks")
        spec = cifar_spec(spec.depth, residual=spec.residual, width_multiplier=width_multiplier)
    r = get_recipe(recipe if recipe is not None else default_recipe(spec.family, dataset))
    epochs = r.epochs if epochs is None else epochs
    batch_size = r.batch_size if batch_size is None else batch_size
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be >= 1")
    freeze_backbone = int(freeze_backbone or 0)
    if freeze_backbone < 0 or freeze_backbone > epochs:
        raise ValueError(f"freeze_backbone must be between 0 and the {epochs} epochs, got "
                         f"{freeze_backbone}")
    if freeze_backbone and not weights:
        raise ValueError("freeze_backbone (--freeze-backbone) fine-tunes pretrained weights: "
                         "give them with weights= (--weights TAG_OR_FILE)")

    # The data first (an image folder is decoded once: an unreadable file is named
    # before anything is written), then the input size. Validation (best checkpoint,
    # plateau schedules) on a holdout of the training data; the test set only gives
    # the final score.
    full_train = load_split(dataset, "train", data_dir=data_dir, manual_dir=manual_dir,
                            skip_bad_images=skip_bad_images)
    if max_train_examples:
        full_train = full_train.take(max_train_examples)
    k = holdout_count(holdout, full_train.size)
    val_name = "holdout" if k else "test"
    test_split = load_split(dataset, "test", data_dir=data_dir, manual_dir=manual_dir,
                            skip_bad_images=skip_bad_images)
    if max_test_examples:
        test_split = test_split.take(max_test_examples)
    family = spec.family  # the network's family picks the augmentation (CIFAR or ImageNet style)
    input_shape, resize, size_from = resolve_input(spec, full_train, image_size,
                                                   _weights_shape(spec, weights))
    channels = input_shape[-1]
    if family == "cifar":
        hw = tuple(input_shape[:2])
        sizes = set()
        for s in (full_train, test_split):
            sizes |= set(s.image_sizes or ()) or {tuple(s.image_shape[:2])}
        other = sorted(x for x in sizes if x != hw and None not in x)
        if other:
            shown = ", ".join("x".join(map(str, x)) for x in other[:3])
            print(f"Note: images of {len(other)} other size(s) ({shown}"
                  f"{', ...' if len(other) > 3 else ''}) are resized to {hw[0]}x{hw[1]} "
                  "(bilinear, antialiased); --image-size H W chooses the size")
        full_train, test_split = full_train.resized(hw), test_split.resized(hw)
    given_mean, in_model = (_weights_normalisation(spec, weights, input_shape) if weights
                            else (None, None))

    config = {"model": spec.name, "dataset": dataset, "recipe": dataclasses.asdict(r),
              "epochs": epochs, "batch_size": batch_size, "seed": seed, "holdout": k,
              "validation": val_name, "max_train_examples": max_train_examples,
              "max_test_examples": max_test_examples, "scale_lr": scale_lr,
              "shortcut": shortcut, "width_multiplier": width_multiplier,
              "precision": keras.config.dtype_policy().name,
              "image_size": list(image_size) if image_size else None,
              "weights": os.fspath(weights) if weights else None,
              "freeze_backbone": freeze_backbone, "skip_bad_images": bool(skip_bad_images)}
    config = json.loads(json.dumps(config))  # as it reads back from config.json
    if overwrite and num_workers() > 1:
        raise ValueError("--overwrite with several workers could let a worker read the old "
                         "run's backups before the chief deletes them: delete the run "
                         f"directory {out} first, then start every worker")
    placement = choose_placement(strategy)
    if (config["precision"] == "mixed_bfloat16" and placement.on_cpu
            and placement.backend == "tensorflow" and cpu.cpu_bf16_units() == []):
        warnings.warn(
            "precision bfloat16 on a CPU without bfloat16 instructions (/proc/cpuinfo "
            "lists no avx512_bf16, amx_bf16 or AArch64 bf16): TensorFlow emulates it "
            "with float32 units, and a ResNet-20 training step measured "
            f"{BF16_SLOWDOWN_MEASURED} slower than float32 on such a CPU "
            "(docs/benchmarks.md, 'Training precision'). Use precision float32 here; "
            "bfloat16 pays off on CPUs with those instructions and on accelerators",
            UserWarning, stacklevel=3)
    onednn = cpu.tf_onednn_enabled() if placement.backend == "tensorflow" else None
    if onednn is False and placement.on_cpu and cpu.onednn_env_choice() is not False:
        warnings.warn(
            "TensorFlow runs without its oneDNN kernels: on this CPU (no AVX512_VNNI, "
            "AVX512_BF16, AVX-VNNI or AMX) that is its default, and keras_resnet can only "
            "change it before TensorFlow is imported. ResNet-20 training measured "
            f"{ONEDNN_SPEEDUP_MEASURED} faster with them on such a CPU (docs/benchmarks.md, "
            "'Training precision'). Put `import keras_resnet` before `import keras` / "
            "`import tensorflow`, or set TF_ENABLE_ONEDNN_OPTS=1 in the environment "
            "before Python starts (TF_ENABLE_ONEDNN_OPTS=0 silences this)",
            UserWarning, stacklevel=3)
    split_by_jax = placement.strategy is None and placement.devices > 1
    if split_by_jax and batch_size % placement.devices:
        raise ValueError(f"batch_size {batch_size} does not split evenly over "
                         f"{placement.devices} devices; use a multiple of {placement.devices}")
    if split_by_jax and full_train.size - k < placement.devices:  # before writing anything
        raise ValueError(f"{full_train.size - k} training image(s) cannot be split over "
                         f"{placement.devices} devices; use at least {placement.devices}")
    chief = is_chief()
    created = rundir.prepare(out, config, overwrite=overwrite, chief=chief,
                             placement={"backend": placement.backend,
                                        "devices": placement.devices})
    try:
        keras.utils.set_random_seed(seed)
        if k:
            train_split, val_split = holdout_split(full_train, k)
            if max_test_examples:
                val_split = val_split.take(max_test_examples)
        else:
            train_split, val_split = full_train, test_split

        pixel_mean = rundir.read_pixel_mean(out)  # a resumed run keeps its own
        if pixel_mean is None:
            pixel_mean = given_mean if given_mean is not None else compute_pixel_mean(
                train_split, family, channels, resize=resize or IMAGENET_EVAL_RESIZE,
                crop=input_shape[0])
        if chief:
            names = tuple(train_split.class_names) if train_split.class_names else None
            rundir.write_inputs(out, rundir.InputRecord(
                spec.name, family, tuple(input_shape), resize, names, dataset), pixel_mean)
        return _fit(
            spec, r, net_input=tuple(input_shape) if family == "cifar" else (None, None, channels),
            input_shape=input_shape, resize=resize, size_from=size_from, recipe_given=recipe,
            train_split=train_split, val_split=val_split, test_split=test_split, k=k,
            val_name=val_name, pixel_mean=pixel_mean, epochs=epochs, batch_size=batch_size,
            out=out, seed=seed, scale_lr=scale_lr, shortcut=shortcut, weights=weights,
            in_model=in_model, freeze_backbone=freeze_backbone, verbose=verbose, plot=plot,
            fused_bn=fused_bn,
            placement=placement, chief=chief, split_by_jax=split_by_jax, onednn=onednn,
            dataset=dataset, config=config)
    except BaseException:
        if chief and rundir.discard_unstarted(out, created):
            print(f"Removed {out}: the run stopped before its first epoch (nothing of it "
                  "to resume), so the corrected command starts afresh")
        raise


def _fit(spec, r, *, net_input, input_shape, resize, size_from, recipe_given, train_split,
         val_split, test_split, k, val_name, pixel_mean, epochs, batch_size, out, seed,
         scale_lr, shortcut, weights, in_model, freeze_backbone, verbose, plot, fused_bn,
         placement, chief, split_by_jax, onednn, dataset, config):
    """The run itself, once its directory is set up: build (and load ``weights``),
    compile per phase, resume, fit, score, save."""
    import keras

    from ..data.augment import eval_dataset, train_dataset
    from .callbacks import RunKeeper, SyncReplicaStatistics
    from .fused_bn import fused_batchnorm
    from .recipes import make_optimizer
    from .strategy import multi_worker_trainer, sync_moving_statistics

    family, channels = spec.family, input_shape[-1]
    devices = placement.devices
    split_over = devices if split_by_jax else 1  # JAX splits each batch over its devices
    steps_per_epoch = -(-train_split.size // batch_size)
    if split_by_jax:  # batches trimmed to a multiple of the device count
        steps_per_epoch = train_split.size // batch_size + (
            train_split.size % batch_size >= devices)
    # (phase, first epoch, end epoch): fine-tuning with a frozen backbone first
    if freeze_backbone:
        phases = [p for p in [("frozen", 0, freeze_backbone),
                              ("unfrozen", freeze_backbone, epochs)] if p[1] < p[2]]
    else:
        phases = [("all", 0, epochs)]

    with placement.run_scope():
        with placement.build_scope():
            net = build(spec, input_shape=net_input, classes=train_split.num_classes,
                        weight_decay=r.weight_decay, shortcut=shortcut, weights=weights,
                        include_preprocessing=in_model or False)
            trainer = multi_worker_trainer(net)  # net itself, except with several workers
            metrics = ["accuracy"]
            if train_split.num_classes > 5:
                metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5"))

            def compile_for(phase):
                """Set the trainable layers for ``phase`` and compile a fresh optimiser
                whose schedule spans the phase's epochs. Returns the base rate."""
                if phase != "all":
                    _freeze(net, phase)
                recipe = r
                if phase == "unfrozen":
                    recipe = r.replace(
                        learning_rate=r.learning_rate * UNFROZEN_LR_FACTOR,
                        warmup_learning_rate=None if r.warmup_learning_rate is None
                        else r.warmup_learning_rate * UNFROZEN_LR_FACTOR)
                first, end = next((a, b) for p, a, b in phases if p == phase)
                optimizer, base = make_optimizer(
                    recipe, steps_per_epoch=steps_per_epoch, epochs=end - first,
                    depth=spec.depth, global_batch=batch_size, scale_lr=scale_lr)
                # Weighted metrics and a loss averaged over the weights: evaluation
                # batches padded for JAX devices carry weight-0 images that must not
                # count (without weights both equal Keras' defaults).
                loss = keras.losses.SparseCategoricalCrossentropy(
                    reduction="mean_with_sample_weight")
                if keras.config.dtype_policy().name == "mixed_float16":
                    # Dynamic loss scaling. compile() would add the same wrapper by
                    # itself, but then the saved compile config names the bare
                    # optimiser, and loading model.keras skips the wrapper's variables
                    # with a warning.
                    optimizer = keras.optimizers.LossScaleOptimizer(
                        optimizer, name="loss_scale_optimizer")
                trainer.compile(optimizer=optimizer, loss=loss, weighted_metrics=metrics)
                return base

            plateau = []
            if r.schedule == "plateau":
                plateau.append(keras.callbacks.ReduceLROnPlateau(
                    monitor="val_loss", factor=0.1, patience=r.plateau_patience, verbose=1))
            keeper = RunKeeper(out, chief=chief, stateful=plateau)
            # The phase the newest backup was written in (its optimiser state must find
            # the same variables): a backup at the end of the frozen phase still is one.
            backup = keeper.latest_backup_epoch()
            phase = next((p for p, a, b in phases if backup <= b and (backup < b or p == "frozen")),
                         phases[-1][0])
            base_lr = compile_for(phase)
            # Resume (0: a new run) from the newest backup that loads. The training data
            # start there: epoch e's order and augmentation depend on (seed, e) only, so
            # a resumed run trains on the batches an uninterrupted one would.
            start_epoch = min(keeper.restore(trainer), epochs)
            if start_epoch == epochs:
                print(f"This run is already complete ({epochs}/{epochs} epochs in {out}); "
                      "evaluating its model again.")

        eval_batch = max(batch_size, 256)
        crop = input_shape[0]
        eval_options = dict(channels=channels, resize=resize, crop=crop) if resize else \
            dict(channels=channels)
        val_ds = _even_batches(eval_dataset(val_split, family, pixel_mean,
                                            batch_size=eval_batch, **eval_options),
                               split_over, pad=True)
        test_ds = val_ds if not k else _even_batches(
            eval_dataset(test_split, family, pixel_mean, batch_size=eval_batch,
                         **eval_options), split_over, pad=True)

        tb_dir = os.path.join(out, "tensorboard") if chief else os.path.join(
            out, ".tensorboard-worker-tmp")
        replicas = placement.strategy is not None and \
            placement.strategy.num_replicas_in_sync > 1
        callbacks = [keras.callbacks.TerminateOnNaN(),
                     keras.callbacks.TensorBoard(tb_dir, write_graph=False, profile_batch=0),
                     *plateau,
                     *([SyncReplicaStatistics(placement.strategy, net)] if replicas else []),
                     keeper]  # last: it logs what the others have added
        source = ("" if recipe_given is not None
                  else " (the default for this network and data; --recipe to choose)")
        tuning = (f"; fine-tuning {weights}" + (
            f": {freeze_backbone} epoch(s) with the backbone frozen, then the whole net "
            f"(BatchNormalization excepted) at {UNFROZEN_LR_FACTOR:g}x the rate"
            if freeze_backbone else "")) if weights else ""
        print(f"Training {spec.name} ({net.count_params():,} parameters) on {dataset}: "
              f"{train_split.size} train / {val_split.size} {val_name} (validation)"
              f"{f' / {test_split.size} test' if k else ''} images of "
              f"{input_shape[0]}x{input_shape[1]}x{channels} ({size_from}), recipe "
              f"{r.name}{source} ({r.reference}), {epochs} epochs x {steps_per_epoch} steps, "
              f"global batch {batch_size}, base lr {base_lr:g}, precision "
              f"{config['precision']}{tuning}; {placement.description}. Run dir: {out}")
        start = time.perf_counter()
        history = None
        with _worker_faults(placement, keeper):
            for phase_name, first, end in phases:
                if start_epoch >= end:
                    continue
                if phase_name != phase:  # the next phase: its trainable layers, its optimiser
                    phase = phase_name
                    with placement.build_scope():
                        compile_for(phase)
                    keeper._callback_state = {}
                initial = max(start_epoch, first)
                keeper.start_epoch = initial
                train_ds = _even_batches(
                    train_dataset(train_split, family, pixel_mean, batch_size,
                                  channels=channels, seed=seed,
                                  crop=r.augmentation == "pad-crop-flip", epochs=end,
                                  initial_epoch=initial, **_train_sizes(family, crop)),
                    split_over, pad=False)
                with fused_batchnorm(net, enabled=fused_bn):  # net's layers only
                    history = trainer.fit(train_ds, validation_data=val_ds, epochs=end,
                                          initial_epoch=initial,
                                          steps_per_epoch=steps_per_epoch, verbose=verbose,
                                          callbacks=callbacks,
                                          shuffle=False)  # the pipeline shuffles
                start_epoch = end
            seconds = time.perf_counter() - start
            if replicas:  # the saved model's statistics are the ones scored
                sync_moving_statistics(net, placement.strategy)
            scores = {}
            for name, ds in [("holdout", val_ds)] * bool(k) + [("test", test_ds)]:
                scores[name] = trainer.evaluate(ds, verbose=0, return_dict=True)
    if history is not None and history.history.get("loss") and \
            not np.isfinite(history.history["loss"][-1]):
        raise FloatingPointError("training diverged (loss is not finite); see log.csv")

    result = {"model": spec.name, "dataset": dataset, "recipe": r.name, "epochs": epochs,
              "resumed_from_epoch": keeper.resumed_from, "train_examples": train_split.size,
              "validation": val_name, f"{val_name}_examples": val_split.size,
              "test_examples": test_split.size, "input_shape": list(input_shape),
              "train_seconds_this_process": round(seconds, 1),
              "precision": config["precision"], "backend": placement.backend,
              "devices": placement.devices, "tf_onednn": onednn,
              # the optimiser is wrapped under mixed_float16 (dynamic loss scaling)
              "loss_scaling": isinstance(trainer.optimizer,
                                         keras.optimizers.LossScaleOptimizer)}
    for name, values in scores.items():
        result[f"{name}_accuracy"] = float(values["accuracy"])
        result[f"{name}_top1_error"] = 1.0 - float(values["accuracy"])
    paths = rundir.paths(out)
    if chief:
        atomic_write(paths["model"], net.save)
        write_file(paths["metrics"], json.dumps(result, indent=2) + "\n")
        if plot:
            from ..evaluation.curves import plot_run

            plot_run(out)
    held = f"holdout accuracy {result['holdout_accuracy']:.2%}; " if k else ""
    print(f"{held}test accuracy: {result['test_accuracy']:.2%}  "
          f"(top-1 error {result['test_top1_error']:.2%}). Saved {paths['model']}")
    return result


def _train_sizes(family, crop):
    """The ImageNet training transform for a crop size: the paper's [256, 480] scale
    range at 224, in proportion at other sizes."""
    if family != "imagenet":
        return {}
    lo, hi = (round(crop * s / IMAGENET_CROP) for s in IMAGENET_SCALE_RANGE)
    return {"imagenet_crop": crop, "imagenet_scale_range": (lo, hi)}
