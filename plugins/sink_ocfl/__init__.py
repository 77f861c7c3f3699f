"""The embedded default sink: an OCFL 1.1 storage root on a local disk or a NAS mount."""
from nanoaid_daemon.plugins import PluginManifest

__all__ = ["MANIFEST"]

MANIFEST = PluginManifest(
    name="ocfl",
    kind="sink",
    api_version="1.0",
    version="1.0.0",
    description="OCFL 1.1 storage root on a local disk or NAS mount (each frame an object, corrections as versions).",
    factory="nanoaid_plugins.sink_ocfl._api:create",
    handles=["file", "ocfl"],
)
