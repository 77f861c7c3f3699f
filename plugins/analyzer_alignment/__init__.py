"""Alignment analyzer: OrientationJ structure-tensor measures plus the classifier's learned score."""
from nanoaid_daemon.plugins import PluginManifest

__all__ = ["MANIFEST"]

MANIFEST = PluginManifest(
    name="alignment",
    kind="analyzer",
    api_version="1.0",
    version="1.1.0",
    description="Coherency, dominant orientation, orientation histogram and aligned fraction (structure tensor).",
    factory="nanoaid_plugins.analyzer_alignment._api:create",
    section="alignment",
    order=20,
)
