"""Kept for the original's layout and for tools that look for a setup.py: all metadata and
dependencies are in pyproject.toml (PEP 621). Install with `make install` (docs/INSTALL.md)."""
from setuptools import setup

setup()
