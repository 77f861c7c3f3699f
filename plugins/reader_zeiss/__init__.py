"""Zeiss SmartSEM TIFFs (tag 34118 ``CZ_SEM``), single- and multi-page."""
from nanoaid_daemon.plugins import PluginManifest

__all__ = ["MANIFEST"]

MANIFEST = PluginManifest(
    name="zeiss",
    kind="reader",
    api_version="1.0",
    version="1.0.0",
    description="Zeiss SmartSEM TIFF (tag 34118): per-page metadata, true pixel size, data zone.",
    factory="nanoaid_plugins.reader_zeiss._api:create",
    handles=[".tif", ".tiff"],
    order=100,
)
