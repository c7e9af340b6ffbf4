"""Tests of keras_resnet's tasks part."""
