"""Pretrained weights: the registry, verified downloads and converters."""
