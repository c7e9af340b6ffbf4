"""keras.applications' module layout, for code that imports a family module.

``from keras.applications.resnet import ResNet50, preprocess_input, decode_predictions``
becomes ``from keras_resnet.applications.resnet import ...`` and means the same: each
module's ``preprocess_input(x, data_format=None)`` applies the preprocessing that the
module's ``weights="imagenet"`` expect, as keras.applications' module of that name does.

=================  ==========================  ============================================
module             constructors                ``preprocess_input`` (the weights' mode)
=================  ==========================  ============================================
``resnet``         ResNet50, 101, 152          Caffe (keras.applications' weights)
``resnet50``       ResNet50                    Caffe
``resnet18``       ResNet18                    torch (torchvision's weights)
``resnet34``       ResNet34                    torch (torchvision's weights)
``imagenet_utils``  --                         any mode; Caffe by default
=================  ==========================  ============================================

The plain nets and the CIFAR nets have no ImageNet weights and no module here; use
``keras_resnet.preprocess_input`` (Caffe by default, ``weights=`` a registry tag).
"""

__all__ = ["imagenet_utils", "resnet", "resnet18", "resnet34", "resnet50"]
