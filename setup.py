"""The folders serving/ and console/ install as kanri.serving and kanri.console.

Top-level names as short as `serving` and `console` are taken on PyPI (a
`console` distribution ships console/cli.py, which would shadow kanri's), so
the installed names live under `kanri`, a namespace package no other folder
of this repository fills. pyproject.toml holds everything else; only this
mapping of every subpackage needs code.
"""

from setuptools import find_namespace_packages, setup

FOLDERS = ("serving", "console")

# Namespace packages too: folders of data without __init__.py (the registry's migrations) ship as well.
PACKAGES = find_namespace_packages(include=[f"{folder}*" for folder in FOLDERS], exclude=["*__pycache__"])

setup(
    packages=[f"kanri.{package}" for package in PACKAGES],
    package_dir={f"kanri.{folder}": folder for folder in FOLDERS},
)
