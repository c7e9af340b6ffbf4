"""Tests of keras_resnet's deploy part."""
