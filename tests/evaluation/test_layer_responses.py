"""Layer responses (the paper's Figure 7 analysis)."""

import keras
import numpy as np
import pytest

import keras_resnet

from tests.helpers import images, randomise


def _model(name, options, seed=0):
    m = keras_resnet.build(name, **options)
    randomise(m, seed)
    return m


def test_layer_responses_are_the_std_of_each_3x3_bn_output():
    from keras_resnet.evaluation.responses import layer_responses, response_layers

    model = _model("resnet20", dict(input_shape=(28, 28, 1)))
    names = response_layers(model)
    assert len(names) == 19  # the stem conv + 2 per unit x 9 units
    assert names[0] == "conv1_bn" and all(n.endswith("_bn") for n in names)
    x = images((40, 28, 28, 1))
    stds = layer_responses(model, x, batch_size=16)
    assert list(stds) == names
    for n in (names[0], names[7], names[-1]):
        direct = keras.Model(model.inputs[0], model.get_layer(n).output)(x, training=False)
        assert stds[n] == pytest.approx(float(np.std(np.asarray(direct, "float64"))), rel=1e-5)
    plain = _model("plain20", dict(input_shape=(28, 28, 1)))
    assert len(response_layers(plain)) == 19
