"""Fallback reader for plain TIFF, PNG and JPEG exports with no vendor metadata."""
from nanoaid_daemon.plugins import PluginManifest

__all__ = ["MANIFEST"]

MANIFEST = PluginManifest(
    name="generic",
    kind="reader",
    version="1.0.0",
    description="Plain TIFF / PNG / JPEG (no vendor metadata); the fallback for any image.",
    factory="nanoaid_plugins.reader_generic._api:create",
    handles=[".tif", ".tiff", ".png", ".jpg", ".jpeg"],
    order=1000,
)
