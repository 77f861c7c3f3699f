"""TESCAN images: block container in TIFF tag 50431 and/or the ``.hdr`` INI sidecar."""
from nanoaid_daemon.plugins import PluginManifest

__all__ = ["MANIFEST"]

MANIFEST = PluginManifest(
    name="tescan",
    kind="reader",
    api_version="1.0",
    version="1.0.0",
    description="TESCAN TIFF (tag 50431 blocks) or any image with a TESCAN .hdr sidecar; info strip as databar.",
    factory="nanoaid_plugins.reader_tescan._api:create",
    handles=[".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp"],
    order=100,
)
