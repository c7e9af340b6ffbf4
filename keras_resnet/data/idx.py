"""Reader and writer for the IDX format of MNIST and Fashion-MNIST (optionally gzipped).

Format: 2 zero bytes, a type byte (0x08 = uint8), a byte giving the number of
dimensions, then one big-endian uint32 per dimension, then the data.
"""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np

from ..io import atomic_write

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}


def read_idx(path) -> np.ndarray:
    """Read an ``.idx`` or ``.idx.gz`` file into a numpy array, checking its header."""
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise ValueError(f"cannot read IDX file {path!r}: {err}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise ValueError(f"{path!r} is not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path!r} is truncated: header cut short")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{path!r} holds {len(data) - header} data bytes but its header {shape} "
            f"needs {expected}: the file is truncated or corrupt"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(
        dtype.newbyteorder("=")
    )


def write_idx(path, array: np.ndarray, *, mtime: int = 0) -> None:
    """Write ``array`` (uint8 or int8) as IDX; gzip it when ``path`` ends in ``.gz``.

    The gzip header carries ``mtime`` and no file name, so output is reproducible.
    """
    array = np.ascontiguousarray(array)
    if array.dtype not in _CODES:
        raise ValueError(f"write_idx supports uint8 and int8 arrays, got {array.dtype}")
    header = bytes([0, 0, _CODES[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.tobytes()
    path = os.fspath(path)

    def write(tmp):
        with open(tmp, "wb") as raw:
            if path.endswith(".gz"):
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime,
                                   compresslevel=9) as f:
                    f.write(payload)
            else:
                raw.write(payload)

    atomic_write(path, write)
