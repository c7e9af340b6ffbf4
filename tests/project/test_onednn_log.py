"""bench/onednn_primitives.py reads oneDNN's execution log of the TensorFlow installed
here: each convolution call's kind, time and multiply-adds (from the problem descriptor
the log prints). Checked on a real log of a few convolutions against the multiply-adds
worked out from the layers' shapes, so a change in oneDNN's log format fails here
instead of putting wrong GFLOP/s on the benchmarks page. Runs no benchmark."""

import os
import subprocess
import sys

import pytest

from tests.paths import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import onednn_primitives  # noqa: E402

# (batch, height, width, in channels, out channels, kernel, stride)
CONVS = [(4, 12, 12, 16, 32, 3, 2), (4, 6, 6, 32, 32, 3, 1), (2, 8, 8, 8, 24, 1, 1)]

SCRIPT = """
import sys
import tensorflow as tf
convs = {convs!r}
steps = 2
mark, end = {mark!r}, {end!r}
xs, ws = [], []
for n, h, w, ci, co, k, s in convs:
    xs.append(tf.random.normal([n, h, w, ci]))
    ws.append(tf.random.normal([k, k, ci, co]))

def step():
    for (n, h, w, ci, co, k, s), x, wt in zip(convs, xs, ws):
        with tf.GradientTape() as tape:
            tape.watch([x, wt])
            y = tf.nn.conv2d(x, wt, s, "SAME")
        tape.gradient(y, [x, wt])

step()
print(mark + " wall_ms_per_step=1.0", flush=True)
for _ in range(steps):
    step()
print(end, flush=True)
"""


def _expected_macs(n, h, w, ci, co, k, s):
    out_h, out_w = -(-h // s), -(-w // s)  # "SAME" padding
    return n * out_h * out_w * co * ci * k * k


def test_conv_macs_reads_oneDNN_problem_descriptors():
    assert onednn_primitives.conv_macs(
        "mb128_ic16oc32_ih32oh16kh3sh2dh0ph1_iw32ow16kw3sw2dw0pw1") == 128 * 32 * 16 * 16 * 16 * 9
    assert onednn_primitives.conv_macs(
        "g2mb4_ic16oc32_ih8oh8kh3sh1dh0ph1_iw8ow8kw3sw1dw0pw1") == 4 * 32 * 8 * 8 * 8 * 9
    with pytest.raises(ValueError, match="not a convolution problem descriptor"):
        onednn_primitives.conv_macs("32x16x3x3")  # a reorder's descriptor


def test_a_real_tensorflow_log_gives_each_kind_its_calls_and_multiply_adds():
    code = SCRIPT.format(convs=CONVS, mark=onednn_primitives.MARK, end=onednn_primitives.END)
    env = {**os.environ, "ONEDNN_VERBOSE": "1", "TF_ENABLE_ONEDNN_OPTS": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    log = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=300)
    assert log.returncode == 0, log.stderr[-2000:]
    if "onednn_verbose" not in log.stdout:
        pytest.skip("this TensorFlow build runs its convolutions without oneDNN")
    rows, wall = onednn_primitives.parse(log.stdout, steps=2)
    assert wall == 1.0
    expected = sorted(_expected_macs(*c) for c in CONVS)
    for kind in ("convolution, forward", "convolution, backward data",
                 "convolution, backward weights"):
        row = rows[kind]
        assert row["calls"] == len(CONVS), (kind, row)
        got = sorted(round(p["gflop"] * 1e9 / 2) for p in row["problems"].values())
        assert got == expected, kind
        assert row["gflop"] == pytest.approx(2 * sum(expected) / 1e9)
        assert row["ms"] > 0
