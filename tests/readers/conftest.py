"""Fixtures for the reader tests: the plugin host as the daemon loads it, and unpacked shared files."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from nanoaid_daemon.config import Settings
from nanoaid_daemon.host import PluginHost


@pytest.fixture(scope="session")
def host() -> PluginHost:
    """Readers discovered through the entry points, exactly as the daemon finds them."""
    loaded = PluginHost.load(Settings(), kinds=("reader",))
    names = {p.manifest.name for p in loaded.readers}
    missing = {"generic", "zeiss", "fei", "tescan", "jeol", "hitachi"} - names
    assert not missing, f"reader plugins not installed: {missing} (run pip install -e .)"
    return loaded


@pytest.fixture(scope="session")
def zeiss_multipage(real_sem: Path, tmp_path_factory) -> Path:
    """The gzipped multipage Zeiss file, unpacked into a temporary folder (never into the repo)."""
    target = tmp_path_factory.mktemp("zeiss") / "ZEISS_SEM_multipage.tif"
    with gzip.open(real_sem / "rosettasciio" / "ZEISS_SEM_multipage.tif.gz", "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return target
