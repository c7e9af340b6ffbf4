"""Tests of keras_resnet's compat part."""
