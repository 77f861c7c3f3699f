"""The package's map for newcomers (the "rooms" docstring) names every module it has."""
from __future__ import annotations

import pkgutil
from pathlib import Path

import nanoaid_daemon


def test_every_folder_of_code_is_a_package_so_the_wheel_carries_it():
    """setup.py's find_packages() leaves out a folder without __init__.py: it would be missing from the wheel."""
    root = Path(nanoaid_daemon.__file__).parent
    folders = {p.parent for p in root.rglob("*.py")} - {root}
    missing = sorted(str(f.relative_to(root)) for f in folders if not (f / "__init__.py").is_file())
    assert not missing, f"add an __init__.py (with a docstring) to: {missing}"


def test_rooms_docstring_names_every_module_and_subpackage():
    doc = nanoaid_daemon.__doc__ or ""
    names = [m.name + ("/" if m.ispkg else "") for m in pkgutil.iter_modules(nanoaid_daemon.__path__)]
    missing = [name for name in names if f"``{name}``" not in doc and f"``{name.rstrip('/')}``" not in doc]
    assert not missing, f"add these to the rooms in nanoaid_daemon/__init__.py: {missing}"
