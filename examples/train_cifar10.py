"""The paper's CIFAR-10 recipe end to end (section 4.2): ResNet-20 (or any 6n+2 depth),
batch 128, SGD 0.9, weight decay 1e-4, lr 0.1 divided by 10 at 32k and 48k iterations,
64k iterations; pad-crop-flip augmentation with per-pixel mean subtraction.

    python examples/train_cifar10.py --data cifar10                 # via tensorflow-datasets
    python examples/train_cifar10.py --data ~/cifar-10-batches-py   # the python-version files
    python examples/train_cifar10.py --smoke                        # tiny synthetic stand-in

--smoke writes a small CIFAR-10 "python version" folder of synthetic images (each class
a distinct colour plus noise), so the whole path (reader, pipeline, recipe, resumable
run, evaluation) runs in a minute without the real data.
"""

import argparse
import json
import os
import pickle
import tempfile

import numpy as np


def write_synthetic_cifar10(folder, per_batch=200, seed=0):
    rng = np.random.default_rng(seed)
    colours = rng.integers(30, 226, (10, 3))
    os.makedirs(folder, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        y = rng.integers(0, 10, per_batch)
        x = colours[y][:, None, None, :] + rng.normal(0, 25, (per_batch, 32, 32, 3))
        x = np.clip(x, 0, 255).astype(np.uint8)
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump({b"data": x.transpose(0, 3, 1, 2).reshape(per_batch, -1),
                         b"labels": y.tolist()}, f)
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        pickle.dump({b"label_names": [f"class{i}".encode() for i in range(10)]}, f)
    return folder


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="cifar10", help="cifar10 (TFDS) or a CIFAR python folder")
    p.add_argument("--model", default="resnet20")
    p.add_argument("--epochs", type=int, default=None, help="default: the recipe's 164")
    p.add_argument("--holdout", type=int, default=0, help="5000 for the paper's 45k/5k split")
    p.add_argument("--out", default="runs/cifar10")
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args(argv)

    from keras_resnet.training import train

    options = {}
    if args.smoke:
        args.data = write_synthetic_cifar10(os.path.join(tempfile.mkdtemp(), "cifar-10-batches-py"))
        args.epochs = args.epochs or 5
        options = dict(batch_size=32, overwrite=True, verbose=2)
    result = train(args.model, args.data, "paper-cifar10", epochs=args.epochs,
                   holdout=args.holdout, out=args.out, **options)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
