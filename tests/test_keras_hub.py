"""keras-hub's RetinaNet takes keras_resnet.backbone() as its image_encoder (issue 15
item 12): it trains on a synthetic detection batch (loss goes down), saves and reloads.

keras-hub needs Python >= 3.11; the test extra installs it there, and these tests are
skipped below it (nowhere else: on 3.11+ a missing keras-hub is a failure).
"""

import importlib.util
import os
import sys

import numpy as np
import pytest

if sys.version_info < (3, 11):
    pytest.skip("keras-hub needs Python >= 3.11", allow_module_level=True)

import keras  # noqa: E402
import keras_hub  # noqa: E402

import keras_resnet  # noqa: E402
from keras_resnet.data.embedded import load_embedded  # noqa: E402

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "examples", "retinanet_keras_hub.py")


def _example():
    spec = importlib.util.spec_from_file_location("retinanet_keras_hub", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_canvases_hold_the_items_inside_their_boxes():
    (x, y), _ = load_embedded()
    canvases, targets = _example().detection_canvases(x[:50], y[:50], 12, size=64, seed=3)
    assert canvases.shape == (12, 64, 64, 3) and canvases.dtype == np.float32
    inside = np.zeros((12, 64, 64), bool)
    for i in range(12):
        labels = targets["labels"][i]
        assert labels[0] >= 0  # at least one item
        for box, label in zip(targets["boxes"][i], labels):
            if label < 0:
                assert (box == -1).all()
                continue
            y0, x0, y1, x1 = box.astype(int)
            assert 0 <= y0 < y1 <= 64 and 0 <= x0 < x1 <= 64
            patch = canvases[i, y0:y1, x0:x1, 0]
            # tight: every border row and column of the box has an item pixel
            assert patch[0].any() and patch[-1].any()
            assert patch[:, 0].any() and patch[:, -1].any()
            inside[i, y0:y1, x0:x1] = True
    assert not canvases[..., 0][~inside].any()  # nothing drawn outside the boxes
    assert (canvases[..., 0] == canvases[..., 2]).all()


@pytest.mark.slow
def test_retinanet_on_a_backbone_trains_saves_and_reloads(tmp_path):
    keras.utils.set_random_seed(0)  # the same initial weights whatever ran before
    # frozen BN (asked for: without weights BN would train), any size
    encoder = keras_resnet.backbone("resnet18", weights=None, freeze_bn=True)
    assert list(encoder.pyramid_outputs) == ["P2", "P3", "P4", "P5"]
    size = 64
    retina = keras_hub.models.RetinaNetBackbone(
        image_encoder=encoder, min_level=3, max_level=7, use_p5=False,
        image_shape=(size, size, 3))
    detector = keras_hub.models.RetinaNetObjectDetector(
        backbone=retina, num_classes=10, bounding_box_format="yxyx")
    (x, y), _ = load_embedded()
    canvases, targets = _example().detection_canvases(x, y, 8, size=size, max_items=2,
                                                      seed=0)
    canvases = (canvases / 127.5 - 1.0).astype(np.float32)
    bn = [l for l in encoder.layers if isinstance(l, keras_resnet.layers.BatchNormalization)]
    moving_before = [np.array(l.moving_mean) for l in bn]

    detector.compile(optimizer=keras.optimizers.Adam(1e-3))
    losses = detector.fit(canvases, targets, batch_size=8, epochs=4,
                          verbose=0).history["loss"]
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.5 * losses[0], losses  # it learns the batch
    # the backbone's frozen BN stayed frozen inside keras-hub's training loop
    for layer, before in zip(bn, moving_before):
        np.testing.assert_array_equal(np.array(layer.moving_mean), before)

    path = tmp_path / "detector.keras"
    detector.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded.backbone.image_encoder).__name__ == "BackboneModel"
    assert list(reloaded.backbone.image_encoder.pyramid_outputs) == ["P2", "P3", "P4", "P5"]
    before, after = detector(canvases), reloaded(canvases)
    for key in ("bbox_regression", "cls_logits"):
        np.testing.assert_allclose(np.asarray(after[key]), np.asarray(before[key]),
                                   rtol=1e-5, atol=1e-5)
    # the reloaded detector trains on (compile() is not restored by keras-hub's tasks)
    reloaded.compile(optimizer=keras.optimizers.Adam(1e-3))
    more = reloaded.fit(canvases, targets, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(more.history["loss"]).all()
    detections = reloaded.predict(canvases[:2], verbose=0)
    assert detections["boxes"].shape[:2] == detections["labels"].shape == (2, 100)


def test_pyramid_outputs_follow_the_chosen_outputs():
    encoder = keras_resnet.backbone("resnet18", weights=None, outputs=("C3", "C5"),
                                    input_shape=(64, 64, 3))
    pyramid = encoder.pyramid_outputs
    assert list(pyramid) == ["P3", "P5"]
    assert pyramid["P3"] is encoder.output["C3"] and pyramid["P5"] is encoder.output["C5"]
    assert tuple(pyramid["P3"].shape) == (None, 8, 8, 128)  # stride 2**3
    with pytest.raises(KeyError, match=r"levels \['P3', 'P5'\].*including 'C4'"):
        pyramid["P4"]  # what RetinaNetBackbone(min_level=4) would ask for
