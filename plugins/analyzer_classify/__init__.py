"""Classification analyzer: the 10 calibrated NFFA class scores and the operator decision."""
from nanoaid_daemon.plugins import PluginManifest

__all__ = ["MANIFEST"]

MANIFEST = PluginManifest(
    name="classify",
    kind="analyzer",
    api_version="1.0",
    version="1.0.0",
    description="NFFA class scores, label and accepted/review/unknown decision from the ONNX classifier.",
    factory="nanoaid_plugins.analyzer_classify._api:create",
    section="classification",
    order=10,
)
