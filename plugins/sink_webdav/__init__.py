"""WebDAV shares (a NAS, an institutional file service, Nextcloud) over plain HTTP(S)."""
from nanoaid_daemon.plugins import PluginManifest

__all__ = ["MANIFEST"]

MANIFEST = PluginManifest(
    name="webdav",
    kind="sink",
    api_version="1.0",
    version="1.0.0",
    description="WebDAV share (NAS, institutional storage); OCFL objects under a collection.",
    factory="nanoaid_plugins.sink_webdav._api:create",
    handles=["webdav", "webdavs", "dav", "davs"],
)
