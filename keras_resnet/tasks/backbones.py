"""Detection backbones (the paper's section 4.3 and its users: Faster R-CNN, FPN,
RetinaNet): multi-scale feature maps C2-C5 at strides 4/8/16/32, any input size.

    features = keras_resnet.backbone("resnet50", weights="imagenet")
    maps = features(images)            # {"C2": ..., "C3": ..., "C4": ..., "C5": ...}

``freeze_bn=True`` turns every BatchNormalization into
:class:`keras_resnet.layers.BatchNormalization` with ``freeze=True``: never trained and
always in inference mode, even after ``backbone.trainable = True`` (Keras' own BN
switches back to batch statistics then, which ruins small detection batches).
``freeze_stages=k`` freezes the stem (k >= 1) and the residual stages conv2 .. conv{k}
(k >= 2) the same lasting way. :func:`faster_rcnn_split` gives the paper's Faster R-CNN
arrangement: a shared trunk up to C4 and the conv5 stage as a per-RoI head.

Freezing keeps what pretraining learnt, so it is the default only with pretrained
weights, torchvision's rule (``torchvision.models.detection.backbone_utils``: without
weights every layer trains): ``freeze_bn`` defaults to True with ``weights`` and to
False with ``weights=None``; ``freeze_stages`` defaults to 0. Asked for explicitly, both
freezes are honoured either way (torchvision ignores its ``trainable_layers`` without
weights); ``freeze_stages`` without weights warns that those layers will never learn.
"""

from __future__ import annotations

import warnings

import keras
from keras import layers

from ..arch import blocks
from ..zoo import build
from ..arch.layers import BackboneModel
from ..arch.layers import BatchNormalization as FrozenBatchNormalization
from ..arch.layers import Conv2D as FreezableConv2D
from ..arch.specs import ResNetSpec, get_spec

LEVELS = {"C2": 2, "C3": 3, "C4": 4, "C5": 5}
# Keys are pyramid levels, as in FPN: "C<l>" is a map at stride 2**l. The ImageNet
# stem strides 4, so conv2_x..conv5_x are C2..C5; the CIFAR nets (section 4.2) keep
# the input size through conv2_x, so their conv2_x, conv3_x, conv4_x are C0, C1, C2.
FAMILY_LEVELS = {"imagenet": {"C2": 2, "C3": 3, "C4": 4, "C5": 5},
                 "cifar": {"C0": 2, "C1": 3, "C2": 4}}  # key -> stage (conv{stage}_x)


def _stage_of(layer_name: str) -> int:
    """1 for the stem (conv1_*, pool1_*), s for conv{s}_*, 0 for anything else."""
    if layer_name.startswith(("conv1_", "pool1_")):
        return 1
    if layer_name.startswith("conv") and layer_name[4:5].isdigit():
        return int(layer_name[4])
    return 0


def _stage_taps(spec) -> dict[int, str]:
    last = {}
    for unit in spec.units():
        last[unit.stage] = f"{unit.name}_out"
    return last


def _frozen_copy(net, freeze_bn: bool, freeze_stages: int):
    """Rebuild ``net`` with frozen BN / frozen stages as lasting freezes, same weights."""
    def clone(layer):
        config = layer.get_config()
        frozen_stage = 0 < _stage_of(layer.name) <= freeze_stages
        if isinstance(layer, keras.layers.BatchNormalization):
            if freeze_bn or frozen_stage:
                config.pop("trainable", None)
                return FrozenBatchNormalization(freeze=True, **config)
        elif type(layer) is keras.layers.Conv2D and frozen_stage:
            config.pop("trainable", None)
            return FreezableConv2D(freeze=True, **config)
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(net, clone_function=clone)
    for layer in net.layers:
        if layer.weights:
            copy.get_layer(layer.name).set_weights(layer.get_weights())
    return copy


