"""Fault tolerance without losing anything: :class:`RunKeeper`.

Keras' BackupAndRestore writes one backup in place; a kill while it writes can leave a
weights file and a metadata file that disagree, and CSVLogger(append=True) can log an
epoch twice after a resume. RunKeeper does the three jobs in one callback, in an order
that survives a SIGKILL at any instant:

at the end of epoch ``e`` (chief only, except the backup's bookkeeping):
  1. append epoch ``e``'s row to ``log.csv`` (flushed and fsynced);
  2. write ``checkpoints/last.weights.h5`` and, when the monitored metric improved,
     ``checkpoints/best.weights.h5`` (each written to a temporary name, then renamed);
  3. write the backup (model + optimiser state) into the *older* of two slots
     (``backup/slot-{0,1}.weights.h5``), then that slot's ``.json`` with the epoch and
     the file's SHA-256; the other slot keeps the previous complete backup.

On start (:meth:`RunKeeper.restore`, which ``train`` calls before it builds the
training data; or ``on_train_begin`` when the callback is used on its own) it loads the
newest slot whose JSON and checksum agree and whose file loads (else the older one), sets
the initial epoch, gives ReduceLROnPlateau its saved counters back, drops log rows of
epochs that will be recomputed, and says that it resumed. So at most the interrupted
epoch is recomputed and each epoch is logged exactly once.
"""

from __future__ import annotations

import csv
import json
import os

import keras
import numpy as np

from ..io import atomic_write, file_digest, write_file
from .strategy import sync_moving_statistics
from ..pretrained.record import save_weights


def _scalar(value):
    """A log value as a float (Keras gives floats, numpy scalars or 1-element arrays)."""
    try:
        a = np.asarray(keras.ops.convert_to_numpy(value), dtype="float64").reshape(-1)
    except (TypeError, ValueError):
        return None
    return float(a[0]) if a.size == 1 else None


# ReduceLROnPlateau's counters (the learning rate itself is the optimiser's, restored
# with it)
_PLATEAU_STATE = ("wait", "best", "cooldown_counter")


def _plain(value):
    """A counter as JSON (numpy scalars, infinities) and back without loss."""
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2 ** 53 else value


