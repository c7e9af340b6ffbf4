"""Backbone features + a minimal FPN (Lin et al. 2017) forward pass, exported.

C2-C5 of a ResNet (frozen BN) feed lateral 1x1 convolutions to 256 channels, a top-down
path (2x nearest upsampling, cropped to the finer level's size, + addition) and 3x3
output convolutions: P2-P5 at strides 4-32 for any image size. (At sizes that are not
multiples of 32 a coarser map is ceil(finer / 2) wide, so its 2x upsampling is one
pixel too large and is cropped, as torchvision's FPN resizes to the finer size.) The whole detector trunk is exported as a SavedModel with a
dynamic input size and verified against Keras.

    python examples/detection_backbone.py [--model resnet50] [--weights imagenet]
    python examples/detection_backbone.py --smoke
"""

import argparse
import json

import keras_resnet  # before keras: switches TensorFlow's oneDNN kernels on (see cpu.py)

import keras
import numpy as np
from keras_resnet.deploy import export


class UpsampleLike(keras.layers.Layer):
    """2x nearest-neighbour upsampling of ``x``, cropped to the height and width of
    ``like`` (channels last): FPN's top-down step at any input size."""

    def call(self, x, like):
        up = keras.ops.repeat(keras.ops.repeat(x, 2, axis=1), 2, axis=2)
        size = keras.ops.shape(like)
        return up[:, :size[1], :size[2], :]

    def compute_output_shape(self, x_shape, like_shape):
        return (x_shape[0], like_shape[1], like_shape[2], x_shape[3])


def fpn(backbone, channels=256):
    c = backbone.output
    laterals = {k: keras.layers.Conv2D(channels, 1, name=f"lateral_{k}")(c[k]) for k in c}
    p = {"C5": laterals["C5"]}
    for upper, lower in [("C5", "C4"), ("C4", "C3"), ("C3", "C2")]:
        up = UpsampleLike(name=f"up_{upper}")(p[upper], laterals[lower])
        p[lower] = keras.layers.Add(name=f"merge_{lower}")([up, laterals[lower]])
    outputs = {f"P{k[1]}": keras.layers.Conv2D(channels, 3, padding="same", name=f"out_P{k[1]}")(v)
               for k, v in p.items()}
    return keras.Model(backbone.input, outputs, name="resnet_fpn")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="resnet50")
    p.add_argument("--weights", default=None)
    p.add_argument("--out", default="runs/fpn_savedmodel")
    p.add_argument("--smoke", action="store_true")
    args = p.parse_args(argv)
    if args.smoke:
        args.model = "resnet18"
    backbone = keras_resnet.backbone(args.model, weights=args.weights)
    model = fpn(backbone, channels=64 if args.smoke else 256)
    # any size: multiples of 32 and not (224x300 gave 14x19 vs 14x20 maps before cropping)
    sizes = ([(128, 160), (96, 224), (100, 150)] if args.smoke
             else [(512, 640), (480, 800), (224, 300)])
    shapes = {}
    for h, w in sizes:
        out = model(np.zeros((1, h, w, 3), "float32"))
        shapes[f"{h}x{w}"] = {k: list(v.shape[1:3]) for k, v in sorted(out.items())}
    x = np.random.default_rng(0).normal(size=(2, *sizes[0], 3)).astype("float32")
    report = export.saved_model(model, args.out, verify_images=x)
    result = {"feature_shapes": shapes, "export": report}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
