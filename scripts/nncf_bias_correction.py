"""NNCF's fast vs full bias correction on the shipped Fashion-MNIST nets: top-1
agreement of each int8 OpenVINO IR with the float32 Keras model, the command behind the
choice in keras_resnet/deploy/quantize.py.

    python scripts/nncf_bias_correction.py [--images 3000] [--calibration 300]

Needs the Debian package dataset-fashion-mnist (the full test set) and the openvino
extra (NNCF). Prints one line per net and setting.
"""

import argparse
import logging
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras_resnet  # noqa: E402  isort: skip  (before TensorFlow: oneDNN switch)
import numpy as np  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=3000)
    p.add_argument("--calibration", type=int, default=300)
    args = p.parse_args()
    import nncf
    import openvino as ov

    from keras_resnet.data import load_idx_dir
    from keras_resnet.deploy import export
    from keras_resnet.deploy.runtimes import OpenVINORunner

    logging.getLogger("nncf").setLevel(logging.ERROR)
    (x_train, _), (x_test, _) = load_idx_dir("/usr/share/datasets/fashion-mnist")
    with tempfile.TemporaryDirectory() as tmp:
        for tag in ("resnet20.fashion_mnist", "plain20.fashion_mnist"):
            model, preprocess = keras_resnet.load_pretrained(tag)
            x, cal = preprocess(x_test[:args.images]), preprocess(x_train[:args.calibration])
            ref = np.asarray(model.predict(x, verbose=0)).argmax(1)
            export.openvino(model, os.path.join(tmp, "f.xml"))
            for fast in (True, False):
                q = nncf.quantize(ov.Core().read_model(os.path.join(tmp, "f.xml")),
                                  nncf.Dataset([cal[i:i + 1] for i in range(len(cal))]),
                                  subset_size=len(cal), fast_bias_correction=fast)
                ov.save_model(q, os.path.join(tmp, "q.xml"), compress_to_fp16=False)
                run = OpenVINORunner(os.path.join(tmp, "q.xml"))
                out = np.concatenate([next(iter(run(x[i:i + 500]).values()))
                                      for i in range(0, len(x), 500)]).argmax(1)
                print(f"{tag}: fast_bias_correction={fast}: top-1 agreement "
                      f"{np.mean(out == ref):.2%} over {len(x)} test images", flush=True)


if __name__ == "__main__":
    main()
