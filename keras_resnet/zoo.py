"""Named constructors (``ResNet50``, ``Plain20``, ...) with the keras.applications
signature, one per registry entry, all made by :func:`constructor`."""

from __future__ import annotations

import inspect

from .builder import build
from .specs import SPECS, get_spec

_FAMILY_TEXT = {
    "imagenet": "ImageNet network (paper Table 1)",
    "cifar": "CIFAR network (paper section 4.2, depth 6n+2)",
}


def constructor(name: str):
    """Return a keras.applications-style function that builds registry model ``name``."""
    spec = get_spec(name)

    def make(include_top=True, weights=None, input_tensor=None, input_shape=None,
             pooling=None, classes=None, classifier_activation="softmax", **options):
        return build(spec, include_top=include_top, weights=weights,
                     input_tensor=input_tensor, input_shape=input_shape, pooling=pooling,
                     classes=classes, classifier_activation=classifier_activation,
                     **options)

    # Show the family's real defaults (classes=1000 or 10) in help() and IDEs.
    params = list(inspect.signature(make).parameters.values())
    params = [p.replace(default=spec.default_classes) if p.name == "classes" else p
              for p in params]
    make.__signature__ = inspect.Signature(params)
    kind = "residual" if spec.residual else "plain (no shortcuts)"
    shortcut = f", shortcut option {spec.shortcut}" if spec.residual else ""
    make.__name__ = make.__qualname__ = spec.constructor_name
    make.__module__ = "keras_resnet"
    make.__doc__ = (
        f"{spec.constructor_name}: {spec.depth}-layer {kind} {_FAMILY_TEXT[spec.family]}"
        f"{shortcut}.\n\n"
        f"{spec.block} blocks {list(spec.blocks_per_stage)}, widths {list(spec.widths)}; "
        f"default input {spec.default_input_shape}, {spec.default_classes} classes.\n"
        "Arguments as keras.applications.ResNet50; further options "
        "(shortcut, stride_placement, zero_init_residual, weight_decay, bn_epsilon, "
        "bn_momentum, name) are documented in keras_resnet.build."
    )
    return make


CONSTRUCTORS = {spec.constructor_name: constructor(name) for name, spec in SPECS.items()}
