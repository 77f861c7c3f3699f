"""S3-compatible object storage (AWS S3, MinIO, Ceph RGW, ...) through boto3."""
from nanoaid_daemon.plugins import PluginManifest

__all__ = ["MANIFEST"]

MANIFEST = PluginManifest(
    name="s3",
    kind="sink",
    api_version="1.0",
    version="1.0.0",
    description="S3-compatible object storage (boto3; install the 'upload' extra); OCFL objects under a prefix.",
    factory="nanoaid_plugins.sink_s3._api:create",
    handles=["s3"],
)
