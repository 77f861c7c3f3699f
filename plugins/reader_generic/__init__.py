"""Fallback reader for plain TIFF, PNG, JPEG and BMP exports with no vendor metadata."""
from nanoaid_daemon.plugins import PluginManifest

__all__ = ["MANIFEST"]

MANIFEST = PluginManifest(
    name="generic",
    kind="reader",
    api_version="1.0",
    version="1.0.0",
    description="Plain TIFF / PNG / JPEG / BMP: ImageJ or physical-unit calibration, detected databar.",
    factory="nanoaid_plugins.reader_generic._api:create",
    handles=[".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp"],
    order=1000,
)
