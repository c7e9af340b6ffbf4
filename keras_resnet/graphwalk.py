"""Walking a Keras functional model's layer graph.

BN folding (``inference.fold_batchnorm``), the ONNX translation (``onnxgraph``) and
the layer-response analysis (``analysis.response_layers``) all read the same facts
from a functional model: the one call of each layer, which layer produced a tensor,
and who consumes it. They live here once. Tensors are keyed by ``id()`` because
KerasTensors are not hashable by value."""

from __future__ import annotations


def called_once(layer) -> bool:
    """Whether ``layer`` is called exactly once in its model (not shared)."""
    return len(layer._inbound_nodes) == 1


def call_of(layer):
    """The single call (Keras ``Node``) of ``layer`` in its model. Layers called more
    than once (shared weights) are not something these tools rewrite."""
    nodes = layer._inbound_nodes
    if not called_once(layer):
        raise ValueError(f"layer {layer.name!r} is called {len(nodes)} times in the model; "
                         "only layers called exactly once can be rewritten or exported")
    return nodes[0]


def inputs_of(layer) -> list:
    """Input tensors of the layer's single call, in order."""
    return list(call_of(layer).input_tensors)


def output_of(layer):
    """The output tensor of the layer's single call (layers with one output)."""
    outs = call_of(layer).output_tensors
    if len(outs) != 1:
        raise ValueError(f"layer {layer.name!r} has {len(outs)} outputs; only "
                         "single-output layers are supported here")
    return outs[0]


def producer(tensor):
    """The layer (operation) whose call produced ``tensor``."""
    return tensor._keras_history.operation


def consumers(model) -> dict[int, list]:
    """{id(tensor): [layers reading it]} over every layer of ``model``."""
    readers: dict[int, list] = {}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for t in node.input_tensors:
                readers.setdefault(id(t), []).append(layer)
    return readers


def layers_in_order(model):
    """The model's layers except its InputLayers, in the order the graph computes them."""
    import keras

    return [l for l in model.layers if not isinstance(l, keras.layers.InputLayer)]
