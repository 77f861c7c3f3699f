"""Plugin discovery through real entry points: a broken plugin is disabled and explained, never fatal."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from nanoaid_daemon.config import Settings
from nanoaid_daemon.host import PluginHost
from nanoaid_daemon.plugins import DiscoveredPlugin, PluginManifest, discover


def _install_fake_distribution(site, name, entry_points: dict[str, str], modules: dict[str, str]):
    dist = site / f"{name}-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    eps = "[nanoaid.plugins]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (dist / "entry_points.txt").write_text(eps)
    for mod, src in modules.items():
        (site / f"{mod}.py").write_text(textwrap.dedent(src))


@pytest.fixture
def third_party(tmp_path):
    site = tmp_path / "site"
    _install_fake_distribution(
        site,
        "thirdparty",
        {
            "good": "tp_good:MANIFEST",
            "badmanifest": "tp_bad:MANIFEST",
            "crashing": "tp_missing_module:MANIFEST",
            "badfactory": "tp_badfactory:MANIFEST",
        },
        {
            "tp_good": """
                class Reader:
                    def sniff(self, probe): return 0
                    def read(self, path): raise ValueError
                MANIFEST = {"name": "tp-good", "kind": "reader", "version": "1", "description": "ok",
                            "factory": "tp_good:create"}
                def create(ctx): return Reader()
            """,
            "tp_bad": """MANIFEST = {"name": "Bad Name!", "kind": "reader", "version": "1", "description": "x",
                                     "factory": "tp_bad:create"}""",
            "tp_badfactory": """
                MANIFEST = {"name": "tp-badfactory", "kind": "analyzer", "version": "1", "description": "x",
                            "factory": "tp_badfactory:create"}
                def create(ctx): raise RuntimeError("needs a licence server")
            """,
        },
    )
    return site


def _cli(site, *args):
    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.run([sys.executable, "-m", "nanoaid_daemon.cli", *args], capture_output=True, text=True, env=env)


def test_plugins_list_shows_broken_ones_with_reasons_and_still_exits_0(third_party):
    out = _cli(third_party, "plugins", "list")
    assert out.returncode == 0
    assert "tp-good" in out.stdout and "generic" in out.stdout
    assert "BROKEN" in out.stdout and "invalid manifest" in out.stdout
    assert "tp_missing_module" in out.stdout and "ModuleNotFoundError" in out.stdout


def test_plugins_validate_exits_1_with_the_reason(third_party):
    bad = _cli(third_party, "plugins", "validate", "tp-badfactory")
    assert bad.returncode == 1 and "needs a licence server" in bad.stdout
    worse = _cli(third_party, "plugins", "validate", "badmanifest")
    assert worse.returncode == 1 and "INVALID" in worse.stdout
    good = _cli(third_party, "plugins", "validate", "tp-good")
    assert good.returncode == 0 and "OK" in good.stdout


def test_host_disables_a_plugin_whose_factory_raises():
    manifest = PluginManifest(name="boom", kind="reader", version="1", description="x",
                              factory="nanoaid_daemon.errors:NoSuchThing")
    generic = next(p for p in discover() if p.manifest and p.manifest.name == "generic")
    host = PluginHost.load(Settings(), discovered=[DiscoveredPlugin("boom = x", manifest), generic])
    assert "boom" in host.disabled and "cannot import factory" in host.disabled["boom"]
    assert [p.manifest.name for p in host.readers] == ["generic"]


def test_disabled_setting_keeps_a_plugin_unloaded():
    from nanoaid_daemon.config import load_settings

    host = PluginHost.load(load_settings(None, {"plugins": {"disabled": ["generic"]}}))
    assert all(p.manifest.name != "generic" for p in host.readers)
