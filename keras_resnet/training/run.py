"""``train``: one function behind ``keras-resnet train``. A run directory holds
everything about a run:

    config.json            what was asked (a rerun with the same config resumes;
                           a different one is refused unless overwrite=True)
    pixel_mean.npy         the training set's per-pixel mean, used by evaluation/export
    class_names.json       the dataset's class names, when it has them (predict, export)
    log.csv                one row per finished epoch (never rewritten on resume)
    checkpoints/           last.weights.h5, best.weights.h5 (+ best.json)
    backup/                two backup slots (model + optimiser), see RunKeeper
    tensorboard/           TensorBoard logs
    model.keras            the final model (plain Keras; loads without this package)
    metrics.json           holdout and test metrics of the final model (centre view)
    curves.png             training / validation error curves

Validation (the best checkpoint, plateau schedules, the curves' bold line) uses a
holdout of the training data, 10% by default (the paper's CIFAR split is 45k/5k); the
test set gives only the final score. ``holdout=0`` trains on all training data and
then validates on the test set, which config.json records as ``"validation": "test"``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
import warnings

import numpy as np

from ..io import atomic_write, write_file

from ..zoo import (RUN_CLASS_NAMES, RUN_CONFIG, RUN_MODEL, RUN_PIXEL_MEAN, build,
                   run_class_names)

__all__ = ["RunConfigMismatch", "run_class_names", "train"]


DEFAULT_HOLDOUT = 0.1  # of the training data: the paper's CIFAR 45k/5k split
# --precision: Keras' dtype policy for each (variables stay float32 in the mixed ones)
PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
# Quoted by train()'s warnings; measured by bench/train_throughput_vs_torch.py on a 2-core
# AVX2 AMD EPYC, docs/benchmarks.md "Training precision" (keep the two in step).
BF16_SLOWDOWN_MEASURED = "12x"
ONEDNN_SPEEDUP_MEASURED = "1.8x"
_PRECISION_OF_POLICY = {policy: name for name, policy in PRECISIONS.items()}
# config.json keys that say where a run computed: recorded (and updated on resume), not
# compared, so a run can resume on another machine
PLACEMENT_KEYS = ("backend", "devices")


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


class RunConfigMismatch(ValueError):
    pass


def _check_run_dir(out, config, overwrite, chief, placement=None):
    path = os.path.join(out, RUN_CONFIG)
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        for key in PLACEMENT_KEYS:
            old.pop(key, None)
        old.setdefault("precision", "float32")  # runs written before --precision existed
        if old != config:
            if not overwrite:
                changed = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
                raise RunConfigMismatch(
                    f"{out} holds a run with a different configuration (changed: "
                    f"{', '.join(f'{k}: {old.get(k)!r} -> {config.get(k)!r}' for k in changed)}). "
                    "Use another --out, the same options to resume, or --overwrite to "
                    "start afresh (deletes that run).")
            if chief:
                shutil.rmtree(out)
    if chief:
        os.makedirs(out, exist_ok=True)
        write_file(path, json.dumps({**config, **(placement or {})}, indent=2) + "\n")


def train(model: str = "resnet20", dataset: str = "embedded", recipe: str = "fashion-mnist",
          *, epochs: int | None = None, batch_size: int | None = None,
          out: str = "runs/train", seed: int = 0, overwrite: bool = False,
          holdout: int | float | None = None, max_train_examples: int | None = None,
          max_test_examples: int | None = None, data_dir: str | None = None,
          manual_dir: str | None = None, scale_lr: bool = True, shortcut: str | None = None,
          width_multiplier: float | None = None, verbose="auto", strategy=None,
          plot: bool = True, fused_bn: bool = True, precision: str | None = None) -> dict:
    """Train ``model`` on ``dataset`` with ``recipe``; resumable; returns final metrics.

    ``batch_size`` is the global batch (all replicas, or all JAX devices); the learning
    rate is scaled from the recipe's batch linearly unless ``scale_lr=False``.
    ``fused_bn`` runs the BatchNormalization layers' training branch as TensorFlow's
    fused kernel (same numbers up to float rounding, ~1.6x faster CIFAR ResNet training
    on a 2-core CPU: docs/benchmarks.md; TensorFlow backend only); it is not part of the
    run's configuration. ``holdout``: see :func:`holdout_count` and the module docstring.

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
    choice: :mod:`keras_resnet.training.strategy`); the JAX backend
    ``keras.distribution.DataParallel`` over all its devices, the global batch split
    evenly (``batch_size`` must be a multiple of the device count; a last training batch
    is trimmed to a multiple, evaluation batches are padded with zero-weight images).

    Raises:
        ValueError: an unknown precision, model, recipe or dataset; bad sizes; see also
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
                      precision=precision)
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
           shortcut, width_multiplier, verbose, strategy, plot, fused_bn, precision):
    import keras

    if keras.backend.backend() == "jax":
        _keep_tensorflow_off_gpus()
    from .fused_bn import fused_batchnorm
    from ..data.augment import compute_pixel_mean, eval_dataset, train_dataset
    from ..data.sources import holdout_split, load_split
    from ..arch.specs import get_spec
    from .callbacks import RunKeeper
    from .recipes import get_recipe, make_optimizer
    from .. import cpu
    from .strategy import choose_placement, is_chief, multi_worker_trainer, num_workers

    r = get_recipe(recipe)
    spec = get_spec(model)
    if width_multiplier is not None:
        from ..arch.specs import cifar_spec

        if spec.family != "cifar":
            raise ValueError("width_multiplier applies to CIFAR-family networks")
        spec = cifar_spec(spec.depth, residual=spec.residual, width_multiplier=width_multiplier)
    epochs = r.epochs if epochs is None else epochs
    batch_size = r.batch_size if batch_size is None else batch_size
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be >= 1")

    # Validation (best checkpoint, plateau schedules) on a holdout of the training data;
    # the test set only gives the final score.
    full_train = load_split(dataset, "train", data_dir=data_dir, manual_dir=manual_dir)
    if max_train_examples:
        full_train = full_train.take(max_train_examples)
    k = holdout_count(holdout, full_train.size)
    val_name = "holdout" if k else "test"
    config = {"model": spec.name, "dataset": dataset, "recipe": dataclasses.asdict(r),
              "epochs": epochs, "batch_size": batch_size, "seed": seed, "holdout": k,
              "validation": val_name, "max_train_examples": max_train_examples,
              "max_test_examples": max_test_examples, "scale_lr": scale_lr,
              "shortcut": shortcut, "width_multiplier": width_multiplier,
              "precision": keras.config.dtype_policy().name}
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
    _check_run_dir(out, config, overwrite, chief,
                   {"backend": placement.backend, "devices": placement.devices})
    keras.utils.set_random_seed(seed)

    test_split = load_split(dataset, "test", data_dir=data_dir, manual_dir=manual_dir)
    if max_test_examples:
        test_split = test_split.take(max_test_examples)
    if k:
        train_split, val_split = holdout_split(full_train, k)
        if max_test_examples:
            val_split = val_split.take(max_test_examples)
    else:
        train_split, val_split = full_train, test_split

    family = spec.family  # the network's family picks the augmentation (CIFAR or ImageNet style)
    if spec.family == "cifar":
        channels = train_split.image_shape[-1]
        input_shape = (*train_split.image_shape[:2], channels)
        if None in input_shape:
            raise ValueError(f"{spec.name} trains on fixed-size images; {dataset} has images "
                             "of varying size (use an ImageNet-family network)")
    else:
        channels, input_shape = 3, (None, None, 3)

    if chief and train_split.class_names:
        write_file(os.path.join(out, RUN_CLASS_NAMES),
                   json.dumps(list(train_split.class_names)) + "\n")
    mean_path = os.path.join(out, RUN_PIXEL_MEAN)
    if os.path.exists(mean_path):
        pixel_mean = np.load(mean_path)
    else:
        pixel_mean = compute_pixel_mean(train_split, family, channels)
        if chief:
            atomic_write(mean_path, lambda p: np.save(p, pixel_mean))

    devices = placement.devices
    split_over = devices if split_by_jax else 1  # JAX splits each batch over its devices
    steps_per_epoch = -(-train_split.size // batch_size)
    if split_by_jax:  # batches trimmed to a multiple of the device count
        steps_per_epoch = train_split.size // batch_size + (
            train_split.size % batch_size >= devices)
    with placement.run_scope():
        with placement.build_scope():
            net = build(spec, input_shape=input_shape, classes=train_split.num_classes,
                        weight_decay=r.weight_decay, shortcut=shortcut)
            optimizer, base_lr = make_optimizer(r, steps_per_epoch=steps_per_epoch,
                                                epochs=epochs, depth=spec.depth,
                                                global_batch=batch_size, scale_lr=scale_lr)
            metrics = ["accuracy"]
            if train_split.num_classes > 5:
                metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5"))
            trainer = multi_worker_trainer(net)  # net itself, except with several workers
            # Weighted metrics and a loss averaged over the weights: evaluation batches
            # padded for JAX devices carry weight-0 images that must not count (without
            # weights both equal Keras' defaults).
            loss = keras.losses.SparseCategoricalCrossentropy(
                reduction="mean_with_sample_weight")
            if keras.config.dtype_policy().name == "mixed_float16":
                # Dynamic loss scaling. compile() would add the same wrapper by itself,
                # but then the saved compile config names the bare optimiser, and
                # loading model.keras skips the wrapper's variables with a warning.
                optimizer = keras.optimizers.LossScaleOptimizer(
                    optimizer, name="loss_scale_optimizer")
            trainer.compile(optimizer=optimizer, loss=loss, weighted_metrics=metrics)

            plateau = []
            if r.schedule == "plateau":
                plateau.append(keras.callbacks.ReduceLROnPlateau(
                    monitor="val_loss", factor=0.1, patience=r.plateau_patience, verbose=1))
            keeper = RunKeeper(out, chief=chief, stateful=plateau)
            # Resume (0: a new run) from the newest backup that loads. The training data
            # start there: epoch e's order and augmentation depend on (seed, e) only, so
            # a resumed run trains on the batches an uninterrupted one would.
            start_epoch = min(keeper.restore(trainer), epochs)
            if start_epoch == epochs:
                print(f"This run is already complete ({epochs}/{epochs} epochs in {out}); "
                      "evaluating its model again.")

        train_ds = _even_batches(
            train_dataset(train_split, family, pixel_mean, batch_size, channels=channels,
                          seed=seed, crop=r.augmentation == "pad-crop-flip", epochs=epochs,
                          # a finished run (start == epochs) fits nothing; the
                          # data must still not be empty for Keras' set-up
                          initial_epoch=min(start_epoch, epochs - 1)),
            split_over, pad=False)
        eval_batch = max(batch_size, 256)
        val_ds = _even_batches(eval_dataset(val_split, family, pixel_mean,
                                            batch_size=eval_batch, channels=channels),
                               split_over, pad=True)
        test_ds = val_ds if not k else _even_batches(
            eval_dataset(test_split, family, pixel_mean, batch_size=eval_batch,
                         channels=channels), split_over, pad=True)

        tb_dir = os.path.join(out, "tensorboard") if chief else os.path.join(
            out, ".tensorboard-worker-tmp")
        callbacks = [keras.callbacks.TerminateOnNaN(),
                     keras.callbacks.TensorBoard(tb_dir, write_graph=False, profile_batch=0),
                     *plateau,
                     keeper]  # last: it logs what the others have added
        print(f"Training {spec.name} ({net.count_params():,} parameters) on {dataset}: "
              f"{train_split.size} train / {val_split.size} {val_name} (validation)"
              f"{f' / {test_split.size} test' if k else ''} images, recipe "
              f"{r.name} ({r.reference}), {epochs} epochs x {steps_per_epoch} steps, global "
              f"batch {batch_size}, base lr {base_lr:g}, precision "
              f"{config['precision']}; {placement.description}. Run dir: {out}")
        start = time.perf_counter()
        with _worker_faults(placement, keeper):
            with fused_batchnorm(net, enabled=fused_bn):  # net's layers only (the trainer shares them)
                history = trainer.fit(train_ds, validation_data=val_ds, epochs=epochs,
                                      initial_epoch=start_epoch,
                                      steps_per_epoch=steps_per_epoch, verbose=verbose,
                                      callbacks=callbacks,
                                      shuffle=False)  # the pipeline shuffles
            seconds = time.perf_counter() - start
            scores = {}
            for name, ds in [("holdout", val_ds)] * bool(k) + [("test", test_ds)]:
                scores[name] = trainer.evaluate(ds, verbose=0, return_dict=True)
    if history.history.get("loss") and not np.isfinite(history.history["loss"][-1]):
        raise FloatingPointError("training diverged (loss is not finite); see log.csv")

    result = {"model": spec.name, "dataset": dataset, "recipe": r.name, "epochs": epochs,
              "resumed_from_epoch": keeper.resumed_from, "train_examples": train_split.size,
              "validation": val_name, f"{val_name}_examples": val_split.size,
              "test_examples": test_split.size,
              "train_seconds_this_process": round(seconds, 1),
              "precision": config["precision"], "backend": placement.backend,
              "devices": placement.devices, "tf_onednn": onednn,
              # the optimiser is wrapped under mixed_float16 (dynamic loss scaling)
              "loss_scaling": isinstance(trainer.optimizer,
                                         keras.optimizers.LossScaleOptimizer)}
    for name, values in scores.items():
        result[f"{name}_accuracy"] = float(values["accuracy"])
        result[f"{name}_top1_error"] = 1.0 - float(values["accuracy"])
    if chief:
        atomic_write(os.path.join(out, RUN_MODEL), net.save)
        write_file(os.path.join(out, "metrics.json"), json.dumps(result, indent=2) + "\n")
        if plot:
            from ..evaluation.curves import plot_run

            plot_run(out)
    held = f"holdout accuracy {result['holdout_accuracy']:.2%}; " if k else ""
    print(f"{held}test accuracy: {result['test_accuracy']:.2%}  "
          f"(top-1 error {result['test_top1_error']:.2%}). Saved {out}/model.keras")
    return result
