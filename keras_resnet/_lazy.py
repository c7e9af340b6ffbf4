"""PEP 562 lazy attributes, shared by the package's ``__init__`` files.

``import keras_resnet`` (and ``keras_resnet.training``) must not import Keras and its
backend; their public names are therefore resolved on first use from a table of
``name -> defining module``. Written here rather than taken from ``lazy_loader``
(scientific-python): that library words its AttributeError differently from Python's
own ("No pkg attribute x" against "module 'pkg' has no attribute 'x'", which callers
match on) and would be a new core dependency for these few lines.
"""

from __future__ import annotations

import importlib
import sys


def attach(package: str, exports: dict, submodules=(), extra=None):
    """``(__getattr__, __dir__)`` for ``package``: ``exports`` maps a public name to the
    module (relative to ``package``) that defines it, ``submodules`` are reachable as
    attributes without an import, and ``extra`` maps further names to functions making
    their value. Each value is stored in the package's namespace when first made, so
    later look-ups never reach ``__getattr__``. Unknown names raise AttributeError."""
    extra = dict(extra or {})

    def __getattr__(name):
        if name in exports:
            value = getattr(importlib.import_module(f".{exports[name]}", package), name)
        elif name in submodules:
            value = importlib.import_module(f".{name}", package)
        elif name in extra:
            value = extra[name]()
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        vars(sys.modules[package])[name] = value
        return value

    def __dir__():
        module = sys.modules[package]
        return sorted(set(vars(module)) | set(getattr(module, "__all__", ())))

    return __getattr__, __dir__
