"""The typed plugin contract: api_version checks, per-kind manifests, required methods, host-stamped names."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from nanoaid_daemon import inference
from nanoaid_daemon.config import Settings
from nanoaid_daemon.host import PluginHost
from nanoaid_daemon.plugins import (
    PLUGIN_API_VERSION,
    REQUIRED_METHODS,
    DiscoveredPlugin,
    PluginManifest,
    Sink,
    api_check,
    discover,
)
from nanoaid_daemon.uploader.sinks import Unconfigured, build_sink

REPO = Path(__file__).resolve().parent.parent
BASE = {"version": "1", "description": "x", "factory": "nanoaid_daemon.errors:ConfigError"}


def _manifest(**fields) -> PluginManifest:
    return PluginManifest.model_validate({**BASE, **fields})


def test_host_api_version_is_major_dot_minor_and_first_party_plugins_declare_it():
    major, minor = PLUGIN_API_VERSION.split(".")
    assert major.isdigit() and minor.isdigit()
    ours = [d.manifest for d in discover()
            if d.manifest and d.entry_point.split(" = ")[1].startswith("nanoaid_plugins")]
    assert len(ours) >= 12 and all(m.api_version == PLUGIN_API_VERSION for m in ours)


def test_api_check_refuses_another_major_and_warns_on_a_newer_minor():
    major, minor = (int(p) for p in PLUGIN_API_VERSION.split("."))
    error, warning = api_check(_manifest(name="future", kind="reader", api_version=f"{major + 1}.0"))
    assert error and f"{major + 1}.0" in error and PLUGIN_API_VERSION in error and warning is None
    error, warning = api_check(_manifest(name="newer", kind="reader", api_version=f"{major}.{minor + 1}"))
    assert error is None and warning and "upgrade nanoaid" in warning
    assert api_check(_manifest(name="same", kind="reader", api_version=PLUGIN_API_VERSION)) == (None, None)
    assert _manifest(name="legacy", kind="reader").api_version == "1.0", "manifests from before api_version load"


@pytest.mark.parametrize("fields, reason", [
    ({"kind": "analyzer", "section": "x", "handles": [".tif"]}, "has no 'handles'"),
    ({"kind": "reader", "section": "classification"}, "has no 'section'"),
    ({"kind": "reader", "handles": ["tif"]}, "suffixes with a dot"),
    ({"kind": "reader", "handles": [".TIF"]}, "suffixes with a dot"),
    ({"kind": "sink"}, "must list the URL schemes"),
    ({"kind": "sink", "handles": ["s3://"]}, "without '://'"),
    ({"kind": "reader", "api_version": "one"}, "api_version"),
])
def test_manifest_is_validated_for_its_kind(fields, reason):
    with pytest.raises(ValidationError, match=reason):
        _manifest(name="p", **fields)


def test_valid_manifests_of_each_kind_pass():
    assert _manifest(name="ext", kind="analyzer").section is None  # its result goes to extensions.ext
    assert _manifest(name="r", kind="reader", handles=[".tif", ".tiff"]).handles == [".tif", ".tiff"]
    assert _manifest(name="s", kind="sink", handles=["s3", "webdavs"]).kind == "sink"


def test_sink_protocol_declares_every_method_the_uploader_calls():
    assert set(REQUIRED_METHODS["sink"]) == {"describe", "check", "put", "close"}
    for name in REQUIRED_METHODS["sink"]:
        assert callable(getattr(Sink, name))
    assert isinstance(Unconfigured("x", "hint"), Sink)


def test_every_first_party_sink_meets_the_protocol(tmp_path):
    _, sink = build_sink(str(tmp_path / "archive"), Settings(), archive=True)
    assert isinstance(sink, Sink) and "OCFL" in sink.describe()
    sink.close()


def test_reader_name_is_stamped_by_the_host_from_its_manifest(real_sem):
    host = PluginHost.load(Settings())
    result = host.read(real_sem / "rosettasciio" / "test_tiff_Zeiss_SEM_1k.tif")
    assert result.reader == "zeiss"
    zeiss = next(p for p in host.readers if p.manifest.name == "zeiss")
    assert zeiss.obj.read(real_sem / "rosettasciio" / "test_tiff_Zeiss_SEM_1k.tif").reader == "", \
        "readers leave the name to the host"


def test_host_disables_a_plugin_object_that_lacks_a_required_method():
    manifest = PluginManifest(name="halfreader", kind="reader", version="1", description="x",
                              factory="nanoaid_daemon.config:Settings")  # any callable returning an object
    host = PluginHost.load(Settings(), discovered=[DiscoveredPlugin("halfreader = x", manifest)])
    assert "sniff(), read()" in host.disabled["halfreader"] and not host.readers


def test_load_runtime_is_public_and_the_old_private_name_still_works():
    from nanoaid_daemon.daemon import _default_runtime_factory

    assert "load_runtime" in inference.__all__
    runtime = _default_runtime_factory(Settings())
    try:
        assert isinstance(runtime, inference.Runtime)
    finally:
        runtime.close()


def _site_with(tmp_path: Path, modules: dict[str, str]) -> Path:
    site = tmp_path / "site"
    dist = site / "tpapi-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tpapi\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[nanoaid.plugins]\n" + "".join(f"{m} = {m}:MANIFEST\n" for m in modules))
    for mod, src in modules.items():
        (site / f"{mod}.py").write_text(textwrap.dedent(src))
    return site


def test_plugins_validate_explains_an_unknown_major_and_warns_on_a_newer_minor(tmp_path):
    major, minor = (int(p) for p in PLUGIN_API_VERSION.split("."))
    reader = """
        class Reader:
            def sniff(self, probe): return 0
            def read(self, path): raise ValueError
        def create(ctx): return Reader()
        MANIFEST = {{"name": "{name}", "kind": "reader", "version": "1", "description": "x",
                    "factory": "{name}:create", "api_version": "{api}"}}
    """
    site = _site_with(tmp_path, {"tpfuture": reader.format(name="tpfuture", api=f"{major + 1}.0"),
                                 "tpnewer": reader.format(name="tpnewer", api=f"{major}.{minor + 1}")})
    env = dict(os.environ, PYTHONPATH=str(site))

    def validate(name):
        return subprocess.run([sys.executable, "-m", "nanoaid_daemon.cli", "plugins", "validate", name],
                              capture_output=True, text=True, env=env, cwd=REPO)

    future = validate("tpfuture")
    assert future.returncode == 1 and "INVALID" in future.stdout
    assert f"targets plugin API {major + 1}.0" in future.stdout
    newer = validate("tpnewer")
    assert newer.returncode == 0 and "warning" in newer.stdout and "OK" in newer.stdout
