"""Zeiss SmartSEM TIFFs (tag 34118 ``CZ_SEM``), single- and multi-page."""
from nanoaid_daemon.plugins import PluginManifest

__all__ = ["MANIFEST"]

MANIFEST = PluginManifest(
    name="zeiss",
    kind="reader",
    api_version="1.0",
    version="1.1.0",
    description="Zeiss SmartSEM TIFF (tag 34118) and ORION helium-ion TIFF (XML tag 65000): per-page metadata.",
    factory="nanoaid_plugins.reader_zeiss._api:create",
    handles=[".tif", ".tiff"],
    order=100,
)
