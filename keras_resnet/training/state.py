"""The state of one training run: what :func:`~keras_resnet.training.run.train`'s
steps build up, one attribute group per step (run.py's steps before the fit, fit.py's
from the network on)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..preprocessing import Preprocessing
from .config import TrainConfig
from .recipes import Recipe


@dataclasses.dataclass
class RunState:
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
    # fit.py's steps
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
