"""The main job on the embedded data: train a CIFAR-style ResNet on the Fashion-MNIST
sample shipped in the package, report test accuracy, and save the model."""

from __future__ import annotations

import json
import os
import time

import numpy as np


def prepare(images, pixel_mean=None):
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1] minus the per-pixel mean
    of the training images (the paper's CIFAR preprocessing)."""
    x = images[..., None].astype("float32") / 255.0
    if pixel_mean is None:
        pixel_mean = x.mean(axis=0)
    return x - pixel_mean, pixel_mean


def run_demo(model_name="resnet20", epochs=8, batch_size=64, learning_rate=0.1,
             weight_decay=1e-4, out="runs/demo", seed=0, verbose="auto"):
    """Train ``model_name`` on the embedded sample; return a dict of results.

    Recipe (a short version of the paper's CIFAR recipe): SGD with momentum 0.9,
    coupled weight decay 1e-4, learning rate ``learning_rate`` with cosine decay to 0,
    per-pixel mean subtraction, batch ``batch_size``.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be >= 1")
    import keras

    from .builder import build
    from .data import load_embedded
    from .fileio import atomic_write

    keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_embedded()
    x_train, pixel_mean = prepare(x_train)
    x_test, _ = prepare(x_test, pixel_mean)

    model = build(model_name, input_shape=x_train.shape[1:], classes=10,
                  weight_decay=weight_decay)
    steps = epochs * -(-len(x_train) // batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model.compile(
        optimizer=keras.optimizers.SGD(schedule, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    print(f"Training {model.name} ({model.count_params():,} parameters) on the embedded "
          f"Fashion-MNIST sample: {len(x_train)} train / {len(x_test)} test images, "
          f"{epochs} epochs")
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs,
                        verbose=verbose)
    train_seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)

    os.makedirs(out, exist_ok=True)
    model_path = os.path.join(out, "model.keras")
    atomic_write(model_path, model.save)
    atomic_write(os.path.join(out, "pixel_mean.npy"), lambda p: np.save(p, pixel_mean))
    result = {
        "model": model.name,
        "epochs": epochs,
        "train_images": int(len(x_train)),
        "test_images": int(len(x_test)),
        "train_accuracy": float(history.history["accuracy"][-1]),
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "train_seconds": round(train_seconds, 1),
        "model_path": model_path,
    }
    atomic_write(os.path.join(out, "metrics.json"),
            lambda p: open(p, "w").write(json.dumps(result, indent=2) + "\n"))
    print(f"Test accuracy on the embedded test sample: {test_accuracy:.2%} "
          f"(trained in {train_seconds:.0f} s). Saved {model_path}")
    return result

