"""Is the input pipeline ever the bottleneck? The paper's augmentation pipelines
(keras_resnet.data.train_dataset) alone, against the training step they feed
(model.fit's train function, fused BN as keras-resnet train runs it), each timed
alone, rounds interleaved:

* CIFAR style: Fashion-MNIST (Debian's idx files, else the embedded sample), 4-pixel
  pad + random crop + flip, per-pixel mean, batch 128 -> ResNet-20 step;
* ImageNet style: a folder of JPEGs (made here from scikit-image's sample photos, sizes
  as ImageNet's), decode + scale augmentation [256, 480] + 224 crop + flip + PCA
  lighting, batch 32 -> ResNet-50 step.

The pipeline must deliver >= 5x the images/s the step consumes.

    python bench/pipeline_vs_step.py [--rounds 5] [--out docs/bench]

Do not run beside other work.
"""

import argparse
import json
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# keras_resnet first: its import turns on TensorFlow's oneDNN kernels on CPUs where
# TensorFlow leaves them off (AVX2-only x86), as it does for a user (keras_resnet/cpu.py).
import keras_resnet  # noqa: E402  isort: skip
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_resnet.data.augment import compute_pixel_mean, train_dataset  # noqa: E402
from keras_resnet.data.sources import load_split  # noqa: E402
from keras_resnet.training.fused_bn import use_fused_batchnorm  # noqa: E402

DEBIAN = "/usr/share/datasets/fashion-mnist"


def make_jpeg_folder(root, n=96):
    """ImageNet-layout folder (train/<class>/*.jpg) of crops of scikit-image's sample
    photos, 300-500 px a side like ImageNet's typical image."""
    from skimage import data as skdata

    photos = [skdata.astronaut(), skdata.chelsea(), skdata.coffee(), skdata.rocket()]
    rng = np.random.default_rng(0)
    for i in range(n):
        img = photos[i % len(photos)]
        h, w = rng.integers(300, min(img.shape[0], 500) + 1), rng.integers(300, min(img.shape[1], 500) + 1)
        y0, x0 = rng.integers(0, img.shape[0] - h + 1), rng.integers(0, img.shape[1] - w + 1)
        d = os.path.join(root, "train", f"class{i % 4}")
        os.makedirs(d, exist_ok=True)
        tf.io.write_file(os.path.join(d, f"{i}.jpg"),
                         tf.io.encode_jpeg(img[y0:y0 + h, x0:x0 + w], quality=90))
    return root


def pipeline_rate(ds_iter, batches, batch):
    start = time.perf_counter()
    for _ in range(batches):
        next(ds_iter)
    return batches * batch / (time.perf_counter() - start)


def step_runner(model, batch_xy, loss="sparse_categorical_crossentropy"):
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss=loss)
    ds = tf.data.Dataset.from_tensors(batch_xy).repeat()
    it = iter(ds)
    model.fit(ds, steps_per_epoch=2, epochs=1, verbose=0)
    fn = model.train_function

    def run(steps):
        start = time.perf_counter()
        for _ in range(steps):
            logs = fn(it)
        float(np.asarray(logs["loss"]))
        return steps * int(batch_xy[0].shape[0]) / (time.perf_counter() - start)

    return run


def case(name, split, family, channels, batch, model, rounds, steps, pipe_batches):
    """Pipeline rounds use a fresh iterator (2 warm-up batches untimed) that is
    deleted before the step is timed, so no background prefetching overlaps the step
    and no buffer filled meanwhile flatters the pipeline."""
    mean = compute_pixel_mean(split, family, channels, max_images=2000)
    ds = train_dataset(split, family, mean, batch, channels=channels, seed=0,
                       drop_remainder=True).repeat()
    it = iter(ds)
    first = next(it)
    del it
    step = step_runner(model, (first[0], first[1]))
    pipe, train = [], []
    for r in range(rounds):
        order = ("pipe", "step") if r % 2 == 0 else ("step", "pipe")
        for k in order:
            if k == "pipe":
                it = iter(ds)
                next(it)
                next(it)
                pipe.append(pipeline_rate(it, pipe_batches, batch))
                del it
            else:
                train.append(step(steps))
    ratios = [p / t for p, t in zip(pipe, train)]
    row = {"case": name, "batch": batch, "pipeline_img_per_s": statistics.median(pipe),
           "step_img_per_s": statistics.median(train), "ratio": statistics.median(ratios),
           "ratio_range": [min(ratios), max(ratios)], "rounds": rounds}
    print(json.dumps(row), flush=True)
    return row


def plot(rows, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3), dpi=120)
    labels = []
    for i, r in enumerate(rows):
        ax.barh(2 * i + 0.4, r["pipeline_img_per_s"], 0.8, color="#2ca02c")
        ax.barh(2 * i - 0.4, r["step_img_per_s"], 0.8, color="#1f77b4")
        ax.text(r["pipeline_img_per_s"], 2 * i + 0.4, f" {r['ratio']:.1f}x the step",
                va="center", fontsize=8)
        labels.append(r["case"])
    ax.set_yticks([2 * i for i in range(len(rows))], labels)
    ax.set_xscale("log")
    ax.set_xlabel("images/s, log scale (green: pipeline alone, blue: training step)")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def fused(model):
    """The model with fused BN in training, as keras-resnet train runs it."""
    use_fused_batchnorm(model)
    return model


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    rows = []
    source = DEBIAN if os.path.isdir(DEBIAN) else "embedded"
    split = load_split(source, "train")
    rows.append(case(f"CIFAR-style augmentation ({os.path.basename(source)}) -> ResNet-20",
                     split, "cifar", 1, 128,
                     fused(keras_resnet.build("resnet20", input_shape=(28, 28, 1))),
                     args.rounds, steps=8, pipe_batches=100))
    with tempfile.TemporaryDirectory() as d:
        split = load_split(make_jpeg_folder(d), "train")
        rows.append(case("ImageNet-style augmentation (JPEG folder) -> ResNet-50", split,
                         "imagenet", 3, 32,
                         fused(keras_resnet.build("resnet50", input_shape=(224, 224, 3))),
                         args.rounds, steps=2, pipe_batches=24))
    result = {"tensorflow": tf.__version__, "keras": keras.__version__,
              "cpu_count": os.cpu_count(), "cases": rows}
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "pipeline_vs_step.json"), "w") as f:
            json.dump(result, f, indent=2)
        plot(rows, os.path.join(args.out, "pipeline_vs_step.png"))
    return result


if __name__ == "__main__":
    main()
