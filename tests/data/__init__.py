"""Tests of keras_resnet's data part."""
