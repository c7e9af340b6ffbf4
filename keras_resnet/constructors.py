"""The named constructors: one real function per registered network, each one line over
:func:`keras_resnet.build`, with keras.applications' signature (its eight arguments in its
order, ``name`` included) and this package's variant options as keyword arguments.

They are written out (not generated at import) so that ``help()``, IDEs, type checkers
and the API reference see each of them; tests/arch/test_constructors.py checks that every
registered network has one, with the registry's defaults. (Over 400 lines because there
are 27 networks; each function is its signature, a docstring naming the paper's row and
one call.)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable

from .zoo import build

if TYPE_CHECKING:
    import keras

    from .pretrained.weights import Weights

def _build(arch, include_top, weights, input_tensor, input_shape, pooling, classes,
           classifier_activation, name, options) -> keras.Model:
    return build(arch, include_top=include_top, weights=weights, input_tensor=input_tensor,
                 input_shape=input_shape, pooling=pooling, classes=classes,
                 classifier_activation=classifier_activation, name=name, **options)


def ResNet18(include_top: bool = True, weights: str | os.PathLike | Weights | None = 'imagenet',
             input_tensor: keras.KerasTensor | None = None,
             input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
             classes: int = 1000,
             classifier_activation: str | Callable | None = "softmax",
             name: str = "resnet18", **options: Any) -> keras.Model:
    """ResNet-18: the "18-layer" column of the paper's Table 1, projection shortcuts where
    the shape changes (option B).

    Basic blocks [2, 2, 2, 2], widths [64, 128, 256, 512]; default input (224, 224, 3),
    1000 classes.

    weights defaults to 'imagenet': resnet18.tv_in1k (torchvision IMAGENET1K_V1; torch
    preprocessing, ``preprocess_input(x, weights="resnet18.tv_in1k")``). Pass
    ``weights=None`` for random initialisation.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("resnet18", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def ResNet34(include_top: bool = True, weights: str | os.PathLike | Weights | None = 'imagenet',
             input_tensor: keras.KerasTensor | None = None,
             input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
             classes: int = 1000,
             classifier_activation: str | Callable | None = "softmax",
             name: str = "resnet34", **options: Any) -> keras.Model:
    """ResNet-34: the "34-layer" column of the paper's Table 1, projection shortcuts where
    the shape changes (option B).

    Basic blocks [3, 4, 6, 3], widths [64, 128, 256, 512]; default input (224, 224, 3),
    1000 classes.

    weights defaults to 'imagenet': resnet34.tv_in1k (torchvision IMAGENET1K_V1; torch
    preprocessing, ``preprocess_input(x, weights="resnet34.tv_in1k")``). Pass
    ``weights=None`` for random initialisation.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("resnet34", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def ResNet50(include_top: bool = True, weights: str | os.PathLike | Weights | None = 'imagenet',
             input_tensor: keras.KerasTensor | None = None,
             input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
             classes: int = 1000,
             classifier_activation: str | Callable | None = "softmax",
             name: str = "resnet50", **options: Any) -> keras.Model:
    """ResNet-50: the "50-layer" column of the paper's Table 1, projection shortcuts where
    the shape changes (option B).

    Bottleneck blocks [3, 4, 6, 3], widths [64, 128, 256, 512]; default input (224, 224,
    3), 1000 classes.

    weights defaults to 'imagenet': resnet50.imagenet (the original authors' Caffe
    models; caffe preprocessing, ``preprocess_input(x, weights="resnet50.imagenet")``).
    Pass ``weights=None`` for random initialisation.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("resnet50", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def ResNet101(include_top: bool = True, weights: str | os.PathLike | Weights | None = 'imagenet',
              input_tensor: keras.KerasTensor | None = None,
              input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
              classes: int = 1000,
              classifier_activation: str | Callable | None = "softmax",
              name: str = "resnet101", **options: Any) -> keras.Model:
    """ResNet-101: the "101-layer" column of the paper's Table 1, projection shortcuts
    where the shape changes (option B).

    Bottleneck blocks [3, 4, 23, 3], widths [64, 128, 256, 512]; default input (224,
    224, 3), 1000 classes.

    weights defaults to 'imagenet': resnet101.imagenet (the original authors' Caffe
    models; caffe preprocessing, ``preprocess_input(x, weights="resnet101.imagenet")``).
    Pass ``weights=None`` for random initialisation.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("resnet101", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def ResNet152(include_top: bool = True, weights: str | os.PathLike | Weights | None = 'imagenet',
              input_tensor: keras.KerasTensor | None = None,
              input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
              classes: int = 1000,
              classifier_activation: str | Callable | None = "softmax",
              name: str = "resnet152", **options: Any) -> keras.Model:
    """ResNet-152: the "152-layer" column of the paper's Table 1, projection shortcuts
    where the shape changes (option B).

    Bottleneck blocks [3, 8, 36, 3], widths [64, 128, 256, 512]; default input (224,
    224, 3), 1000 classes.

    weights defaults to 'imagenet': resnet152.imagenet (the original authors' Caffe
    models; caffe preprocessing, ``preprocess_input(x, weights="resnet152.imagenet")``).
    Pass ``weights=None`` for random initialisation.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("resnet152", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def Plain18(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
            input_tensor: keras.KerasTensor | None = None,
            input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
            classes: int = 1000,
            classifier_activation: str | Callable | None = "softmax",
            name: str = "plain18", **options: Any) -> keras.Model:
    """Plain-18: the "18-layer" column of the paper's Table 1 without shortcuts (the
    paper's plain baseline, Table 2).

    Basic blocks [2, 2, 2, 2], widths [64, 128, 256, 512]; default input (224, 224, 3),
    1000 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("plain18", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def Plain34(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
            input_tensor: keras.KerasTensor | None = None,
            input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
            classes: int = 1000,
            classifier_activation: str | Callable | None = "softmax",
            name: str = "plain34", **options: Any) -> keras.Model:
    """Plain-34: the "34-layer" column of the paper's Table 1 without shortcuts (the
    paper's plain baseline, Table 2).

    Basic blocks [3, 4, 6, 3], widths [64, 128, 256, 512]; default input (224, 224, 3),
    1000 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("plain34", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def Plain50(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
            input_tensor: keras.KerasTensor | None = None,
            input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
            classes: int = 1000,
            classifier_activation: str | Callable | None = "softmax",
            name: str = "plain50", **options: Any) -> keras.Model:
    """Plain-50: the "50-layer" column of the paper's Table 1 without shortcuts (the
    paper's plain baseline, Table 1's layout).

    Bottleneck blocks [3, 4, 6, 3], widths [64, 128, 256, 512]; default input (224, 224,
    3), 1000 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("plain50", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def Plain101(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
             input_tensor: keras.KerasTensor | None = None,
             input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
             classes: int = 1000,
             classifier_activation: str | Callable | None = "softmax",
             name: str = "plain101", **options: Any) -> keras.Model:
    """Plain-101: the "101-layer" column of the paper's Table 1 without shortcuts (the
    paper's plain baseline, Table 1's layout).

    Bottleneck blocks [3, 4, 23, 3], widths [64, 128, 256, 512]; default input (224,
    224, 3), 1000 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("plain101", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def Plain152(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
             input_tensor: keras.KerasTensor | None = None,
             input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
             classes: int = 1000,
             classifier_activation: str | Callable | None = "softmax",
             name: str = "plain152", **options: Any) -> keras.Model:
    """Plain-152: the "152-layer" column of the paper's Table 1 without shortcuts (the
    paper's plain baseline, Table 1's layout).

    Bottleneck blocks [3, 8, 36, 3], widths [64, 128, 256, 512]; default input (224,
    224, 3), 1000 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("plain152", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def ResNet18D(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
              input_tensor: keras.KerasTensor | None = None,
              input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
              classes: int = 1000,
              classifier_activation: str | Callable | None = "softmax",
              name: str = "resnet18d", **options: Any) -> keras.Model:
    """ResNet-18-D of He et al. 2019, "Bag of Tricks for Image Classification" (section
    4.2), as timm's resnet18d: deep 3x3 stem 32-32-64, stride on the bottleneck's 3x3, a
    2x2 average pool before each downsampling projection.

    Basic blocks [2, 2, 2, 2], widths [64, 128, 256, 512]; default input (224, 224, 3),
    1000 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("resnet18d", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def ResNet34D(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
              input_tensor: keras.KerasTensor | None = None,
              input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
              classes: int = 1000,
              classifier_activation: str | Callable | None = "softmax",
              name: str = "resnet34d", **options: Any) -> keras.Model:
    """ResNet-34-D of He et al. 2019, "Bag of Tricks for Image Classification" (section
    4.2), as timm's resnet34d: deep 3x3 stem 32-32-64, stride on the bottleneck's 3x3, a
    2x2 average pool before each downsampling projection.

    Basic blocks [3, 4, 6, 3], widths [64, 128, 256, 512]; default input (224, 224, 3),
    1000 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("resnet34d", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def ResNet50D(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
              input_tensor: keras.KerasTensor | None = None,
              input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
              classes: int = 1000,
              classifier_activation: str | Callable | None = "softmax",
              name: str = "resnet50d", **options: Any) -> keras.Model:
    """ResNet-50-D of He et al. 2019, "Bag of Tricks for Image Classification" (section
    4.2), as timm's resnet50d: deep 3x3 stem 32-32-64, stride on the bottleneck's 3x3, a
    2x2 average pool before each downsampling projection.

    Bottleneck blocks [3, 4, 6, 3], widths [64, 128, 256, 512]; default input (224, 224,
    3), 1000 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("resnet50d", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def ResNet101D(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
               input_tensor: keras.KerasTensor | None = None,
               input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
               classes: int = 1000,
               classifier_activation: str | Callable | None = "softmax",
               name: str = "resnet101d", **options: Any) -> keras.Model:
    """ResNet-101-D of He et al. 2019, "Bag of Tricks for Image Classification" (section
    4.2), as timm's resnet101d: deep 3x3 stem 32-32-64, stride on the bottleneck's 3x3,
    a 2x2 average pool before each downsampling projection.

    Bottleneck blocks [3, 4, 23, 3], widths [64, 128, 256, 512]; default input (224,
    224, 3), 1000 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("resnet101d", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def ResNet152D(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
               input_tensor: keras.KerasTensor | None = None,
               input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
               classes: int = 1000,
               classifier_activation: str | Callable | None = "softmax",
               name: str = "resnet152d", **options: Any) -> keras.Model:
    """ResNet-152-D of He et al. 2019, "Bag of Tricks for Image Classification" (section
    4.2), as timm's resnet152d: deep 3x3 stem 32-32-64, stride on the bottleneck's 3x3,
    a 2x2 average pool before each downsampling projection.

    Bottleneck blocks [3, 8, 36, 3], widths [64, 128, 256, 512]; default input (224,
    224, 3), 1000 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("resnet152d", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def ResNet200D(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
               input_tensor: keras.KerasTensor | None = None,
               input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
               classes: int = 1000,
               classifier_activation: str | Callable | None = "softmax",
               name: str = "resnet200d", **options: Any) -> keras.Model:
    """ResNet-200-D of He et al. 2019, "Bag of Tricks for Image Classification" (section
    4.2), as timm's resnet200d: deep 3x3 stem 32-32-64, stride on the bottleneck's 3x3,
    a 2x2 average pool before each downsampling projection.

    Bottleneck blocks [3, 24, 36, 3], widths [64, 128, 256, 512]; default input (224,
    224, 3), 1000 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("resnet200d", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def ResNet20(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
             input_tensor: keras.KerasTensor | None = None,
             input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
             classes: int = 10,
             classifier_activation: str | Callable | None = "softmax",
             name: str = "resnet20", **options: Any) -> keras.Model:
    """ResNet-20: the paper's CIFAR-10 network of section 4.2 with n = 3 (6n+2 layers;
    Table 6), identity shortcuts with zero-padding (option A).

    Basic blocks [3, 3, 3], widths [16, 32, 64]; default input (32, 32, 3), 10 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("resnet20", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def ResNet32(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
             input_tensor: keras.KerasTensor | None = None,
             input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
             classes: int = 10,
             classifier_activation: str | Callable | None = "softmax",
             name: str = "resnet32", **options: Any) -> keras.Model:
    """ResNet-32: the paper's CIFAR-10 network of section 4.2 with n = 5 (6n+2 layers;
    Table 6), identity shortcuts with zero-padding (option A).

    Basic blocks [5, 5, 5], widths [16, 32, 64]; default input (32, 32, 3), 10 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("resnet32", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def ResNet44(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
             input_tensor: keras.KerasTensor | None = None,
             input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
             classes: int = 10,
             classifier_activation: str | Callable | None = "softmax",
             name: str = "resnet44", **options: Any) -> keras.Model:
    """ResNet-44: the paper's CIFAR-10 network of section 4.2 with n = 7 (6n+2 layers;
    Table 6), identity shortcuts with zero-padding (option A).

    Basic blocks [7, 7, 7], widths [16, 32, 64]; default input (32, 32, 3), 10 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("resnet44", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def ResNet56(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
             input_tensor: keras.KerasTensor | None = None,
             input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
             classes: int = 10,
             classifier_activation: str | Callable | None = "softmax",
             name: str = "resnet56", **options: Any) -> keras.Model:
    """ResNet-56: the paper's CIFAR-10 network of section 4.2 with n = 9 (6n+2 layers;
    Table 6), identity shortcuts with zero-padding (option A).

    Basic blocks [9, 9, 9], widths [16, 32, 64]; default input (32, 32, 3), 10 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("resnet56", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def ResNet110(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
              input_tensor: keras.KerasTensor | None = None,
              input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
              classes: int = 10,
              classifier_activation: str | Callable | None = "softmax",
              name: str = "resnet110", **options: Any) -> keras.Model:
    """ResNet-110: the paper's CIFAR-10 network of section 4.2 with n = 18 (6n+2 layers;
    Table 6), identity shortcuts with zero-padding (option A).

    Basic blocks [18, 18, 18], widths [16, 32, 64]; default input (32, 32, 3), 10
    classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("resnet110", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def ResNet1202(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
               input_tensor: keras.KerasTensor | None = None,
               input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
               classes: int = 10,
               classifier_activation: str | Callable | None = "softmax",
               name: str = "resnet1202", **options: Any) -> keras.Model:
    """ResNet-1202: the paper's CIFAR-10 network of section 4.2 with n = 200 (6n+2 layers;
    Table 6) (section 4.2, 'Exploring over 1000 layers'), identity shortcuts with zero-
    padding (option A).

    Basic blocks [200, 200, 200], widths [16, 32, 64]; default input (32, 32, 3), 10
    classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("resnet1202", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def Plain20(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
            input_tensor: keras.KerasTensor | None = None,
            input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
            classes: int = 10,
            classifier_activation: str | Callable | None = "softmax",
            name: str = "plain20", **options: Any) -> keras.Model:
    """Plain-20: the plain CIFAR-10 network of section 4.2 with n = 3 (Figure 6, left).

    Basic blocks [3, 3, 3], widths [16, 32, 64]; default input (32, 32, 3), 10 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("plain20", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def Plain32(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
            input_tensor: keras.KerasTensor | None = None,
            input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
            classes: int = 10,
            classifier_activation: str | Callable | None = "softmax",
            name: str = "plain32", **options: Any) -> keras.Model:
    """Plain-32: the plain CIFAR-10 network of section 4.2 with n = 5 (Figure 6, left).

    Basic blocks [5, 5, 5], widths [16, 32, 64]; default input (32, 32, 3), 10 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("plain32", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def Plain44(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
            input_tensor: keras.KerasTensor | None = None,
            input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
            classes: int = 10,
            classifier_activation: str | Callable | None = "softmax",
            name: str = "plain44", **options: Any) -> keras.Model:
    """Plain-44: the plain CIFAR-10 network of section 4.2 with n = 7 (Figure 6, left).

    Basic blocks [7, 7, 7], widths [16, 32, 64]; default input (32, 32, 3), 10 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("plain44", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def Plain56(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
            input_tensor: keras.KerasTensor | None = None,
            input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
            classes: int = 10,
            classifier_activation: str | Callable | None = "softmax",
            name: str = "plain56", **options: Any) -> keras.Model:
    """Plain-56: the plain CIFAR-10 network of section 4.2 with n = 9 (Figure 6, left).

    Basic blocks [9, 9, 9], widths [16, 32, 64]; default input (32, 32, 3), 10 classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("plain56", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)


def Plain110(include_top: bool = True, weights: str | os.PathLike | Weights | None = None,
             input_tensor: keras.KerasTensor | None = None,
             input_shape: tuple[int | None, ...] | None = None, pooling: str | None = None,
             classes: int = 10,
             classifier_activation: str | Callable | None = "softmax",
             name: str = "plain110", **options: Any) -> keras.Model:
    """Plain-110: the plain CIFAR-10 network of section 4.2 with n = 18 (Figure 6, left).

    Basic blocks [18, 18, 18], widths [16, 32, 64]; default input (32, 32, 3), 10
    classes.

    Arguments, return value and errors: :func:`keras_resnet.build` (keras.applications'
    eight arguments in its order, then the variant options as keywords).
    """
    return _build("plain110", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation, name, options)
