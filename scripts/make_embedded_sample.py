"""Regenerate the embedded Fashion-MNIST sample shipped in keras_resnet/data/.

Takes a class-balanced random subset (seed 0) of the original idx files that
Debian's `dataset-fashion-mnist` installs:

    apt-get install -y dataset-fashion-mnist
    python scripts/make_embedded_sample.py
"""

import argparse
import os

import numpy as np

from keras_resnet.data.embedded import SAMPLE_DIR, SAMPLE_SIZES
from keras_resnet.data.idx import read_idx, write_idx


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--source", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--out", default=SAMPLE_DIR)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(os.path.join(args.source, f"{prefix}-images-idx3-ubyte.gz"))
        labels = read_idx(os.path.join(args.source, f"{prefix}-labels-idx1-ubyte.gz"))
        per_class = SAMPLE_SIZES[split] // 10
        keep = np.sort(np.concatenate([
            rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
            for c in range(10)
        ]))
        write_idx(os.path.join(args.out, f"{prefix}-images-idx3-ubyte.gz"), images[keep])
        write_idx(os.path.join(args.out, f"{prefix}-labels-idx1-ubyte.gz"), labels[keep])
        print(f"{split}: {len(keep)} images from {len(labels)}")


if __name__ == "__main__":
    main()
