"""What the CPU offers the frameworks: bfloat16 instructions, and whether TensorFlow
runs its oneDNN kernels on it.

TensorFlow's x86-64 Linux builds contain oneDNN's convolution, matmul and batch-norm
kernels but switch them on by default only where the CPU has AVX512_VNNI, AVX512_BF16,
AVX-VNNI or AMX (``IsMklEnabled`` in tensorflow/core/util/port.cc, TensorFlow 2.9 to
2.21 at least); on other CPUs
(AVX2 ones such as AMD Zen 2/3 and older Intel) convolutions go through TensorFlow's
Eigen path instead. On a 2-core AVX2 AMD EPYC, ResNet-20 training (what
``keras-resnet train`` runs) went from 157 to 278 img/s, 1.8x, with the oneDNN kernels
on (``TF_ENABLE_ONEDNN_OPTS=1``; docs/benchmarks.md, "Training precision"). TensorFlow reads that variable once, when it is imported, so
``import keras_resnet`` sets it (see :func:`enable_tf_onednn`) before anything can
import TensorFlow, unless the user has set it. Like any environment variable it then
holds for the whole process and the processes it starts; oneDNN's kernels sum in
another order than Eigen's, so results differ from TensorFlow's default by float
rounding (TensorFlow logs the same caveat). ``TF_ENABLE_ONEDNN_OPTS=0`` keeps them off.

Imports nothing of ours and nothing heavy: ``import keras_resnet`` runs it.
"""

from __future__ import annotations

import os
import platform
import sys

ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"

# Instruction sets that do bfloat16 arithmetic in hardware, as /proc/cpuinfo names them:
# x86 AVX512_BF16 and AMX (oneDNN's bf16 kernels need one of them), AArch64 BF16.
_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
# The features for which TensorFlow turns oneDNN on by itself (port.cc, see above).
TF_ONEDNN_DEFAULT_FLAGS = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile",
                            "amx_int8", "amx_bf16")
_X86_64 = ("x86_64", "amd64")


def _linux_x86_64() -> bool:
    # TensorFlow's Windows builds keep oneDNN off on purpose and its macOS builds have
    # none; only Linux x86-64 was measured here.
    return sys.platform.startswith("linux") and platform.machine().lower() in _X86_64


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str] | None:
    """The first CPU's feature flags in ``/proc/cpuinfo`` (x86 ``flags``, AArch64
    ``Features``).

    Args:
        cpuinfo: the file to read (Linux's ``/proc/cpuinfo``; other paths for tests).

    Returns:
        The set of flags; ``None`` where the file cannot be read (not Linux) or has no
        such line (other architectures): unknown.

    Why not a library: py-cpuinfo gives the same list on more systems, but only these
    two checks need it, and one Linux file keeps it out of the dependencies.
    """
    try:
        with open(cpuinfo) as f:
            for line in f:
                key = line.split(":", 1)[0].strip()
                if key in ("flags", "Features"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def cpu_bf16_units(cpuinfo: str = "/proc/cpuinfo") -> list[str] | None:
    """The CPU's bfloat16 instruction sets, as listed in ``/proc/cpuinfo``.

    Args:
        cpuinfo: the file to read (Linux's ``/proc/cpuinfo``; other paths for tests).

    Returns:
        The sorted names found (e.g. ``["amx_bf16", "avx512_bf16"]``); ``[]`` when the
        CPU lists none (bfloat16 is then emulated with float32 units: a ResNet-20
        training step measured 12x slower than float32 on such a CPU,
        docs/benchmarks.md); ``None`` where the file cannot be read: unknown.
    """
    flags = cpu_flags(cpuinfo)
    return None if flags is None else sorted(flags.intersection(_BF16_FLAGS))


def enable_tf_onednn() -> bool:
    """Set ``TF_ENABLE_ONEDNN_OPTS=1`` for this process if that can still take effect.

    Only on Linux x86-64 (TensorFlow's builds for other systems differ, and only this
    one was measured), only while TensorFlow is not imported yet (it reads the variable
    once, at import), and never over a value the user set (``TF_ENABLE_ONEDNN_OPTS=0``
    keeps the kernels off). The variable is in ``os.environ``: child processes inherit
    it.

    Returns:
        True when this call set the variable.
    """
    # TensorFlow reads an empty value as unset (its default), so it is not a choice
    if not _linux_x86_64() or "tensorflow" in sys.modules or os.environ.get(ONEDNN_ENV):
        return False
    os.environ[ONEDNN_ENV] = "1"
    return True


def onednn_env_choice() -> bool | None:
    """``TF_ENABLE_ONEDNN_OPTS`` as TensorFlow parses it: True for "1"/"true", False
    for "0"/"false" (case-insensitive, not stripped), None for anything else, empty and
    unset included (TensorFlow then keeps its CPU-feature default)."""
    value = os.environ.get(ONEDNN_ENV, "").lower()
    return value in ("1", "true") if value in ("1", "true", "0", "false") else None


def tf_onednn_expected(cpuinfo: str = "/proc/cpuinfo") -> bool | None:
    """Whether TensorFlow, imported now, would run its oneDNN kernels.

    Read from ``TF_ENABLE_ONEDNN_OPTS`` as TensorFlow parses it ("1"/"true" on,
    "0"/"false" off, case-insensitive; anything else, empty included, is ignored) and
    otherwise from the CPU features for which TensorFlow turns them on by itself.

    Args:
        cpuinfo: the file to read the CPU features from (tests pass their own).

    Returns:
        True or False; None where it cannot be told (not Linux x86-64, or the CPU's
        features unreadable).
    """
    if not _linux_x86_64():
        return None
    choice = onednn_env_choice()
    if choice is not None:
        return choice
    flags = cpu_flags(cpuinfo)
    return None if flags is None else bool(flags.intersection(TF_ONEDNN_DEFAULT_FLAGS))


def tf_onednn_enabled() -> bool | None:
    """Whether TensorFlow in this process runs its oneDNN kernels.

    Once TensorFlow is imported its own answer (``IsMklEnabled``, a private function of
    ``tensorflow.python.util``: TensorFlow has no public one, and the variable alone
    can mislead, e.g. when it was set after the import); before that, or where that
    function is missing, :func:`tf_onednn_expected`.

    Returns:
        True or False; None where it cannot be told.
    """
    if "tensorflow" in sys.modules:
        try:
            from tensorflow.python.util import _pywrap_util_port
        except ImportError:
            pass
        else:
            return bool(_pywrap_util_port.IsMklEnabled())
    return tf_onednn_expected()