class RunKeeper(keras.callbacks.Callback):
    def __init__(self, run_dir: str, *, chief: bool = True, monitor: str = "val_accuracy",
                 mode: str = "max", log_name: str = "log.csv", verbose: bool = True,
                 stateful=()):
        super().__init__()
        self.run_dir = run_dir
        self.backup_dir = os.path.join(run_dir, "backup")
        self.checkpoint_dir = os.path.join(run_dir, "checkpoints")
        self.log_path = os.path.join(run_dir, log_name)
        self.chief = chief
        self.monitor, self.mode = monitor, mode
        self.verbose = verbose
        self.resumed_from = None
        # the epoch the next fit starts at, when the caller fits in several parts
        # (fine-tuning phases): log rows of epochs before it are kept
        self.start_epoch = None
        self.best = None
        # callbacks whose counters belong in the backup (ReduceLROnPlateau)
        self.stateful = list(stateful)

    # ------------------------------------------------------------ backup slots
    def _slot_paths(self, slot):
        base = os.path.join(self.backup_dir, f"slot-{slot}")
        return base + ".weights.h5", base + ".json"

    def _valid_slots(self):
        found = []
        for slot in (0, 1):
            weights, meta = self._slot_paths(slot)
            try:
                with open(meta) as f:
                    info = json.load(f)
                if os.path.exists(weights) and file_digest(weights) == info["sha256"]:
                    found.append((info["epoch"], slot, info))
            except (OSError, ValueError, KeyError):
                continue
        return sorted(found, reverse=True)

    def latest_backup_epoch(self) -> int:
        slots = self._valid_slots()
        return slots[0][0] if slots else 0

    def restore(self, model) -> int:
        """Load the newest backup that loads into ``model`` (weights and optimiser
        state); an unreadable slot falls back to the older one. Call it before building
        the training data, which start at the returned epoch; ``fit`` then skips the
        loading (``on_train_begin``) and must be given ``initial_epoch`` = the result.

        Returns:
            the number of finished epochs restored (0: nothing to resume).
        """
        self._restored = True
        for epoch, slot, info in self._valid_slots():  # newest first
            weights, _ = self._slot_paths(slot)
            try:
                if model.optimizer is not None and not model.optimizer.built:
                    model.optimizer.build(model.trainable_variables)
                model.load_weights(weights)
            except Exception as err:  # noqa: BLE001 - try the older slot
                print(f"backup slot {slot} could not be loaded ({err}); trying the older one")
                continue
            model._initial_epoch = epoch
            self.resumed_from = epoch
            self.best = info.get("best")
            self._callback_state = info.get("callbacks", {})
            if self.verbose:
                print(f"Resumed from the backup after epoch {epoch} "
                      f"({weights}); continuing at epoch {epoch + 1}.")
            return epoch
        return 0

    def on_train_begin(self, logs=None):
        if not getattr(self, "_restored", False):  # used on its own: restore here
            self.restore(self.model)
        # The other callbacks have reset themselves by now (this one runs last): give the
        # learning-rate plateau schedule its counters back, so a resumed run drops the
        # rate when an uninterrupted one would.
        for callback, state in zip(self.stateful, getattr(self, "_callback_state", {})
                                   .get("plateau", [])):
            for key in _PLATEAU_STATE:
                if key in state:
                    setattr(callback, key, state[key])
        if self.chief:
            start = self.start_epoch if self.start_epoch is not None else self.resumed_from
            self._truncate_log(start or 0)

    def _truncate_log(self, start):
        """Keep log rows of finished epochs (< start), drop any later ones."""
        if not os.path.exists(self.log_path):
            return
        with open(self.log_path, newline="") as f:
            rows = list(csv.reader(f))
        if not rows:
            return
        header, body = rows[0], [r for r in rows[1:] if r and int(r[0]) < start]
        if len(body) != len(rows) - 1:
            lines = [",".join(header)] + [",".join(r) for r in body]
            write_file(self.log_path, "\n".join(lines) + "\n", fsync=True)

    # ------------------------------------------------------------ epoch end
    def _improved(self, value):
        if value is None:
            return False
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        lr = self.model.optimizer.learning_rate
        logs.setdefault("learning_rate", float(keras.ops.convert_to_numpy(lr)))
        if self.chief:
            self._append_row(epoch, logs)
            os.makedirs(self.checkpoint_dir, exist_ok=True)
            # checkpoints record their architecture (pretrained.record): loading one into
            # another network with the same variables is refused
            save_weights(self.model, os.path.join(self.checkpoint_dir, "last.weights.h5"))
            value = _scalar(logs[self.monitor]) if self.monitor in logs else None
            if self._improved(value):
                self.best = float(value)
                save_weights(self.model, os.path.join(self.checkpoint_dir, "best.weights.h5"))
                write_file(os.path.join(self.checkpoint_dir, "best.json"),
                           json.dumps({"epoch": epoch + 1, self.monitor: self.best}) + "\n",
                           fsync=True)
            self._write_backup(epoch + 1)

    def _append_row(self, epoch, logs):
        os.makedirs(self.run_dir, exist_ok=True)
        logs = {k: _scalar(v) for k, v in logs.items()}
        keys = sorted(k for k in logs if logs[k] is not None)
        new = not os.path.exists(self.log_path) or os.path.getsize(self.log_path) == 0
        if not new:
            with open(self.log_path) as f:
                header = f.readline().strip().split(",")[1:]
            keys = header
        with open(self.log_path, "a") as f:
            if new:
                f.write(",".join(["epoch", *keys]) + "\n")
            f.write(",".join([str(epoch), *(repr(logs.get(k) if logs.get(k) is not None
                                                  else float("nan")) for k in keys)]) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _write_backup(self, finished_epochs):
        os.makedirs(self.backup_dir, exist_ok=True)
        slots = self._valid_slots()
        # Overwrite the older slot (or an empty / broken one); keep the newest intact.
        used = {s for _, s, _ in slots}
        target = next((s for s in (0, 1) if s not in used), None)
        if target is None:
            target = slots[-1][1]
        weights, meta = self._slot_paths(target)
        if os.path.exists(meta):
            os.remove(meta)  # the slot is invalid until both files are new
        atomic_write(weights, self.model.save_weights)
        plateau = [{k: _plain(getattr(c, k)) for k in _PLATEAU_STATE if hasattr(c, k)}
                   for c in self.stateful]
        write_file(meta, json.dumps({"epoch": finished_epochs, "sha256": file_digest(weights),
                                     "best": self.best, "callbacks": {"plateau": plateau}})
                   + "\n", fsync=True)


class SyncReplicaStatistics(keras.callbacks.Callback):
    """Averages the BatchNormalization moving statistics over the replicas of a
    tf.distribute strategy before every evaluation (validation during ``fit``
    included, so checkpoints written after it hold the averages) and at the end of
    training: see :func:`keras_resnet.training.strategy.sync_moving_statistics`."""

    def __init__(self, strategy, model=None):
        super().__init__()
        self.strategy = strategy
        self.net = model  # the layers to average (the trained network itself)

    def _sync(self):
        sync_moving_statistics(self.net or self.model, self.strategy)

    def on_test_begin(self, logs=None):
        self._sync()

    def on_train_end(self, logs=None):
        self._sync()
