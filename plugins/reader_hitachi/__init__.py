"""Hitachi SEM images with their ``[SemImageFile]`` ``.txt`` sidecar (UTF-16LE or ANSI)."""
from nanoaid_daemon.plugins import PluginManifest

__all__ = ["MANIFEST"]

MANIFEST = PluginManifest(
    name="hitachi",
    kind="reader",
    api_version="1.0",
    version="1.0.0",
    description="Hitachi image + [SemImageFile] .txt sidecar paired by file stem; databar below DataSize.",
    factory="nanoaid_plugins.reader_hitachi._api:create",
    handles=[".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp"],
    order=100,
)
