"""The ``keras-resnet`` command: argument parsing only (:mod:`.main`); each command
calls library functions (:mod:`.commands`)."""

from .main import main, make_parser

__all__ = ["main", "make_parser"]
