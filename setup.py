"""The one C extension (everything else is in pyproject.toml): optional, so an install
without a C compiler still works on the Python path (rules.text.normalize._prepare)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("rules.text._prepare", ["rules/text/_prepare.c"], optional=True)])
