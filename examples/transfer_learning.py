"""Transfer learning: a pretrained backbone, a new head, freeze then fine-tune.

Source task: a ResNet-20 trained on five Fashion-MNIST classes (T-shirt, trouser,
pullover, dress, coat). Target task: the other five (sandal, shirt, sneaker, bag, ankle
boot) with only a few hundred labelled images. Step 1 trains a new head on the frozen
backbone; step 2 unfreezes it and fine-tunes everything at a 10x lower rate. With
ImageNet weights the same code reads ``keras_resnet.ResNet50(weights="imagenet",
include_top=False, pooling="avg")`` as the backbone.

    python examples/transfer_learning.py            # a few minutes on 2 CPU cores
    python examples/transfer_learning.py --smoke    # fewer epochs, for the test suite
"""

import argparse
import json

import keras_resnet  # before keras: switches TensorFlow's oneDNN kernels on (see cpu.py)

import keras
import numpy as np
from keras_resnet.data import load_embedded


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--target-train", type=int, default=500, help="labelled target images")
    args = p.parse_args(argv)
    source_epochs, head_epochs, tune_epochs = (2, 6, 2) if args.smoke else (8, 20, 6)
    keras.utils.set_random_seed(0)

    (x, y), (xt, yt) = load_embedded()
    mean = (x[..., None] / 255.0).mean(axis=0)
    prep = lambda a: a[..., None].astype("float32") / 255.0 - mean  # noqa: E731
    src, tgt, tgt_test = y < 5, y >= 5, yt >= 5

    # 1. The "pretrained" backbone: trained on the source classes.
    base = keras_resnet.ResNet20(input_shape=(28, 28, 1), include_top=False, pooling="avg",
                                 weight_decay=1e-4)
    source = keras.Sequential([base, keras.layers.Dense(5, activation="softmax")])
    source.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                   loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    source.fit(prep(x[src]), y[src], batch_size=64, epochs=source_epochs, verbose=2)

    # 2. New head on the frozen backbone (BN in inference mode: trainable=False).
    xs, ys = prep(x[tgt][:args.target_train]), y[tgt][:args.target_train] - 5
    base.trainable = False
    inputs = keras.Input((28, 28, 1))
    head = keras.layers.Dense(5, activation="softmax", name="new_head")
    model = keras.Model(inputs, head(base(inputs, training=False)))
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(xs, ys, batch_size=32, epochs=head_epochs, verbose=2)
    frozen_acc = model.evaluate(prep(xt[tgt_test]), yt[tgt_test] - 5, verbose=0)[1]

    # 3. Fine-tune everything at a lower rate.
    base.trainable = True
    model.compile(optimizer=keras.optimizers.SGD(0.005, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(xs, ys, batch_size=32, epochs=tune_epochs, verbose=2)
    tuned_acc = model.evaluate(prep(xt[tgt_test]), yt[tgt_test] - 5, verbose=0)[1]

    result = {"target_train_images": int(len(xs)), "target_test_images": int(tgt_test.sum()),
              "frozen_backbone_accuracy": float(frozen_acc),
              "fine_tuned_accuracy": float(tuned_acc)}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
