"""The folders serving/ and console/ install as kanri.serving and kanri.console.

Top-level names as short as `serving` and `console` are taken on PyPI (a
`console` distribution ships console/cli.py, which would shadow kanri's), so
the installed names live under `kanri`, a namespace package no other folder
of this repository fills. pyproject.toml holds everything else; only this
mapping of every subpackage needs code.
"""

from setuptools import find_packages, setup

FOLDERS = ("serving", "console")

setup(
    packages=[f"kanri.{package}" for package in find_packages(include=[f"{folder}*" for folder in FOLDERS])],
    package_dir={f"kanri.{folder}": folder for folder in FOLDERS},
)
