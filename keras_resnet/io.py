"""Files, hashes, caches and deep graphs: the one copy of each helper the package needs.

* :func:`atomic_write` / :func:`write_file`: a reader never sees a half-written file;
* :func:`file_digest`: MD5 / SHA-256 of a file, read in 1 MiB chunks;
* :func:`cache_dir`: where downloaded weights live;
* :func:`deep_recursion`: Keras walks functional graphs recursively, a few Python
  frames per layer, and ResNet-1202 (~4,200 layers) needs more than the default 1,000.

Imports nothing of this package (it is the bottom of the import order).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sys


def atomic_write(path, write) -> str:
    """Call ``write(tmp_path)``, then rename ``tmp_path`` to ``path``; returns ``path``.

    The temporary file sits in the same folder (so the rename is atomic), keeps the
    extension (Keras checks it) and has a name of its own per call, so processes
    writing the same file at once never share one (the last rename wins, whole); it is
    removed if ``write`` fails.
    """
    path = os.fspath(path)
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    root, ext = _split_ext(path)
    tmp = _partial_name(root, ext, os.getpid())
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _split_ext(path):
    root, ext = os.path.splitext(path)
    if path.endswith(".weights.h5"):
        root, ext = path[: -len(".weights.h5")], ".weights.h5"
    return root, ext


def _partial_name(root, ext, pid):
    return f"{root}.{pid}-{secrets.token_hex(4)}.partial{ext}"


def remove_stale_partials(path) -> list:
    """Delete the temporary files that :func:`atomic_write` calls for ``path`` left
    behind in processes that no longer run (killed mid-write); files of running
    processes are kept. Returns the deleted paths."""
    path = os.fspath(path)
    folder = os.path.dirname(path) or "."
    root, ext = _split_ext(os.path.basename(path))
    prefix, suffix = root + ".", ".partial" + ext
    removed = []
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return removed
    for name in names:
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        pid = name[len(prefix):-len(suffix)].split("-")[0]
        if not pid.isdigit() or _running(int(pid)):
            continue
        try:
            os.remove(os.path.join(folder, name))
            removed.append(os.path.join(folder, name))
        except FileNotFoundError:  # another process cleaned it first
            pass
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def write_file(path, data, *, fsync: bool = False) -> str:
    """Write ``data`` (``str`` or ``bytes``) to ``path`` atomically; ``fsync=True`` also
    flushes it to disk before the rename (checkpoint metadata that must survive a
    power cut)."""
    def write(tmp):
        with open(tmp, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
    return atomic_write(path, write)


def file_digest(path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (``algorithm``: any name ``hashlib.new`` takes)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_dir() -> str:
    """``$KERAS_RESNET_CACHE``, else ``$KERAS_HOME/models/keras_resnet`` (Keras' own
    cache, ``~/.keras/models/keras_resnet`` by default)."""
    explicit = os.environ.get("KERAS_RESNET_CACHE")
    if explicit:
        return explicit
    keras_home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(keras_home, "models", "keras_resnet")


@contextlib.contextmanager
def deep_recursion(frames: int = 10_000):
    """Raise Python's recursion limit to at least ``frames`` inside the block; the old
    limit is restored after it. Loading a saved ResNet-1202 needs ~7,000."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, frames))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)