def resolve_freezing(weights, freeze_bn, freeze_stages, warn=True) -> tuple[bool, int]:
    """``(freeze_bn, freeze_stages)`` after the defaults: frozen BN with pretrained
    weights, trainable BN with ``weights=None`` (torchvision's rule: a network trained
    from scratch has no statistics worth keeping); no frozen stage unless asked.

    Raises:
        ValueError: ``freeze_bn`` not a bool or None; ``freeze_stages`` not 0-5 or None.
    """
    if freeze_bn is None:
        freeze_bn = weights is not None
    elif not isinstance(freeze_bn, bool):
        raise ValueError(f"freeze_bn must be True, False or None (the default: True with "
                         f"pretrained weights, False without), got {freeze_bn!r}")
    if freeze_stages is None:
        freeze_stages = 0
    elif (isinstance(freeze_stages, bool) or not isinstance(freeze_stages, int)
          or not 0 <= freeze_stages <= 5):
        raise ValueError(f"freeze_stages must be an integer 0-5, got {freeze_stages!r}")
    if weights is None and freeze_stages and warn:
        # torchvision ignores such a setting (with a warning); here it was asked for
        # explicitly, so it is honoured -- but it is rarely what is meant.
        warnings.warn(
            f"freeze_stages={freeze_stages} with weights=None freezes randomly "
            "initialised layers for good; they will never learn. Pass pretrained weights, "
            "or freeze_stages=0 to train every stage.", UserWarning, stacklevel=3)
    return freeze_bn, freeze_stages


def backbone(name="resnet50", weights=None, input_shape=None,
             outputs=None, freeze_bn: bool | None = None,
             freeze_stages: int | None = None, **build_options) -> BackboneModel:
    """A multi-output ``keras.Model`` mapping images to a dict of feature maps.

    The model is a :class:`~keras_resnet.arch.layers.BackboneModel`: its
    ``pyramid_outputs`` (``"P2"``..``"P5"``) let keras-hub's detectors take it as their
    ``image_encoder`` (``examples/retinanet_keras_hub.py``).

    Args:
        name: a registered network (``resnet18`` ... ``resnet152``, ``resnet20`` ...,
            plain nets) or a :class:`~keras_resnet.ResNetSpec`.
        weights: as for :func:`keras_resnet.build` (``"imagenet"``, a tag such as
            ``"fashion_mnist"``, a file, None).
        input_shape: default any size, 3 channels: ``(None, None, 3)``, or
            ``(3, None, None)`` under ``channels_first``; fixed sizes for TFLite. A
            CIFAR-family network with weights takes the weights' input shape by default.
        outputs: which maps to return, keyed by pyramid level (a ``"C<l>"`` map has
            stride ``2**l``): ImageNet family ``"C2"``-``"C5"`` (conv2_x..conv5_x,
            strides 4, 8, 16, 32), CIFAR family ``"C0"``-``"C2"`` (conv2_x..conv4_x,
            strides 1, 2, 4); default all of them.
        freeze_bn: make every BN a lasting frozen one (see the module docstring);
            default (None): True with pretrained ``weights``, False with ``None``.
        freeze_stages: 0 (nothing; the default), 1 (stem), 2 (stem + conv2), ...
            5 (everything).

    Raises:
        ValueError: unknown ``outputs`` (the family's are named), a bad ``freeze_bn`` or
            ``freeze_stages``; and what :func:`keras_resnet.build` raises.
    """
    spec = name if isinstance(name, ResNetSpec) else get_spec(name)
    levels = FAMILY_LEVELS[spec.family]
    if input_shape is None and not (spec.family == "cifar" and weights is not None):
        channels_last = keras.config.image_data_format() == "channels_last"
        input_shape = (None, None, 3) if channels_last else (3, None, None)
    if outputs is None:
        outputs = tuple(levels)
    if isinstance(outputs, str):
        outputs = (outputs,)
    unknown = [o for o in outputs if o not in levels]
    if unknown or not outputs:
        raise ValueError(f"outputs must be a non-empty selection of {list(levels)} for a "
                         f"{spec.family}-family network (a 'C<l>' map has stride 2**l), got "
                         f"{list(outputs)}")
    freeze_bn, freeze_stages = resolve_freezing(weights, freeze_bn, freeze_stages)
    net = build(spec, include_top=False, weights=weights, input_shape=input_shape,
                **build_options)
    if freeze_bn or freeze_stages:
        net = _frozen_copy(net, freeze_bn, freeze_stages)
    taps = _stage_taps(spec)
    feature_maps = {o: net.get_layer(taps[levels[o]]).output for o in outputs}
    return BackboneModel(net.input, feature_maps, name=f"{spec.name}_backbone")


