"""The folder ``plugins/`` installs as the package ``nanoaid_plugins``.

pyproject.toml cannot rename a discovered package tree, so this file maps it; everything else
lives in pyproject.toml.
"""
from setuptools import find_packages, setup

plugin_packages = [
    "nanoaid_plugins" + name[len("plugins"):]
    for name in find_packages(include=["plugins", "plugins.*"])
]
setup(
    packages=find_packages(include=["nanoaid_daemon", "nanoaid_daemon.*"]) + plugin_packages,
    package_dir={"nanoaid_plugins": "plugins"},
)
