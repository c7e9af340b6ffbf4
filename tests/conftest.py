import os

# Quiet TensorFlow's C++ logging and pin the backend before anything imports Keras.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# The package first, as a user's program would: on x86-64 it switches TensorFlow's oneDNN
# kernels on (keras_resnet/cpu.py), which only works before TensorFlow is imported; test
# modules that import keras before keras_resnet must not run under other kernels.
import keras_resnet  # noqa: E402,F401
