"""Tests of keras_resnet's arch part."""
