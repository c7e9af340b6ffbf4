"""Every network in the zoo is one row of data: a :class:`ResNetSpec`.

The builder (``builder.py``) turns a spec into a Keras model and the complexity
counter (``complexity.py``) turns it into parameter and FLOP counts; both read the
network's topology from :meth:`ResNetSpec.units`, so topology decisions (where the
stride goes, which shortcut a unit gets) are made in exactly one place.

This module is pure Python: importing it does not import Keras or TensorFlow.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Iterator

FAMILIES = ("imagenet", "cifar")
BLOCK_TYPES = {"basic": 1, "bottleneck": 4}  # block type -> channel expansion
SHORTCUTS = ("A", "B", "C")
# Where a strided bottleneck puts its stride. "1x1" is the paper's Caffe models and
# keras.applications ("v1"); "3x3" is torchvision ("v1.5").
STRIDE_PLACEMENTS = {"1x1": "1x1", "3x3": "3x3", "v1": "1x1", "v1.5": "3x3"}
# The ImageNet stem: "7x7" (the paper's 7x7/2 conv) or "deep" (three 3x3 convs,
# stem_width/2, stem_width/2, stem_width filters, the first strided: ResNet-C/D of He et
# al. 2019, "Bag of Tricks", timm's ``stem_type="deep"``). Both end in the 3x3/2 max pool.
STEMS = ("7x7", "deep")
# The projection shortcut where the resolution halves: "conv" (a strided 1x1 conv, the
# paper) or "avg" (a 2x2 average pool with stride 2, then a stride-1 1x1 conv: ResNet-D,
# timm's ``avg_down=True``), which reads every input pixel instead of one in four.
DOWNSAMPLES = ("conv", "avg")
# Output strides that dilation can give an ImageNet-family net (torchvision's
# replace_stride_with_dilation, timm's output_stride): the last stage(s) keep their
# resolution and dilate their 3x3 convolutions instead of striding.
OUTPUT_STRIDES = (8, 16, 32)


@dataclass(frozen=True)
class Unit:
    """One residual (or plain) unit of a network, as the builder lays it out.

    ``shortcut`` is ``"identity"``, ``"projection"`` (1x1 conv + BN, options B/C),
    ``"pad"`` (option A: stride-2 subsampling and zero channels) or ``None`` (plain net).
    ``dilation`` is the dilation rate of the unit's 3x3 convolutions; the first unit of a
    dilated stage keeps the previous stage's rate in its first 3x3
    (``first_dilation``), as torchvision and timm build it.
    """

    name: str  # keras.applications layer-name prefix, e.g. "conv3_block1"
    stage: int  # 2 for conv2_x, ...
    index: int  # 1-based position inside the stage
    in_channels: int
    width: int  # filters of the 3x3 convolutions
    out_channels: int
    stride: int
    shortcut: str | None
    dilation: int = 1
    first_dilation: int = 1


@dataclass(frozen=True)
class ResNetSpec:
    """A residual or plain network described as data.

    Attributes:
        name: registry name, e.g. ``"resnet50"``.
        family: ``"imagenet"`` (7x7/2 stem conv + 3x3/2 max pool) or ``"cifar"``
            (3x3 stem conv, no pooling).
        block: ``"basic"`` (3x3, 3x3) or ``"bottleneck"`` (1x1, 3x3, 1x1, 4x expansion).
        blocks_per_stage: units in each stage; stage ``i`` (0-based) is named
            ``conv{i+2}``; every stage but the first halves the resolution.
        widths: filters of each stage's 3x3 convolutions.
        stem_width: filters of the first convolution.
        residual: ``False`` builds the paper's plain baseline (no shortcuts).
        shortcut: ``"A"`` zero-padding identity, ``"B"`` projection where the shape
            changes, ``"C"`` projection everywhere; ``None`` for plain nets.
        stride_placement: ``"1x1"`` (paper, v1) or ``"3x3"`` (torchvision, v1.5);
            matters for bottleneck blocks only.
        stem: ``"7x7"`` (paper) or ``"deep"`` (three 3x3 convs: ResNet-C/D; ImageNet
            family only). ``stem_width`` is the stem's output channels either way.
        downsample: projection shortcuts that halve the resolution use a strided 1x1
            conv (``"conv"``, paper) or a 2x2 average pool then a 1x1 conv (``"avg"``,
            ResNet-D).
        output_stride: ``None`` (the network's natural total stride, 32 for ImageNet
            nets) or 8/16/32 (ImageNet family): later stages dilate instead of striding.
        default_input_shape: channels-last (H, W, C) used when none is given.
        default_classes: classifier size used when none is given.
    """

    name: str
    family: str
    block: str
    blocks_per_stage: tuple[int, ...]
    widths: tuple[int, ...]
    stem_width: int
    residual: bool = True
    shortcut: str | None = "B"
    stride_placement: str = "1x1"
    stem: str = "7x7"
    downsample: str = "conv"
    output_stride: int | None = None
    default_input_shape: tuple[int, int, int] = (224, 224, 3)
    default_classes: int = 1000

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {self.family!r}")
        if self.block not in BLOCK_TYPES:
            raise ValueError(
                f"block must be one of {tuple(BLOCK_TYPES)}, got {self.block!r}"
            )
        if len(self.blocks_per_stage) != len(self.widths) or not self.widths:
            raise ValueError(
                "blocks_per_stage and widths need one entry per stage; got "
                f"{self.blocks_per_stage} and {self.widths}"
            )
        if any(int(b) < 1 for b in self.blocks_per_stage):
            raise ValueError(f"every stage needs >= 1 block, got {self.blocks_per_stage}")
        if any(int(w) < 1 for w in self.widths) or self.stem_width < 1:
            raise ValueError("widths and stem_width must be positive integers")
        if self.residual:
            if self.shortcut not in SHORTCUTS:
                raise ValueError(
                    f"shortcut must be one of {SHORTCUTS} (A: zero-padding identity, "
                    f"B: projection where the shape changes, C: projection everywhere); "
                    f"got {self.shortcut!r}"
                )
        elif self.shortcut is not None:
            raise ValueError(
                f"{self.name} is a plain network (no shortcuts); do not pass shortcut="
                f"{self.shortcut!r}"
            )
        if self.stride_placement not in STRIDE_PLACEMENTS:
            raise ValueError(
                f"stride_placement must be one of {tuple(STRIDE_PLACEMENTS)} "
                f"('1x1'/'v1': paper and keras.applications; '3x3'/'v1.5': torchvision); "
                f"got {self.stride_placement!r}"
            )
        if self.stem not in STEMS:
            raise ValueError(f"stem must be one of {STEMS} ('7x7': the paper's; 'deep': "
                             f"three 3x3 convs, ResNet-C/D), got {self.stem!r}")
        if self.stem == "deep" and (self.family != "imagenet" or self.stem_width % 2):
            raise ValueError("the deep stem is for ImageNet-family nets with an even "
                             f"stem_width; got family {self.family!r}, stem_width "
                             f"{self.stem_width}")
        if self.downsample not in DOWNSAMPLES:
            raise ValueError(f"downsample must be one of {DOWNSAMPLES} ('conv': strided 1x1 "
                             f"projection; 'avg': 2x2 average pool then 1x1, ResNet-D), got "
                             f"{self.downsample!r}")
        if self.output_stride is not None:
            if self.family != "imagenet" or self.output_stride not in OUTPUT_STRIDES:
                raise ValueError(
                    f"output_stride must be None or one of {OUTPUT_STRIDES} (ImageNet-family "
                    f"nets; dilation replaces the stride of the last stages), got "
                    f"{self.output_stride!r} for the {self.family}-family {self.name}")
            if self.output_stride == 32:
                object.__setattr__(self, "output_stride", None)  # 32 is no dilation
        # Normalise the aliases so equal networks compare equal.
        object.__setattr__(self, "stride_placement", STRIDE_PLACEMENTS[self.stride_placement])
        object.__setattr__(self, "blocks_per_stage", tuple(int(b) for b in self.blocks_per_stage))
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if self.shortcut == "A":
            channels = [self.stem_width] + [w * self.expansion for w in self.widths]
            if any(b < a for a, b in zip(channels, channels[1:])):
                raise ValueError(
                    "shortcut 'A' pads channels with zeros, so channel counts may not "
                    f"shrink from stage to stage; got stem {self.stem_width} and "
                    f"widths {self.widths}. Use shortcut 'B' or 'C'."
                )

    # ----------------------------------------------------------------- derived
    @property
    def expansion(self) -> int:
        return BLOCK_TYPES[self.block]

    @property
    def convs_per_unit(self) -> int:
        return 2 if self.block == "basic" else 3

    @property
    def depth(self) -> int:
        """Weighted layers counted as the paper does: stem conv + block convs + fc."""
        return 1 + self.convs_per_unit * sum(self.blocks_per_stage) + 1

    @property
    def stem_stride(self) -> int:
        return 4 if self.family == "imagenet" else 1

    @property
    def total_stride(self) -> int:
        """Input size / final feature map size (``output_stride`` where one is set)."""
        return self.output_stride or self.stem_stride * 2 ** (len(self.widths) - 1)

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(f"conv{i + 2}" for i in range(len(self.widths)))

    @property
    def num_features(self) -> int:
        return self.widths[-1] * self.expansion

    @property
    def constructor_name(self) -> str:
        """Public constructor name: ``resnet50`` -> ``ResNet50``, ``plain20`` ->
        ``Plain20``, ``resnet50d`` -> ``ResNet50D``."""
        prefix = "ResNet" if self.residual else "Plain"
        m = re.fullmatch(r"(?:resnet|plain)\d+([a-z]*)", self.name)
        return f"{prefix}{self.depth}{m.group(1).upper() if m else ''}"

    def replace(self, **changes) -> "ResNetSpec":
        return dataclasses.replace(self, **changes)

    def units(self) -> Iterator[Unit]:
        """Yield every unit in order, with its channels, stride, dilation and shortcut
        kind. With ``output_stride``, a stage whose stride would take the network past
        it keeps stride 1 and multiplies the dilation by 2 instead (timm's rule)."""
        channels = self.stem_width
        reached, dilation = self.stem_stride, 1
        for s, (count, width) in enumerate(zip(self.blocks_per_stage, self.widths)):
            out = width * self.expansion
            stage_stride, previous = (2 if s > 0 else 1), dilation
            if self.output_stride and reached * stage_stride > self.output_stride:
                dilation *= stage_stride
                stage_stride = 1
            reached *= stage_stride
            for i in range(count):
                stride = stage_stride if i == 0 else 1
                yield Unit(
                    name=f"conv{s + 2}_block{i + 1}",
                    stage=s + 2,
                    index=i + 1,
                    in_channels=channels,
                    width=width,
                    out_channels=out,
                    stride=stride,
                    shortcut=self._shortcut_kind(channels, out, stride),
                    dilation=dilation,
                    first_dilation=previous if i == 0 else dilation,
                )
                channels = out

    def _shortcut_kind(self, in_channels: int, out_channels: int, stride: int):
        if not self.residual:
            return None
        if self.shortcut == "C":
            return "projection"
        if stride == 1 and in_channels == out_channels:
            return "identity"
        return "projection" if self.shortcut == "B" else "pad"


IMAGENET_WIDTHS = (64, 128, 256, 512)
IMAGENET_DEPTHS = {  # the paper's Table 1
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
# ResNet-200 (He et al. 2016, "Identity Mappings in Deep Residual Networks"): registered
# only as ResNet-200-D, the layout of timm's resnet200d weights.
RESNET_D_DEPTHS = {**IMAGENET_DEPTHS, 200: ("bottleneck", (3, 24, 36, 3))}
CIFAR_WIDTHS = (16, 32, 64)
CIFAR_DEPTHS = (20, 32, 44, 56, 110, 1202)  # the paper's Table 6
CIFAR_PLAIN_DEPTHS = (20, 32, 44, 56, 110)  # the paper's Figure 6


def imagenet_spec(depth: int, residual: bool = True, **changes) -> ResNetSpec:
    """The paper's ImageNet network of the given depth (18, 34, 50, 101, 152)."""
    if depth not in IMAGENET_DEPTHS:
        raise ValueError(
            f"ImageNet depth must be one of {sorted(IMAGENET_DEPTHS)}, got {depth!r}; "
            "for other layouts build a ResNetSpec directly"
        )
    block, blocks = IMAGENET_DEPTHS[depth]
    fields = dict(
        name=f"{'resnet' if residual else 'plain'}{depth}",
        family="imagenet",
        block=block,
        blocks_per_stage=blocks,
        widths=IMAGENET_WIDTHS,
        stem_width=64,
        residual=residual,
        shortcut="B" if residual else None,
    )
    fields.update(changes)
    return ResNetSpec(**fields)


def resnet_d_spec(depth: int, **changes) -> ResNetSpec:
    """ResNet-D of the given depth (18, 34, 50, 101, 152, 200): He et al. 2019 ("Bag of
    Tricks for Image Classification with Convolutional Neural Networks", section 4.1) as
    timm builds its ``resnet*d`` weights: the deep stem (3x3 convs of 32, 32, 64
    filters), stride on the 3x3 of each bottleneck (v1.5) and average-pool
    downsampling in the projection shortcuts. ResNet-50-D has 25,576,264 parameters
    (timm), 19,232 more than ResNet-50."""
    if depth not in RESNET_D_DEPTHS:
        raise ValueError(f"ResNet-D depth must be one of {sorted(RESNET_D_DEPTHS)}, got "
                         f"{depth!r}")
    block, blocks = RESNET_D_DEPTHS[depth]
    fields = dict(name=f"resnet{depth}d", family="imagenet", block=block,
                  blocks_per_stage=blocks, widths=IMAGENET_WIDTHS, stem_width=64,
                  stride_placement="3x3", stem="deep", downsample="avg")
    fields.update(changes)
    return ResNetSpec(**fields)


def cifar_spec(
    depth: int | None = None,
    *,
    n: int | None = None,
    residual: bool = True,
    width_multiplier: float = 1.0,
    name: str | None = None,
    **changes,
) -> ResNetSpec:
    """A CIFAR-style network (paper section 4.2): depth ``6n + 2``, 16/32/64 filters.

    Give either ``depth`` (must be ``6n + 2``) or ``n`` (units per stage).
    ``width_multiplier`` scales every width (e.g. 4 gives 64/128/256 filters).
    """
    if (depth is None) == (n is None):
        raise ValueError("give exactly one of depth= (6n+2) or n= (units per stage)")
    if depth is not None:
        if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
            raise ValueError(
                f"CIFAR depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, "
                f"1202, ...), got {depth!r}"
            )
        n = (depth - 2) // 6
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n (units per stage) must be a positive integer, got {n!r}")
    if not width_multiplier > 0:
        raise ValueError(f"width_multiplier must be > 0, got {width_multiplier!r}")
    widths = tuple(max(1, int(round(w * width_multiplier))) for w in CIFAR_WIDTHS)
    depth = 6 * n + 2
    if name is None:
        name = f"{'resnet' if residual else 'plain'}{depth}"
        if width_multiplier != 1.0:
            name += f"_w{width_multiplier:g}"
    fields = dict(
        name=name,
        family="cifar",
        block="basic",
        blocks_per_stage=(n, n, n),
        widths=widths,
        stem_width=widths[0],
        residual=residual,
        shortcut="A" if residual else None,
        default_input_shape=(32, 32, 3),
        default_classes=10,
    )
    fields.update(changes)
    return ResNetSpec(**fields)


def _registry() -> dict[str, ResNetSpec]:
    specs = []
    for residual in (True, False):
        specs += [imagenet_spec(d, residual) for d in IMAGENET_DEPTHS]
    specs += [resnet_d_spec(d) for d in RESNET_D_DEPTHS]
    specs += [cifar_spec(d) for d in CIFAR_DEPTHS]
    specs += [cifar_spec(d, residual=False) for d in CIFAR_PLAIN_DEPTHS]
    return {s.name: s for s in specs}


SPECS: dict[str, ResNetSpec] = _registry()


def normalize_name(name: str) -> str:
    """``"ResNet-50"``, ``"resnet_50"`` and ``"ResNet50"`` all mean ``"resnet50"``."""
    return str(name).lower().replace("-", "").replace("_", "")


def get_spec(name: str) -> ResNetSpec:
    """Look a named network up in the registry, with a helpful error."""
    if isinstance(name, ResNetSpec):
        return name
    key = normalize_name(name)
    m = re.fullmatch(r"(resnet|plain)(\d+)", key)
    if key not in SPECS and m and int(m.group(2)) % 6 == 2 and int(m.group(2)) >= 8:
        # Any CIFAR depth 6n+2 (resnet8, plain14, ...), as the paper's section 4.2 defines.
        return cifar_spec(int(m.group(2)), residual=m.group(1) == "resnet")
    if key not in SPECS:
        raise ValueError(
            f"Unknown model {name!r}. Valid names: {', '.join(SPECS)}. "
            "For another depth or width use keras_resnet.cifar_spec(...) or a "
            "ResNetSpec and pass it to keras_resnet.build()."
        )
    return SPECS[key]


def list_models(family: str | None = None, residual: bool | None = None) -> list[str]:
    """Registry names, optionally filtered by family and residual/plain."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES} or None, got {family!r}")
    return [
        name
        for name, spec in SPECS.items()
        if (family is None or spec.family == family)
        and (residual is None or spec.residual == residual)
    ]
