"""JEOL SEM images with their ``.txt`` sidecar (``$CM_…`` / ``$$SM_…`` lines)."""
from nanoaid_daemon.plugins import PluginManifest

__all__ = ["MANIFEST"]

MANIFEST = PluginManifest(
    name="jeol",
    kind="reader",
    api_version="1.0",
    version="1.0.0",
    description="JEOL image + .txt sidecar ($KEY value lines): pixel size from the micron marker.",
    factory="nanoaid_plugins.reader_jeol._api:create",
    handles=[".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp"],
    order=100,
)
