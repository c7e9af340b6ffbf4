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

import dataclasses
import json
import os
import shutil
import time

import numpy as np

from ..io import atomic_write, write_file

from ..zoo import (RUN_CLASS_NAMES, RUN_CONFIG, RUN_MODEL, RUN_PIXEL_MEAN, build,
                   run_class_names)

__all__ = ["RunConfigMismatch", "run_class_names", "train"]


DEFAULT_HOLDOUT = 0.1  # of the training data: the paper's CIFAR 45k/5k split


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


def _check_run_dir(out, config, overwrite, chief):
    path = os.path.join(out, RUN_CONFIG)
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
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
        write_file(path, json.dumps(config, indent=2) + "\n")


def train(model: str = "resnet20", dataset: str = "embedded", recipe: str = "fashion-mnist",
          *, epochs: int | None = None, batch_size: int | None = None,
          out: str = "runs/train", seed: int = 0, overwrite: bool = False,
          holdout: int | float | None = None, max_train_examples: int | None = None,
          max_test_examples: int | None = None, data_dir: str | None = None,
          manual_dir: str | None = None, scale_lr: bool = True, shortcut: str | None = None,
          width_multiplier: float | None = None, verbose="auto", strategy=None,
          plot: bool = True, fused_bn: bool = True) -> dict:
    """Train ``model`` on ``dataset`` with ``recipe``; resumable; returns final metrics.

    ``batch_size`` is the global batch (all replicas); the learning rate is scaled
    from the recipe's batch linearly unless ``scale_lr=False``. ``fused_bn`` runs the
    BatchNormalization layers' training branch as TensorFlow's fused kernel (same
    numbers up to float rounding, ~1.6x faster CIFAR ResNet training on a 2-core CPU:
    docs/benchmarks.md); it is not part of the run's configuration. ``holdout``: see
    :func:`holdout_count` and the module docstring.
    """
    import keras

    from .fused_bn import fused_batchnorm
    from ..data.augment import compute_pixel_mean, eval_dataset, train_dataset
    from ..data.sources import holdout_split, load_split
    from ..arch.specs import get_spec
    from .callbacks import RunKeeper
    from .recipes import get_recipe, make_optimizer
    from .strategy import choose_strategy, describe, is_chief, multi_worker_trainer

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
              "shortcut": shortcut, "width_multiplier": width_multiplier}
    config = json.loads(json.dumps(config))  # as it reads back from config.json
    chief = is_chief()
    _check_run_dir(out, config, overwrite, chief)
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

    strategy = strategy or choose_strategy()
    steps_per_epoch = -(-train_split.size // batch_size)
    with strategy.scope():
        net = build(spec, input_shape=input_shape, classes=train_split.num_classes,
                    weight_decay=r.weight_decay, shortcut=shortcut)
        optimizer, base_lr = make_optimizer(r, steps_per_epoch=steps_per_epoch, epochs=epochs,
                                            depth=spec.depth, global_batch=batch_size,
                                            scale_lr=scale_lr)
        metrics = ["accuracy"]
        if train_split.num_classes > 5:
            metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5"))
        trainer = multi_worker_trainer(net)  # net itself, except with several workers
        trainer.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                        metrics=metrics)

    train_ds = train_dataset(train_split, family, pixel_mean, batch_size, channels=channels,
                             seed=seed, crop=r.augmentation == "pad-crop-flip")
    val_ds = eval_dataset(val_split, family, pixel_mean, batch_size=max(batch_size, 256),
                          channels=channels)
    test_ds = val_ds if not k else eval_dataset(
        test_split, family, pixel_mean, batch_size=max(batch_size, 256), channels=channels)

    keeper = RunKeeper(out, chief=chief)
    tb_dir = os.path.join(out, "tensorboard") if chief else os.path.join(
        out, ".tensorboard-worker-tmp")
    callbacks = [keras.callbacks.TerminateOnNaN(),
                 keras.callbacks.TensorBoard(tb_dir, write_graph=False, profile_batch=0)]
    if r.schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.1, patience=r.plateau_patience, verbose=1))
    callbacks.append(keeper)  # last: it logs what the others have added
    print(f"Training {spec.name} ({net.count_params():,} parameters) on {dataset}: "
          f"{train_split.size} train / {val_split.size} {val_name} (validation)"
          f"{f' / {test_split.size} test' if k else ''} images, recipe "
          f"{r.name} ({r.reference}), {epochs} epochs x {steps_per_epoch} steps, global "
          f"batch {batch_size}, base lr {base_lr:g}; {describe(strategy)}. Run dir: {out}")
    start = time.perf_counter()
    with fused_batchnorm(net, enabled=fused_bn):  # net's layers only; the trainer shares them
        history = trainer.fit(train_ds, validation_data=val_ds, epochs=epochs,
                              verbose=verbose, callbacks=callbacks,
                              shuffle=False)  # the pipeline shuffles
    seconds = time.perf_counter() - start
    if history.history.get("loss") and not np.isfinite(history.history["loss"][-1]):
        raise FloatingPointError("training diverged (loss is not finite); see log.csv")

    result = {"model": spec.name, "dataset": dataset, "recipe": r.name, "epochs": epochs,
              "resumed_from_epoch": keeper.resumed_from, "train_examples": train_split.size,
              "validation": val_name, f"{val_name}_examples": val_split.size,
              "test_examples": test_split.size,
              "train_seconds_this_process": round(seconds, 1)}
    for name, ds in [("holdout", val_ds)] * bool(k) + [("test", test_ds)]:
        scores = trainer.evaluate(ds, verbose=0, return_dict=True)
        result[f"{name}_accuracy"] = float(scores["accuracy"])
        result[f"{name}_top1_error"] = 1.0 - float(scores["accuracy"])
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
