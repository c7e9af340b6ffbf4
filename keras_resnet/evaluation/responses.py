"""Layer responses (the paper's Figure 7): the standard deviation of each 3x3 layer's
output after BN, before the ReLU or the addition."""

from __future__ import annotations


def response_layers(model) -> list[str]:
    """Names of the BatchNormalization layers that follow a 3x3 convolution, in network
    order: the "responses" of the paper's Figure 7 (each 3x3 layer's output after BN,
    before the ReLU or the addition)."""
    import keras

    names = []
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        # the layer that produced the BN's input (Keras records it on the tensor)
        producer = layer.input._keras_history.operation
        if isinstance(producer, keras.layers.Conv2D) and tuple(producer.kernel_size) == (3, 3):
            names.append(layer.name)
    return names


def layer_responses(model, images, batch_size: int = 250) -> dict[str, float]:
    """Standard deviation of each 3x3 layer's response (BN output, inference mode) over
    ``images``, all positions and channels pooled: {bn layer name: std}, network order."""
    import keras
    import numpy as np

    names = response_layers(model)
    if not names:
        raise ValueError(f"{model.name} has no BatchNormalization after a 3x3 convolution")
    probe = keras.Model(model.inputs[0], [model.get_layer(n).output for n in names])
    sums = np.zeros(len(names))
    squares = np.zeros(len(names))
    images = np.asarray(images, "float32")
    for start in range(0, len(images), batch_size):
        outs = probe(images[start:start + batch_size], training=False)
        for i, o in enumerate(outs):
            o = np.asarray(o, "float64")
            sums[i] += o.sum()
            squares[i] += np.square(o).sum()
    sizes = [int(np.prod(t.shape[1:])) * len(images) for t in probe.outputs]
    return {n: float(np.sqrt(max(q / s - (m / s) ** 2, 0.0)))
            for n, m, q, s in zip(names, sums, squares, sizes)}
