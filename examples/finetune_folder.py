"""Fine-tune the shipped ResNet-20 on a folder of photos, then predict and export, with
the commands a user types.

The folder: two Fashion-MNIST classes that the shipped 10-class network confuses most,
"shirt" and "t-shirt", written as image files the way photos arrive: 32x32 RGB PNGs
and JPEGs, grey 8-bit and 16-bit PNGs mixed (``photos/train/<class>/``,
``photos/test/<class>/``). Training images come from the embedded sample's training
set, test images from its test set (the original t10k images, which the shipped
weights never trained on).

Then (each line is printed before it runs):

    keras-resnet train --model resnet20 --dataset photos --recipe fashion-mnist \\
        --weights resnet20.fashion_mnist --freeze-backbone 2 --epochs 6 --batch-size 32 \\
        --holdout 0 --out runs/finetune
    keras-resnet evaluate --weights runs/finetune
    keras-resnet predict photos/test/shirt/0000.png ... --weights runs/finetune --backend keras
    keras-resnet export --weights runs/finetune --format tflite --out runs/finetune/model.tflite

    python examples/finetune_folder.py             # about 4 minutes on 2 CPU cores
    python examples/finetune_folder.py --smoke     # 1 + 1 epochs, for the test suite

It ends with one line stating the test accuracy the fine-tuned network reached and, for
comparison, a ResNet-20 trained from scratch on the same folder with the same recipe
and epochs (not in --smoke), and the shipped network's own 10-class head restricted to
the two classes without any training (these classes are among the ones it learnt).
"""

import argparse
import json
import os
import shlex
import sys

import keras_resnet  # before keras: switches TensorFlow's oneDNN kernels on (see cpu.py)

import numpy as np

CLASSES = {"shirt": 6, "t-shirt": 0}  # folder name -> Fashion-MNIST label
KINDS = ("png8_rgb", "jpeg_rgb", "png8_grey", "png16_grey")


def write_photos(root, per_class_train=500, per_class_test=200, size=32):
    """The folder described above; returns how many files it wrote."""
    import PIL.Image
    import tensorflow as tf

    from keras_resnet.data import load_embedded

    (x, y), (xt, yt) = load_embedded()
    count = 0
    for split, images, labels, n in (("train", x, y, per_class_train),
                                     ("test", xt, yt, per_class_test)):
        for name, label in CLASSES.items():
            folder = os.path.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            for i, img in enumerate(images[labels == label][:n]):
                grey = np.asarray(PIL.Image.fromarray(img).resize((size, size),
                                                                  PIL.Image.BILINEAR))
                kind = KINDS[i % len(KINDS)]
                path = os.path.join(folder, f"{i:04d}" + (".jpg" if kind == "jpeg_rgb"
                                                          else ".png"))
                if kind in ("png8_rgb", "jpeg_rgb"):
                    PIL.Image.fromarray(np.repeat(grey[..., None], 3, -1)).save(path)
                elif kind == "png8_grey":
                    PIL.Image.fromarray(grey).save(path)
                else:  # 16 bits: v * 257 (reads back as v at 8 bits)
                    data = tf.io.encode_png(tf.constant(grey[..., None].astype("uint16") * 257))
                    with open(path, "wb") as f:
                        f.write(data.numpy())
                count += 1
    return count


def run(argv):
    """``keras-resnet ARGV...`` in this process, printed first; stops on failure."""
    from keras_resnet.cli import main

    print("$ keras-resnet " + " ".join(shlex.quote(a) for a in argv), flush=True)
    code = main(argv)
    if code:
        sys.exit(code)


def zero_shot_accuracy(root):
    """The shipped network's own head, restricted to the two classes (no fine-tuning),
    on the same test files."""
    from keras_resnet.data.sources import read_images

    trained = keras_resnet.load_trained("resnet20.fashion_mnist")
    hits = total = 0
    for name, label in CLASSES.items():
        folder = os.path.join(root, "test", name)
        files = [os.path.join(folder, f) for f in sorted(os.listdir(folder))]
        x = read_images(files, (28, 28), 1).astype("float32") / 255 - trained.pixel_mean
        p = np.asarray(trained.model(x, training=False))[:, list(CLASSES.values())]
        hits += int(np.sum(p.argmax(1) == list(CLASSES).index(name)))
        total += len(files)
    return hits / total


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="1 + 1 epochs on fewer images")
    p.add_argument("--workdir", default="runs/finetune_example",
                   help="where the photo folder and the run go")
    args = p.parse_args(argv)
    photos = os.path.join(args.workdir, "photos")
    out = os.path.join(args.workdir, "run")
    if not os.path.isdir(photos):
        n = write_photos(photos, *((60, 50) if args.smoke else (500, 200)))
        print(f"Wrote {n} image files to {photos}")
    epochs, frozen = ("2", "1") if args.smoke else ("6", "2")
    run(["train", "--model", "resnet20", "--dataset", photos, "--recipe", "fashion-mnist",
         "--weights", "resnet20.fashion_mnist", "--freeze-backbone", frozen,
         "--epochs", epochs, "--batch-size", "32", "--out", out, "--holdout", "0",
         "--log-epochs"])
    run(["evaluate", "--weights", out, "--json", os.path.join(out, "evaluate.json")])
    shirts = os.path.join(photos, "test", "shirt")
    files = [os.path.join(shirts, f) for f in sorted(os.listdir(shirts))[:4]]
    run(["predict", *files, "--weights", out, "--backend", "keras"])
    run(["export", "--weights", out, "--format", "tflite", "--out",
         os.path.join(out, "model.tflite"), "--verify-images", "100"])
    with open(os.path.join(out, "evaluate.json")) as f:
        accuracy = json.load(f)["top1_accuracy"]
    before = zero_shot_accuracy(photos)
    scratch = ""
    if not args.smoke:  # the same recipe, size and epochs without the weights
        from keras_resnet.training import train

        r = train("resnet20", photos, "fashion-mnist", epochs=int(epochs), batch_size=32,
                  holdout=0, image_size=(28, 28), out=os.path.join(args.workdir, "scratch"),
                  verbose=2, plot=False)
        scratch = f"; ResNet-20 from scratch, same recipe and epochs: {r['test_accuracy']:.2%}"
    print(f"Fine-tuned ResNet-20 (resnet20.fashion_mnist, {epochs} epochs, the first "
          f"{frozen} with the backbone frozen) on {photos}: test accuracy {accuracy:.2%} "
          f"(shirt vs t-shirt{scratch}; the shipped 10-class head restricted to the two "
          f"classes, no training: {before:.2%})")
    return accuracy, before


if __name__ == "__main__":
    main()
