import os

# Quiet TensorFlow's C++ logging and pin the backend before anything imports Keras.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# The package first, as a user's program would: on x86-64 it switches TensorFlow's oneDNN
# kernels on (keras_resnet/cpu.py), which only works before TensorFlow is imported; test
# modules that import keras before keras_resnet must not run under other kernels.
import keras_resnet  # noqa: E402,F401


# The cost tier. Tests marked ``slow`` in their file, and every test whose measured time
# (tests/durations.json, written by scripts/record_test_durations.py from a full run:
# `make test-durations`) is SLOW_SECONDS or more, are in the slow tier, which
# `make test-fast` leaves out. A test with no measurement yet counts as fast.
import json  # noqa: E402
import pathlib  # noqa: E402

import pytest  # noqa: E402

SLOW_SECONDS = 3.0
_DURATIONS = pathlib.Path(__file__).with_name("durations.json")


def pytest_collection_modifyitems(config, items):
    measured = json.loads(_DURATIONS.read_text()) if _DURATIONS.exists() else {}
    for item in items:
        if measured.get(item.nodeid, 0.0) >= SLOW_SECONDS:
            item.add_marker(pytest.mark.slow)
