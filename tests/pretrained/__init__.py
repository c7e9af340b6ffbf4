"""Tests of keras_resnet's pretrained part."""
