"""A classifier to a full-integer (int8) TFLite file, verified with LiteRT, with
latency numbers: what a mobile app ships.

    python examples/export_tflite.py --run runs/demo           # a trained run directory
    python examples/export_tflite.py --smoke                   # trains a small one first

The report compares the TFLite file with the Keras model on real test images: top-1
agreement (>= 98% required, else the file is not written), accuracy of both, size, and
batch-1 latency of the LiteRT interpreter against a tf.function call of the Keras model.
"""

import argparse
import json
import os

import numpy as np

import keras_resnet
from keras_resnet.deploy import export
from keras_resnet.data import load_embedded


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", default=None, help="a keras-resnet train run directory")
    p.add_argument("--out", default="runs/export/model_int8.tflite")
    p.add_argument("--int8-io", action="store_true")
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args(argv)

    if args.run is None:
        from keras_resnet.training import train

        args.run = os.path.join(os.path.dirname(args.out) or ".", "trained")
        train("resnet8", "embedded", "fashion-mnist", epochs=3 if args.smoke else 10,
              out=args.run, overwrite=True, verbose=2)
    model = keras_resnet.load_model(os.path.join(args.run, "model.keras"))
    mean = np.load(os.path.join(args.run, "pixel_mean.npy"))
    (x_train, _), (x_test, y_test) = load_embedded()
    prep = lambda a: a[..., None] / np.float32(255) - mean  # noqa: E731
    report = export.tflite(model, args.out, quantization="int8",
                           representative_data=prep(x_train[:300]), int8_io=args.int8_io,
                           verify_images=prep(x_test[:1000]), labels=y_test[:1000])
    print(json.dumps(report, indent=2))
    lat = report["latency_ms_batch1"]
    print(f"int8 TFLite: {report['size_bytes'] / 1024:.0f} KiB, top-1 agreement "
          f"{report['top1_agreement']:.2%}, accuracy {report['tflite_accuracy']:.2%} "
          f"(Keras {report['keras_accuracy']:.2%}); batch-1 latency {lat['tflite']:.2f} ms vs "
          f"{lat['keras_tf_function']:.2f} ms for Keras ({report['speedup_vs_keras']:.1f}x)")
    return report


if __name__ == "__main__":
    main()
