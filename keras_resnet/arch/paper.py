"""Numbers reported in He, Zhang, Ren, Sun, "Deep Residual Learning for Image
Recognition" (CVPR 2016, arXiv:1512.03385), for tables and comparisons.

These are the paper's claims, shown beside our own counts; the tests check our
counts against independent anchors written in the tests themselves.
"""

from .specs import CIFAR_WIDTHS, IMAGENET_DEPTHS, IMAGENET_WIDTHS

# Table 1: multiply-adds ("FLOPs") of the ImageNet networks at 224x224.
IMAGENET_GMACS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}

# Table 6: parameter counts (millions) of the CIFAR-10 networks.
CIFAR_PARAMS_M = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7, 1202: 19.4}


def reported(spec) -> dict:
    """The paper's complexity numbers for a spec: ``{"gmacs": ..}`` for the ImageNet
    nets of Table 1, ``{"params_m": ..}`` for the CIFAR nets of Table 6."""
    if (spec.family == "imagenet" and spec.residual and spec.widths == IMAGENET_WIDTHS
            and IMAGENET_DEPTHS.get(spec.depth) == (spec.block, spec.blocks_per_stage)
            and (spec.stem, spec.downsample, spec.stem_width) == ("7x7", "conv", 64)):
        return {"gmacs": IMAGENET_GMACS[spec.depth]}
    if spec.family == "cifar" and spec.residual and spec.widths == CIFAR_WIDTHS:
        if spec.depth in CIFAR_PARAMS_M:
            return {"params_m": CIFAR_PARAMS_M[spec.depth]}
    return {}

