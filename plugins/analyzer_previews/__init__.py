"""Preview analyzer: thumbnail, class-evidence map and AI-lens montage as small PNG files."""
from nanoaid_daemon.plugins import PluginManifest

__all__ = ["MANIFEST"]

MANIFEST = PluginManifest(
    name="previews",
    kind="analyzer",
    api_version="1.0",
    version="1.0.0",
    description="Thumbnail, class activation map and autoencoder AI-lens montage (PNG beside the sidecar).",
    factory="nanoaid_plugins.analyzer_previews._api:create",
    section="previews",
    order=30,
)
