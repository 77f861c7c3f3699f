"""Two folders install under package names: ``plugins/`` as ``nanoaid_plugins`` and ``models/`` as
``nanoaid_models`` (the shipped ONNX models and their cards, found at run time through
``importlib.resources``, so a normal non-editable install carries them).

pyproject.toml cannot rename a discovered package tree, so this file maps them; everything else
lives in pyproject.toml.
"""
from setuptools import find_packages, setup

plugin_packages = [
    "nanoaid_plugins" + name[len("plugins"):]
    for name in find_packages(include=["plugins", "plugins.*"])
]
setup(
    packages=find_packages(include=["nanoaid_daemon", "nanoaid_daemon.*"]) + plugin_packages + ["nanoaid_models"],
    package_dir={"nanoaid_plugins": "plugins", "nanoaid_models": "models"},
)
