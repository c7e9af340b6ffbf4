"""The demo (``keras-resnet demo``, README's first command): train a ResNet on the
Fashion-MNIST sample shipped in the package, score it, and ship it as an int8 TFLite
file verified by the LiteRT interpreter."""

from __future__ import annotations

import os


def run_demo(model: str = "resnet20", *, epochs: int = 10, batch_size: int | None = None,
             out: str = "runs/demo", seed: int = 0) -> dict:
    """Train ``model`` on the embedded data (recipe ``fashion-mnist``; ``out`` is
    overwritten), evaluate it on the 2,000 embedded test images (centre and 10-crop
    views) and export ``out/model_int8.tflite``, verified on them.

    Returns:
        ``{"train": train()'s metrics, "ten_crop": evaluate()'s result, "tflite": the
        export report, "tflite_path": path}``.
    """
    from .data.sources import load_split
    from .deploy.export import export_trained
    from .evaluation import evaluate
    from .training import train
    from .zoo import load_trained

    result = train(model, "embedded", "fashion-mnist", epochs=epochs, batch_size=batch_size,
                   out=out, seed=seed, overwrite=True)
    trained = load_trained(out)
    ten_crop = evaluate(trained.model, load_split("embedded", "test"), trained.family,
                        trained.pixel_mean, "10crop", batch_size=256)
    path = os.path.join(out, "model_int8.tflite")
    report = export_trained(trained, path, "tflite", quantization="int8",
                            verify_images=2000, representative=300)
    return {"train": result, "ten_crop": ten_crop, "tflite": report, "tflite_path": path}
