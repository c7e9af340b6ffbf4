"""Writing files so that a reader never sees a half-written one."""

from __future__ import annotations

import os


def atomic_write(path, write) -> str:
    """Call ``write(tmp_path)``, then rename ``tmp_path`` to ``path``.

    The temporary file sits in the same folder (so the rename is atomic) and keeps the
    extension (Keras checks it); it is removed if ``write`` fails.
    """
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    root, ext = os.path.splitext(path)
    if path.endswith(".weights.h5"):
        root, ext = path[: -len(".weights.h5")], ".weights.h5"
    tmp = f"{root}.partial{ext}"
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
