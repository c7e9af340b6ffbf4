"""Package data: the weights registry (registry.json) and small weights trained here.

Installed as ``keras_resnet.weights``; this folder is the source of truth."""
