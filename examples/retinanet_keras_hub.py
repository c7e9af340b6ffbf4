"""A keras-hub RetinaNet on a keras_resnet backbone: train, save, reload, detect.

keras-hub's detectors take any ``image_encoder`` whose ``pyramid_outputs`` maps
``"P2"``..``"P5"`` to feature maps; ``keras_resnet.backbone()`` models carry that
attribute (``"P<level>"`` for ``"C<level>"``, level = log2 of the stride), and keep it
through ``.keras`` save and load. The data are a small synthetic detection set made of
real images: Fashion-MNIST items from the embedded sample pasted on a black canvas, each
with its known box and class.

    python examples/retinanet_keras_hub.py [--model resnet18] [--weights imagenet]
    python examples/retinanet_keras_hub.py --smoke

Needs keras-hub (``pip install keras-hub``; Python >= 3.11). Writes to ``--out``:
``detector.keras``, ``losses.png`` (the training loss per epoch) and
``detections.png`` (boxes found on held-out canvases beside the true ones), and prints a
JSON summary. With ``--weights imagenet`` the backbone's BatchNormalization layers stay
frozen (the usual detection fine-tuning); from scratch (``--weights none``, the default
offline) they train.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from keras_resnet.data.embedded import FASHION_MNIST_CLASSES, load_embedded


def detection_canvases(images, labels, count, size=128, max_items=3, scales=(1, 2),
                       seed=0):
    """Paste Fashion-MNIST items on black RGB canvases; the boxes are known exactly.

    Args:
        images: uint8 ``(N, 28, 28)`` items; labels: int ``(N,)`` classes 0-9.
        count: number of canvases; size: canvas height = width in pixels.
        max_items: at most this many items per canvas (at least one), not overlapping.
        scales: integer upscaling factors an item is drawn with at random.

    Returns:
        ``(canvases, targets)``: float32 ``(count, size, size, 3)`` pixels 0-255, and
        ``{"boxes": float32 (count, max_items, 4), "labels": int32 (count, max_items)}``
        with boxes ``[y_min, x_min, y_max, x_max]`` in pixels around the item's non-zero
        pixels ("yxyx", keras-hub's default), padded with boxes of -1 and label -1 (the
        Keras bounding-box convention for "no object").
    """
    rng = np.random.default_rng(seed)
    canvases = np.zeros((count, size, size, 3), np.float32)
    boxes = -np.ones((count, max_items, 4), np.float32)
    classes = -np.ones((count, max_items), np.int32)
    for i in range(count):
        taken = []
        for slot in range(int(rng.integers(1, max_items + 1))):
            k = int(rng.integers(len(images)))
            scale = int(rng.choice(scales))
            item = np.kron(images[k], np.ones((scale, scale), np.uint8))
            side = item.shape[0]
            for _ in range(20):  # a free place, else fewer items on this canvas
                y, x = (int(v) for v in rng.integers(0, size - side + 1, 2))
                if all(y + side <= ty or ty + ts <= y or x + side <= tx or tx + ts <= x
                       for ty, tx, ts in taken):
                    break
            else:
                continue
            taken.append((y, x, side))
            canvases[i, y:y + side, x:x + side, :] = item[..., None]
            rows = np.flatnonzero(item.max(axis=1))
            cols = np.flatnonzero(item.max(axis=0))
            boxes[i, slot] = (y + rows[0], x + cols[0], y + rows[-1] + 1, x + cols[-1] + 1)
            classes[i, slot] = labels[k]
    return canvases, {"boxes": boxes, "labels": classes}


def make_detector(model="resnet18", weights=None, size=128, num_classes=10):
    """``keras_hub.models.RetinaNetObjectDetector`` on ``keras_resnet.backbone(model)``
    (levels P3-P7 as in the RetinaNet paper; raw 0-255 pixels in)."""
    import keras_hub

    import keras_resnet

    encoder = keras_resnet.backbone(model, weights=weights, input_shape=(size, size, 3),
                                    # the weights' own normalisation; from scratch
                                    # (or a file): scale to 0-1, ImageNet mean/std
                                    include_preprocessing=(True if weights == "imagenet"
                                                           else "torch"),
                                    freeze_bn=weights is not None)
    backbone = keras_hub.models.RetinaNetBackbone(
        image_encoder=encoder, min_level=3, max_level=7, use_p5=False,
        image_shape=(size, size, 3))
    return keras_hub.models.RetinaNetObjectDetector(
        backbone=backbone, num_classes=num_classes, bounding_box_format="yxyx")


def _draw(canvases, truth, found, path, names):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(canvases), figsize=(3 * len(canvases), 3.3))
    for ax, image, t_boxes, t_labels, f in zip(np.atleast_1d(axes), canvases,
                                               truth["boxes"], truth["labels"], found):
        ax.imshow(image.astype(np.uint8))
        for box, label in zip(t_boxes, t_labels):
            if label >= 0:
                y0, x0, y1, x1 = box
                ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False,
                                           color="lime", lw=1))
        size = image.shape[0]
        for box, label, score in f:
            y0, x0, y1, x1 = np.clip(box, 0, size)  # untrained boxes can lie far out
            if y1 <= y0 or x1 <= x0:
                continue
            ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False,
                                       color="red", lw=1, ls="--"))
            ax.text(x0, y0, f"{names[label]} {score:.2f}", color="red", fontsize=6)
        ax.set_xlim(0, image.shape[1])
        ax.set_ylim(image.shape[0], 0)
        ax.axis("off")
    fig.suptitle("green: true boxes, red dashed: the 5 best detections (score >= 0.3)")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def _inside(box, size, min_side=2.0):
    y0, x0, y1, x1 = np.clip(box, 0, size)
    return y1 - y0 >= min_side and x1 - x0 >= min_side


def _plot_losses(losses, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3))
    ax.plot(range(1, len(losses) + 1), losses, marker="o")
    ax.set_xlabel("epoch")
    ax.set_xticks(range(1, len(losses) + 1))
    ax.set_ylabel("loss (focal + smooth L1)")
    ax.set_yscale("log")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--weights", default="none",
                        help="'imagenet', a weights file, or 'none' (from scratch)")
    parser.add_argument("--size", type=int, default=128, help="canvas side (pixels)")
    parser.add_argument("--canvases", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", default="retinanet_run")
    parser.add_argument("--smoke", action="store_true",
                        help="8 canvases of 64x64, 3 epochs (seconds, for tests)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.size, args.canvases, args.epochs, args.batch_size = 64, 8, 3, 8
    weights = None if args.weights.lower() == "none" else args.weights

    import keras

    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = load_embedded()
    train_x, train_y = detection_canvases(x_train, y_train, args.canvases, args.size, seed=0)
    test_x, test_y = detection_canvases(x_test, y_test, 4, args.size, seed=1)

    detector = make_detector(args.model, weights, args.size)
    detector.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = detector.fit(train_x, train_y, batch_size=args.batch_size,
                           epochs=args.epochs, verbose=1 if not args.smoke else 0)
    losses = [float(v) for v in history.history["loss"]]

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "detector.keras")
    detector.save(path)
    reloaded = keras.saving.load_model(path)
    # the heads' raw outputs (before box decoding and non-max suppression), which an
    # untrained detector can make huge: the reloaded file must give the same numbers
    raw_before = detector(test_x, training=False)
    raw_after = reloaded(test_x, training=False)
    reload_difference = max(
        float(np.max(np.abs(keras.ops.convert_to_numpy(raw_before[k])
                            - keras.ops.convert_to_numpy(raw_after[k]))))
        for k in ("bbox_regression", "cls_logits"))
    after = reloaded.predict(test_x, verbose=0)
    encoder = reloaded.backbone.image_encoder

    found = [[(box, int(label), float(score)) for box, label, score in
              zip(b[:n], l[:n], c[:n]) if score >= 0.3]
             for b, l, c, n in zip(after["boxes"], after["labels"],
                                   after["confidence"], after["num_detections"])]
    # the picture shows the 5 best boxes per canvas that have an area inside it (an
    # untrained detector's boxes pile up on the borders); the counts above are all
    shown = [[d for d in f if _inside(d[0], args.size)][:5] for f in found]
    _draw(test_x, test_y, shown, os.path.join(args.out, "detections.png"),
          FASHION_MNIST_CLASSES)
    _plot_losses(losses, os.path.join(args.out, "losses.png"))

    result = {
        "model": args.model, "weights": args.weights, "canvas": args.size,
        "train_canvases": args.canvases, "epochs": args.epochs, "losses": losses,
        "reloaded_encoder_class": type(encoder).__name__,
        "reloaded_pyramid_outputs": list(encoder.pyramid_outputs),
        "reload_max_abs_difference": reload_difference,
        "detections_score_0.3": [len(f) for f in found],
        "true_objects": [int((t >= 0).sum()) for t in test_y["labels"]],
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
