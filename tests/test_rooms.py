"""The package's map for newcomers (the "rooms" docstring) names every module it has."""
from __future__ import annotations

import pkgutil

import nanoaid_daemon


def test_rooms_docstring_names_every_module_and_subpackage():
    doc = nanoaid_daemon.__doc__ or ""
    names = [m.name + ("/" if m.ispkg else "") for m in pkgutil.iter_modules(nanoaid_daemon.__path__)]
    missing = [name for name in names if f"``{name}``" not in doc and f"``{name.rstrip('/')}``" not in doc]
    assert not missing, f"add these to the rooms in nanoaid_daemon/__init__.py: {missing}"
