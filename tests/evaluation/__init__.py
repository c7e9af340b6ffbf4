"""Tests of keras_resnet's evaluation part."""
