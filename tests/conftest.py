import os

# Quiet TensorFlow's C++ logging and pin the backend before anything imports Keras.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
