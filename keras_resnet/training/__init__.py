"""Training: the paper's recipes, the strategy, fault-tolerant ``model.fit``."""

from .recipes import RECIPES, Recipe, get_recipe, make_optimizer, paper_schedule
from .run import RunConfigMismatch, train
from .strategy import choose_strategy, is_chief

__all__ = ["RECIPES", "Recipe", "paper_schedule", "RunConfigMismatch", "choose_strategy",
           "get_recipe", "is_chief", "make_optimizer", "train"]
