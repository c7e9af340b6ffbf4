"""Reading PyTorch's ``torch.save`` files (``.pth``, ``.pt``) without PyTorch.

Since PyTorch 1.6, ``torch.save`` writes a zip archive: ``<name>/data.pkl`` (a pickle
that names each tensor's storage, offset, shape and strides) and one raw little-endian
file per storage under ``<name>/data/``. :func:`read_state_dict` reads that layout with
the standard library and numpy: the pickle goes through an unpickler that accepts only
the handful of globals a state_dict names (storage types, ``_rebuild_tensor_v2``,
``OrderedDict``) and refuses everything else, so, unlike ``pickle.load``, a file cannot
run code. Every torchvision weight file of today (V1 re-saved in 2021, V2) has this
layout; a pre-1.6 file is read by PyTorch when it is installed, and otherwise refused
with a message that says so.

Why our own reader: the one PyPI package that does this (``ptloader``, a few kB, 2025)
is too young to trust with a pickle; the format is small, and tests compare this reader
with ``torch.load`` on files ``torch.save`` writes (every dtype below, views with
offsets and strides, nested checkpoints).
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile

import numpy as np

# torch storage class -> numpy dtype of its bytes (bfloat16 is widened below)
_STORAGES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": np.uint16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _Storage:
    """One storage of the archive, read on first use."""

    def __init__(self, archive, member, kind):
        self.archive, self.member, self.kind = archive, member, kind

        self._array = None

    def array(self) -> np.ndarray:
        if self._array is None:
            self._array = np.frombuffer(self.archive.read(self.member),
                                        dtype=_STORAGES[self.kind])
        return self._array


def _rebuild_tensor(storage, offset, size, stride, *unused):
    data = storage.array()
    itemsize = data.dtype.itemsize
    if len(size) and (min(size) > 0) and (
            offset + sum((n - 1) * s for n, s in zip(size, stride)) >= data.size):
        raise ValueError(f"tensor of shape {tuple(size)} runs past its storage "
                         f"({storage.member}): the file is damaged")
    view = np.lib.stride_tricks.as_strided(data[offset:], shape=tuple(size),
                                           strides=tuple(s * itemsize for s in stride))
    out = np.array(view)  # own the bytes (contiguous copy)
    if storage.kind == "BFloat16Storage":  # bfloat16 = the high half of a float32
        out = (out.astype(np.uint32) << 16).view(np.float32)
    return out


def _rebuild_parameter(data, requires_grad=None, backward_hooks=None, *unused):
    return data


class _Unpickler(pickle.Unpickler):
    _ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, data, archive, prefix):
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix = archive, prefix

    def find_class(self, module, name):
        if module == "torch" and name in _STORAGES:
            return name  # the storage kind, used by persistent_load
        found = self._ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(
                f"{module}.{name} is not part of a state_dict; this reader does not run "
                "code from files (load the file with torch.load if you trust it)")
        return found

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, kind, key = pid[:3]
        if kind not in _STORAGES:
            raise pickle.UnpicklingError(f"unsupported storage type {kind!r}")
        return _Storage(self.archive, f"{self.prefix}data/{key}", kind)


def read_state_dict(path) -> dict[str, np.ndarray]:
    """The tensors of a ``torch.save`` file as numpy arrays, by their state_dict names.

    A checkpoint that nests the weights under ``"state_dict"`` or ``"model"`` is
    unwrapped; non-tensor entries are dropped. bfloat16 tensors come back as float32.

    Raises:
        ValueError: the file is not a zip ``torch.save`` archive (and PyTorch, which
            reads older files, is not installed), names globals outside a state_dict,
            is big-endian, or is damaged.
    """
    path = os.fspath(path)
    if not zipfile.is_zipfile(path):
        return _legacy(path)
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
        if len(pickles) != 1:
            raise ValueError(f"{path!r} is a zip archive but not a torch.save file "
                             "(no single data.pkl)")
        prefix = pickles[0][: -len("data.pkl")]
        if f"{prefix}byteorder" in archive.namelist():
            order = archive.read(f"{prefix}byteorder").decode().strip()
            if order != "little":
                raise ValueError(f"{path!r} was written on a {order}-endian machine; "
                                 "load and re-save it with torch on a little-endian one")
        try:
            state = _Unpickler(archive.read(pickles[0]), archive, prefix).load()
        except (pickle.UnpicklingError, EOFError, KeyError, TypeError) as err:
            raise ValueError(f"cannot read {path!r} as a PyTorch state_dict: {err}") from None
    return _tensors(state, path)


def _tensors(state, path, convert=lambda v: v):
    """The arrays of a state_dict, unwrapped from a ``"state_dict"`` / ``"model"`` key;
    ``convert`` turns each value into a numpy array or None (non-tensors)."""
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"{path!r} does not hold a state_dict")
    arrays = {k: convert(v) for k, v in state.items()}
    return {k: v for k, v in arrays.items() if isinstance(v, np.ndarray)}


def _legacy(path):
    """A pre-1.6 (non-zip) file: only PyTorch reads it."""
    try:
        import torch
    except ImportError:
        raise ValueError(
            f"{path!r} is not a zip torch.save archive: either not a PyTorch file or one "
            "written before PyTorch 1.6, which only PyTorch reads (pip install torch), or "
            "re-save it with a recent torch") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a bad file
        raise ValueError(f"cannot read {path!r} as a PyTorch state_dict (truncated or "
                         f"not a .pth file?): {err}") from None
    def to_numpy(v):
        if not isinstance(v, torch.Tensor):
            return None
        return (v.detach().float() if v.dtype == torch.bfloat16 else v.detach()).numpy()

    return _tensors(state, path, to_numpy)
