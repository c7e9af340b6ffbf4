"""Tests of keras_resnet's cli part."""