def faster_rcnn_split(name: str = "resnet50", weights=None, freeze_bn: bool | None = None,
                      freeze_stages: int | None = None, roi_size: int = 14,
                      **build_options):
    """The paper's Faster R-CNN arrangement (appendix A): ``(trunk, head)``.

    ``freeze_bn`` / ``freeze_stages`` as for :func:`backbone` (frozen BN by default with
    pretrained weights, as the paper keeps ImageNet's statistics; trainable without).

    ``trunk``: images (any size) -> C4 (stride 16), computed once per image.
    ``head``: pooled RoI features ``(roi_size, roi_size, C4 channels)`` (channels first
    under ``channels_first``) -> the conv5
    stage (its first unit strides 2) -> global average pooling: one feature vector per
    RoI, for the box classifier and regressor. Both share the classifier's weights.
    """
    spec = name if isinstance(name, ResNetSpec) else get_spec(name)
    if spec.family != "imagenet":
        raise ValueError(f"the Faster R-CNN split needs an ImageNet-family network (a "
                         f"conv4_x trunk and a conv5_x head); {spec.name} is a CIFAR-family "
                         "network: use backbone() for its C0-C2 maps")
    full = backbone(name, weights=weights, outputs=("C4", "C5"), freeze_bn=freeze_bn,
                    freeze_stages=freeze_stages, **build_options)
    freeze_bn, freeze_stages = resolve_freezing(weights, freeze_bn, freeze_stages,
                                                warn=False)  # backbone() warned
    spec = name if isinstance(name, ResNetSpec) else get_spec(name)
    trunk = keras.Model(full.input, full.output["C4"], name=f"{spec.name}_trunk")
    data_format = keras.config.image_data_format()
    if data_format == "channels_last":
        c4_channels = full.output["C4"].shape[-1]
        roi = keras.Input((roi_size, roi_size, c4_channels), name="roi_features")
    else:
        c4_channels = full.output["C4"].shape[1]
        roi = keras.Input((c4_channels, roi_size, roi_size), name="roi_features")
    placement = "1x1"
    if spec.block == "bottleneck" and full.get_layer("conv3_block1_2_conv").strides == (2, 2):
        placement = "3x3"  # v1.5 weights (torchvision) fix it when the net is built
    opts = blocks.LayerOptions(data_format=data_format,
                               stride_placement=placement,
                               downsample=spec.downsample,
                               bn_epsilon=build_options.get("bn_epsilon", 1e-5),
                               bn_momentum=build_options.get("bn_momentum", 0.9))
    x = roi
    for unit in spec.units():
        if unit.stage == 5:
            x = blocks.residual_unit(x, unit, spec.block, opts)
    x = layers.GlobalAveragePooling2D(data_format=data_format, name="roi_pool5")(x)
    head = keras.Model(roi, x, name=f"{spec.name}_conv5_head")
    for layer in head.layers:
        if layer.weights:
            layer.set_weights(full.get_layer(layer.name).get_weights())
    if freeze_bn or freeze_stages >= 5:
        head = _frozen_copy(head, freeze_bn, freeze_stages)
    return trunk, head
