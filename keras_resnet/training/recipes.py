"""Training recipes as data, each citing the paper.

A recipe fixes the optimiser (SGD, momentum), the paper's coupled weight decay (an L2
kernel regulariser of ``wd / 2`` attached when the layers are built; Keras 3's
``SGD(weight_decay=...)`` is decoupled and not the same), the batch size it was
written for, and the learning-rate schedule. Step schedules are expressed as fractions
of the run's total iterations, so a shorter run keeps the paper's shape: the CIFAR
recipe divides the rate by 10 at 32k and 48k of 64k iterations, i.e. at 50% and 75%.

Learning rate and global batch: with a global batch ``B`` (all replicas together)
different from the recipe's ``B0``, the base rate is scaled linearly, ``lr * B / B0``
(Goyal et al. 2017); e.g. the CIFAR recipe on 4 GPUs with 128 images each uses
0.1 * 512 / 128 = 0.4. ``--no-lr-scaling`` keeps the recipe's rate.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    name: str
    reference: str  # where in the paper
    family: str  # "cifar" (pad-crop-flip) or "imagenet" (scale augmentation)
    batch_size: int
    learning_rate: float
    momentum: float
    weight_decay: float
    schedule: str  # "steps" or "plateau"
    epochs: int  # default length of a run
    boundaries: tuple[float, ...] = ()  # fractions of the total iterations ("steps")
    warmup_learning_rate: float | None = None
    warmup_iterations: int = 0
    warmup_min_depth: int = 0  # warm-up applies to networks at least this deep
    plateau_patience: int = 5
    # CIFAR-style augmentation: "pad-crop-flip" (the paper's) or "flip" (for short runs
    # on small images, where 4-pixel shifts cost more epochs than a run has).
    augmentation: str = "pad-crop-flip"

    def replace(self, **changes) -> "Recipe":
        return dataclasses.replace(self, **changes)


RECIPES = {
    "paper-cifar10": Recipe(
        name="paper-cifar10",
        reference="He et al. 2015, section 4.2 (CIFAR-10 and analysis)",
        family="cifar", batch_size=128, learning_rate=0.1, momentum=0.9,
        weight_decay=1e-4, schedule="steps",
        # 64k iterations of 128 on 50k images = 164 epochs; /10 at 32k and 48k.
        epochs=164, boundaries=(0.5, 0.75),
        # ResNet-110 (and 1202): lr 0.01 until training error < 80% (~400 iterations).
        warmup_learning_rate=0.01, warmup_iterations=400, warmup_min_depth=110,
    ),
    "paper-imagenet": Recipe(
        name="paper-imagenet",
        reference="He et al. 2015, section 3.4 (Implementation)",
        family="imagenet", batch_size=256, learning_rate=0.1, momentum=0.9,
        weight_decay=1e-4, schedule="plateau",
        # up to 60 x 10^4 iterations of 256 on 1.28M images = 120 epochs.
        epochs=120, plateau_patience=5,
    ),
    "fashion-mnist": Recipe(
        name="fashion-mnist",
        reference="the CIFAR recipe of section 4.2, shortened for 2 CPU cores",
        family="cifar", batch_size=64, learning_rate=0.05, momentum=0.9,
        weight_decay=1e-4, schedule="steps", epochs=30, boundaries=(0.5, 0.75),
        augmentation="flip",
    ),
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}")
    return RECIPES[name]


def paper_schedule(learning_rate, boundaries=(), warmup_learning_rate=None,
                   warmup_iterations=0):
    """The rate divided by 10 at each boundary (iterations), with an optional warm-up
    rate for the first ``warmup_iterations``, as Keras' stock PiecewiseConstantDecay:
    a pure function of the optimiser's iteration count, so a resumed run continues on
    the same schedule, and a saved model loads in plain Keras."""
    import keras  # here, not at the top: TrainConfig (and so the CLI's parser) reads
    # RECIPES without importing Keras and its backend

    points = [int(b) for b in boundaries]
    values = [learning_rate * 0.1 ** i for i in range(len(points) + 1)]
    if warmup_learning_rate is not None and warmup_iterations > 0:
        if points and warmup_iterations >= points[0]:
            raise ValueError("the warm-up must end before the first rate drop")
        points = [int(warmup_iterations), *points]
        values = [warmup_learning_rate, *values]
    if not points:
        return float(learning_rate)
    return keras.optimizers.schedules.PiecewiseConstantDecay(points, values)


def make_optimizer(recipe: Recipe, *, steps_per_epoch: int, epochs: int, depth: int,
                   global_batch: int, scale_lr: bool = True):
    """SGD for ``recipe`` over ``epochs`` x ``steps_per_epoch`` iterations. Returns the
    optimiser and the base learning rate used (after batch scaling)."""
    import keras  # see paper_schedule

    base = recipe.learning_rate
    if scale_lr and global_batch != recipe.batch_size:
        base = base * global_batch / recipe.batch_size
    if recipe.schedule == "plateau":
        lr = base  # a variable; ReduceLROnPlateau divides it by 10
    else:
        total = steps_per_epoch * epochs
        warm = recipe.warmup_learning_rate is not None and depth >= recipe.warmup_min_depth
        lr = paper_schedule(
            base, [round(f * total) for f in recipe.boundaries],
            warmup_learning_rate=(recipe.warmup_learning_rate * base / recipe.learning_rate)
            if warm else None,
            warmup_iterations=recipe.warmup_iterations if warm else 0)
    return keras.optimizers.SGD(lr, momentum=recipe.momentum), base
