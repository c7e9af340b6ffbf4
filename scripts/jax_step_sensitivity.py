"""How far apart SGD steps of ResNet-8 drift under JAX: a 2-device DataParallel run vs
one device, and one device vs itself with the images scaled by (1 + 1e-7). The numbers
justify the step count and tolerance of tests/training/test_jax_training.py.

    python scripts/jax_step_sensitivity.py [--steps 2 3]

Each run is its own process (the device count is fixed when JAX starts); prints the
largest absolute weight difference for each comparison and step count.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

RUN = r"""
import os, sys
import numpy as np
import keras, keras_resnet
devices, steps, scale, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
if devices > 1:
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=keras.distribution.list_devices()))
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.random((32 * steps, 28, 28, 1)).astype("float32") * np.float32(1 + scale)
y = rng.integers(0, 10, 32 * steps)
model = keras_resnet.build("resnet8", input_shape=(28, 28, 1), classes=10, weight_decay=0)
model.compile(keras.optimizers.SGD(0.025, momentum=0.9), "sparse_categorical_crossentropy")
model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
np.savez(out, *model.get_weights())
"""


def run(devices, steps, scale, out):
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    subprocess.run([sys.executable, "-c", RUN, str(devices), str(steps), str(scale), out],
                   env=env, check=True)
    with np.load(out) as f:
        return [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


def max_diff(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, nargs="+", default=[2, 3])
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for steps in args.steps:
            one = run(1, steps, 0.0, os.path.join(tmp, "one.npz"))
            two = run(2, steps, 0.0, os.path.join(tmp, "two.npz"))
            nudged = run(1, steps, 1e-7, os.path.join(tmp, "nudged.npz"))
            print(f"{steps} steps: 2 devices vs 1: {max_diff(two, one):.2g}; "
                  f"1 device, images x (1 + 1e-7) vs 1: {max_diff(nudged, one):.2g}",
                  flush=True)


if __name__ == "__main__":
    main()
