"""Evaluation views against hand-computed examples."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_resnet.data.sources import _array_split
from keras_resnet.evaluation.views import evaluate, predict_views, ten_crops, topk_errors


def mean_model(channels=1):
    """Logits = [mean pixel, -mean pixel] / 0.1 over any input size: a linear function
    of the crop's average, so every view's score can be computed by hand."""
    inp = keras.Input((None, None, channels))
    x = keras.layers.GlobalAveragePooling2D()(inp)
    x = keras.layers.Dense(2, use_bias=False, activation="softmax")(x)
    model = keras.Model(inp, x)
    model.layers[-1].set_weights([np.array([[10.0, -10.0]] * channels, "float32") / channels])
    return model


def softmax2(m):
    e = np.exp(np.array([10 * m, -10 * m]))
    return e / e.sum()


def test_ten_crops_are_the_corners_centre_and_flips():
    img = tf.reshape(tf.range(6 * 8, dtype=tf.float32), (6, 8, 1))
    crops = ten_crops(img, 4).numpy()
    a = img.numpy()
    expected = [a[:4, :4], a[:4, 4:], a[2:, :4], a[2:, 4:], a[1:5, 2:6]]
    expected += [e[:, ::-1] for e in expected]
    np.testing.assert_array_equal(crops, np.stack(expected))


def test_imagenet_views_by_hand():
    """A 256 x 320 image (shorter side already 256: no resampling in centre/10-crop)."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (256, 320, 1), dtype=np.uint8)
    split = _array_split("one", img[None], [0], 2)
    mean = np.zeros((224, 224, 1), "float32")
    model = mean_model()
    x = img[..., 0] / 255.0

    p, y = predict_views(model, split, "imagenet", mean, "center", progress=False)
    np.testing.assert_allclose(p[0], softmax2(x[16:240, 48:272].mean()), rtol=1e-5)

    p, _ = predict_views(model, split, "imagenet", mean, "10crop", progress=False)
    crops = [x[:224, :224], x[:224, 96:], x[32:, :224], x[32:, 96:], x[16:240, 48:272]]
    by_hand = np.mean([softmax2(c.mean()) for c in crops + [c[:, ::-1] for c in crops]], 0)
    np.testing.assert_allclose(p[0], by_hand, rtol=1e-5)

    # Multi-scale on a constant image: every scale sees the same mean, so the average
    # equals one view; with a per-pixel mean the per-channel average is subtracted.
    const = np.full((1, 300, 400, 1), 128, np.uint8)
    split = _array_split("c", const, [1], 2)
    p, _ = predict_views(model, split, "imagenet", mean + 0.25, "multiscale", progress=False)
    np.testing.assert_allclose(p[0], softmax2(128 / 255 - 0.25), rtol=1e-4)


def test_multiscale_resizes_the_shorter_side_to_each_scale():
    """A model whose score depends on the input size: an all-ones image padded by 50
    zeros on each side has mean h * w / ((h + 100) (w + 100))."""
    inp = keras.Input((None, None, 1))
    x = keras.layers.ZeroPadding2D(50)(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(2, use_bias=False, activation="softmax")(x)
    model = keras.Model(inp, out)
    model.layers[-1].set_weights([np.array([[10.0, -10.0]], "float32")])
    split = _array_split("r", np.full((1, 300, 400, 1), 255, np.uint8), [0], 2)
    p, _ = predict_views(model, split, "imagenet", np.zeros((224, 224, 1), "float32"),
                         "multiscale", progress=False)
    sizes = [(224, 299), (256, 341), (384, 512), (480, 640), (640, 853)]  # round(400 * s / 300)
    by_hand = np.mean([softmax2(h * w / ((h + 100) * (w + 100))) for h, w in sizes], 0)
    np.testing.assert_allclose(p[0], by_hand, rtol=1e-4)


def test_cifar_views_and_errors():
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (3, 8, 8, 1), dtype=np.uint8)
    split = _array_split("c", imgs, [0, 1, 0], 2)
    mean = np.full((8, 8, 1), 0.5, "float32")
    model = mean_model()
    p, _ = predict_views(model, split, "cifar", mean, "center", progress=False)
    for i in range(3):
        np.testing.assert_allclose(p[i], softmax2((imgs[i, ..., 0] / 255 - 0.5).mean()), rtol=1e-5)
    p, _ = predict_views(model, split, "cifar", mean, "10crop", progress=False)
    padded = np.pad(imgs[0, ..., 0] / 255 - 0.5, 4)
    crops = [padded[:8, :8], padded[:8, 8:], padded[8:, :8], padded[8:, 8:], padded[4:12, 4:12]]
    np.testing.assert_allclose(p[0], np.mean([softmax2(c.mean()) for c in crops], 0), rtol=1e-5)
    with pytest.raises(ValueError, match="multi-scale"):
        predict_views(model, split, "cifar", mean, "multiscale", progress=False)
    with pytest.raises(ValueError, match="view must be"):
        predict_views(model, split, "cifar", mean, "5crop", progress=False)


def test_topk_errors():
    p = np.array([[0.1, 0.5, 0.4], [0.6, 0.3, 0.1], [0.2, 0.3, 0.5]])
    e = topk_errors(p, [2, 0, 0], ks=(1, 2))
    assert e["top1_error"] == pytest.approx(2 / 3) and e["top2_error"] == pytest.approx(1 / 3)
    r = evaluate(mean_model(), _array_split("x", np.zeros((2, 4, 4, 1), np.uint8), [1, 1], 2),
                 "cifar", np.zeros((4, 4, 1), "float32"), progress=False)
    assert r["examples"] == 2 and r["top1_error"] in (0.0, 1.0)
    assert r["top5_error"] is None  # 2 classes: every class is in the top 5
