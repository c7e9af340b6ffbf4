"""The run itself, once its directory is set up (:func:`fit_run`): build (and load the
weights), compile per phase (fine-tuning: frozen backbone, then the whole net), resume
from the newest backup, evaluation data, callbacks, fit the phases, score on the
holdout and test sets, save the model, metrics and curves. Each step reads and sets
attributes of the run's :class:`~keras_resnet.training.state.RunState`."""

from __future__ import annotations

import contextlib
import json
import os
import time

import keras
import numpy as np

from .. import rundir
from ..data.augment import eval_dataset, train_dataset
from ..evaluation.curves import plot_run
from ..io import atomic_write, write_file
from ..zoo import build
from .callbacks import RunKeeper, SyncReplicaStatistics
from .config import UNFROZEN_LR_FACTOR
from .fused_bn import fused_batchnorm
from .inputs import even_batches, train_sizes
from .recipes import make_optimizer
from .state import RunState
from .strategy import multi_worker_trainer, sync_moving_statistics


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


def fit_run(run: RunState) -> dict:
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


def _steps_per_epoch(run: RunState) -> int:
    """Training steps per epoch (JAX over several devices: batches trimmed to a
    multiple of the device count)."""
    size, batch = run.train_split.size, run.batch_size
    if run.split_by_jax:
        return size // batch + (size % batch >= run.placement.devices)
    return -(-size // batch)


def _build(run: RunState) -> None:
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


def _compile(run: RunState, phase: str) -> float:
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


def _resume(run: RunState) -> None:
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


def _eval_datasets(run: RunState) -> None:
    """Sets ``val_ds`` and ``test_ds`` (the same when validating on the test set)."""
    family, batch = run.spec.family, max(run.batch_size, 256)
    options = dict(channels=run.channels)
    if run.resize:
        options.update(resize=run.resize, crop=run.input_shape[0])

    def batches(split):
        return even_batches(eval_dataset(split, family, run.pixel_mean, batch_size=batch,
                                          **options), run.split_over, pad=True)

    run.val_ds = batches(run.val_split)
    run.test_ds = batches(run.test_split) if run.k else run.val_ds


def _callbacks(run: RunState) -> list:
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


def _announce(run: RunState) -> None:
    """Print the run's one-line summary (parameters counted as the README's model
    table and torchvision count them: without BatchNorm's moving statistics)."""
    from ..arch.complexity import parameter_count

    c, r = run.config, run.recipe
    shape = run.input_shape
    source = ("" if c.recipe is not None
              else " (the default for this network and data; --recipe to choose)")
    tuning = (f"; fine-tuning {c.weights}" + (
        f": {c.freeze_backbone} epoch(s) with the backbone frozen, then the whole net "
        f"(BatchNormalization excepted) at {UNFROZEN_LR_FACTOR:g}x the rate"
        if c.freeze_backbone else "")) if c.weights else ""
    test = f" / {run.test_split.size} test" if run.k else ""
    print(f"Training {run.spec.name} ({parameter_count(run.net):,} parameters) on "
          f"{c.dataset}: {run.train_split.size} train / {run.val_split.size} "
          f"{run.val_name} (validation){test} images of "
          f"{shape[0]}x{shape[1]}x{run.channels} ({run.size_from}), recipe "
          f"{r.name}{source} ({r.reference}), {run.epochs} epochs x "
          f"{run.steps_per_epoch} steps, global batch {run.batch_size}, base lr "
          f"{run.base_lr:g}, precision {run.record['precision']}{tuning}; "
          f"{run.placement.description}. Run dir: {c.out}")


def _fit_phases(run: RunState, callbacks: list) -> None:
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
        train_ds = even_batches(
            train_dataset(run.train_split, run.spec.family, run.pixel_mean, run.batch_size,
                          channels=run.channels, seed=c.seed,
                          crop=run.recipe.augmentation == "pad-crop-flip", epochs=end,
                          initial_epoch=initial, **train_sizes(run.spec.family, crop)),
            run.split_over, pad=False)
        with fused_batchnorm(run.net, enabled=run.fused_bn):  # net's layers only
            run.history = run.trainer.fit(
                train_ds, validation_data=run.val_ds, epochs=end, initial_epoch=initial,
                steps_per_epoch=run.steps_per_epoch, verbose=run.verbose,
                callbacks=callbacks, shuffle=False)  # the pipeline shuffles
        start_epoch = end


def _score(run: RunState) -> None:
    """Sets ``scores``: the holdout's (if any) and the test set's. Several replicas:
    their BatchNormalization statistics are averaged first (the saved model's)."""
    if run.replicas:
        sync_moving_statistics(run.net, run.placement.strategy)
    sets = [(run.val_name, run.val_ds)] * bool(run.k) + [("test", run.test_ds)]
    run.scores = {name: run.trainer.evaluate(ds, verbose=0, return_dict=True)
                  for name, ds in sets}


def _result(run: RunState) -> dict:
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


def _save(run: RunState, result: dict) -> None:
    """Write model.keras, metrics.json and curves.png (chief only); print the score."""
    out = run.config.out
    paths = rundir.paths(out)
    if run.chief:
        atomic_write(paths["model"], run.net.save)
        write_file(paths["metrics"], json.dumps(result, indent=2) + "\n")
        if run.plot:
            plot_run(out)
    held = (f"{run.val_name} accuracy {result[run.val_name + '_accuracy']:.2%}; "
            if run.k else "")
    print(f"{held}test accuracy: {result['test_accuracy']:.2%}  "
          f"(top-1 error {result['test_top1_error']:.2%}). Saved {paths['model']}")
