"""keras-tuner search over the paper's CIFAR-family design space.

:class:`ResNetHyperModel` searches depth (``n``: depth ``6n + 2``), width multiplier,
shortcut option (A/B/C), learning rate and the paper's coupled weight decay, building
every candidate with :func:`keras_resnet.build` (so each is an exact paper network,
and the weight decay is attached when layers are built). keras-tuner's own
``HyperResNet`` searches a fixed ImageNet-style ResNet family (its ``version`` and
depth choices) without plain/shortcut options, per-pixel-mean data or coupled weight
decay; this one is for the paper's small-image networks and their training recipe.
"""

from __future__ import annotations

import json
import os

import keras
import keras_tuner
import numpy as np

from ..arch.specs import cifar_spec
from ..data.augment import compute_pixel_mean, eval_dataset, train_dataset
from ..data.sources import check_held_out_classes, load_split, validation_folder
from ..io import atomic_write, write_file
from ..zoo import build


class ResNetHyperModel(keras_tuner.HyperModel):
    def __init__(self, input_shape, classes, ns=(1, 2, 3), width_multipliers=(1.0, 2.0),
                 shortcuts=("A", "B", "C"), learning_rate=(0.01, 0.2),
                 weight_decay=(1e-5, 1e-3), momentum=0.9, **kwargs):
        super().__init__(**kwargs)
        self.input_shape, self.classes = tuple(input_shape), classes
        self.ns, self.width_multipliers, self.shortcuts = list(ns), list(width_multipliers), list(shortcuts)
        self.learning_rate, self.weight_decay, self.momentum = learning_rate, weight_decay, momentum

    def build(self, hp):
        n = hp.Choice("n", self.ns)
        width = hp.Choice("width_multiplier", self.width_multipliers)
        shortcut = hp.Choice("shortcut", self.shortcuts)
        lr = hp.Float("learning_rate", *self.learning_rate, sampling="log")
        wd = hp.Float("weight_decay", *self.weight_decay, sampling="log")
        spec = cifar_spec(n=n, width_multiplier=width)
        model = build(spec, input_shape=self.input_shape, classes=self.classes,
                      shortcut=shortcut, weight_decay=wd,
                      name=f"resnet{spec.depth}_w{width:g}_{shortcut}")
        model.compile(optimizer=keras.optimizers.SGD(lr, momentum=self.momentum),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model


def tune(dataset="embedded", *, algorithm="random", max_trials=4, epochs=3, batch_size=64,
         out="runs/tune", ns=(1, 2), width_multipliers=(1.0,), shortcuts=("A", "B"),
         max_train_examples=None, max_val_examples=None, seed=0, overwrite=False,
         verbose=1, skip_bad_images=False) -> dict:
    """Search on ``dataset`` (validation: an image folder's ``val/`` beside ``train/``
    and ``test/``, as ``train`` validates; else its test split); writes ``best.keras``,
    ``pixel_mean.npy`` and ``results.json`` (best hyperparameters and score) to ``out``.
    ``skip_bad_images``: leave unreadable files of an image folder out (as ``train``).
    ``max_train_examples`` / ``max_val_examples``: at most this many images, a random
    choice that ``seed`` fixes (:meth:`~keras_resnet.data.sources.Split.sample`).
    Raises ValueError, before searching, for an unknown algorithm, a dataset of varying
    image sizes, or an image folder whose test folder has classes its train folder lacks
    (their images would be left out of every trial's score)."""
    if algorithm not in ("random", "hyperband"):
        raise ValueError(f"algorithm must be 'random' or 'hyperband', got {algorithm!r}")
    keras.utils.set_random_seed(seed)
    train_split = load_split(dataset, "train", skip_bad_images=skip_bad_images)
    val_split = load_split(dataset, "validation" if validation_folder(dataset) else "test",
                           skip_bad_images=skip_bad_images)
    check_held_out_classes(val_split, train_split, dataset)
    if max_train_examples:  # random choices: a folder lists its files class by class
        train_split = train_split.sample(max_train_examples, seed)
    if max_val_examples:
        val_split = val_split.sample(max_val_examples, seed)
    if None in train_split.image_shape:
        raise ValueError("the search builds CIFAR-family networks: use a fixed-size dataset")
    mean = compute_pixel_mean(train_split, "cifar", train_split.image_shape[-1])
    train_ds = train_dataset(train_split, "cifar", mean, batch_size, seed=seed, crop=False)
    val_ds = eval_dataset(val_split, "cifar", mean, batch_size=256)
    hypermodel = ResNetHyperModel(train_split.image_shape, train_split.num_classes, ns=ns,
                                  width_multipliers=width_multipliers, shortcuts=shortcuts)
    common = dict(objective="val_accuracy", directory=out, project_name="search",
                  overwrite=overwrite, seed=seed)
    if algorithm == "random":
        tuner = keras_tuner.RandomSearch(hypermodel, max_trials=max_trials, **common)
    else:
        tuner = keras_tuner.Hyperband(hypermodel, max_epochs=epochs, **common)
    tuner.search(train_ds, validation_data=val_ds, epochs=epochs, verbose=verbose)
    best_trial = tuner.oracle.get_best_trials(1)[0]
    best = tuner.get_best_models(1)[0]
    atomic_write(os.path.join(out, "best.keras"), best.save)
    atomic_write(os.path.join(out, "pixel_mean.npy"), lambda p: np.save(p, mean))
    trials = [{"id": t.trial_id, "hyperparameters": t.hyperparameters.values, "score": t.score}
              for t in tuner.oracle.trials.values()]
    result = {"best_hyperparameters": best_trial.hyperparameters.values,
              "best_val_accuracy": best_trial.score, "trials": trials,
              "algorithm": algorithm, "dataset": dataset}
    write_file(os.path.join(out, "results.json"), json.dumps(result, indent=2) + "\n")
    print(f"best of {len(trials)} trials: {best_trial.hyperparameters.values} -> "
          f"val accuracy {best_trial.score:.2%}; saved {out}/best.keras")
    return result
