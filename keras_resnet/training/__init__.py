"""Training: the paper's recipes, the strategy, fault-tolerant ``model.fit``.

Names are imported on first use (as the package's own): :class:`TrainConfig` and the
recipes read without Keras, so that the ``keras-resnet`` parser, built from
TrainConfig's fields, starts without importing Keras and its backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _lazy

_EXPORTS = {
    "RECIPES": "recipes", "Recipe": "recipes", "get_recipe": "recipes",
    "make_optimizer": "recipes", "paper_schedule": "recipes",
    "TrainConfig": "config",
    "RunConfigMismatch": "run", "train": "run",
    "choose_strategy": "strategy", "is_chief": "strategy",
}

__all__ = ["RECIPES", "Recipe", "paper_schedule", "RunConfigMismatch", "TrainConfig",
           "choose_strategy", "get_recipe", "is_chief", "make_optimizer", "train"]


_SUBMODULES = ("callbacks", "config", "fused_bn", "recipes", "run", "strategy", "tuning")


__getattr__, __dir__ = _lazy.attach(__name__, _EXPORTS, _SUBMODULES)


if TYPE_CHECKING:  # for static analysis and IDE completion
    from .config import TrainConfig
    from .recipes import RECIPES, Recipe, get_recipe, make_optimizer, paper_schedule
    from .run import RunConfigMismatch, train
    from .strategy import choose_strategy, is_chief
