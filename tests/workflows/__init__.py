"""Pipelines over run directories: a folder of photos end to end."""
