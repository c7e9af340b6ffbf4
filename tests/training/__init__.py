"""Tests of keras_resnet's training part."""
