"""Numbers reported in He, Zhang, Ren, Sun, "Deep Residual Learning for Image
Recognition" (CVPR 2016, arXiv:1512.03385), for tables and comparisons.

These are the paper's claims, shown beside our own counts; the tests check our
counts against independent anchors written in the tests themselves.
"""

from .specs import IMAGENET_DEPTHS, IMAGENET_WIDTHS

# Table 1: multiply-adds ("FLOPs") of the ImageNet networks at 224x224.
IMAGENET_GMACS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}

# Table 2 (10-crop ImageNet val top-1 error, %); plain and residual 18/34, option A.
IMAGENET_TOP1_ERR_10CROP = {
    "plain18": 27.94,
    "plain34": 28.54,
    "resnet18": 27.88,
    "resnet34": 25.03,
}

# Table 3 (10-crop ImageNet val top-1 / top-5 error, %).
IMAGENET_TABLE3 = {
    "resnet34_A": (25.03, 7.76),
    "resnet34_B": (24.52, 7.46),
    "resnet34_C": (24.19, 7.40),
    "resnet50": (22.85, 6.71),
    "resnet101": (21.75, 6.05),
    "resnet152": (21.43, 5.71),
}

# Table 6: CIFAR-10 test error (%) and parameter counts (millions).
CIFAR_PARAMS_M = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7, 1202: 19.4}
CIFAR_TEST_ERR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}


def reported(spec) -> dict:
    """The paper's complexity numbers for a spec: ``{"gmacs": ..}`` for the ImageNet
    nets of Table 1, ``{"params_m": ..}`` for the CIFAR nets of Table 6."""
    if (spec.family == "imagenet" and spec.residual and spec.widths == IMAGENET_WIDTHS
            and IMAGENET_DEPTHS.get(spec.depth) == (spec.block, spec.blocks_per_stage)):
        return {"gmacs": IMAGENET_GMACS[spec.depth]}
    if spec.family == "cifar" and spec.residual and spec.widths == (16, 32, 64):
        if spec.depth in CIFAR_PARAMS_M:
            return {"params_m": CIFAR_PARAMS_M[spec.depth]}
    return {}

