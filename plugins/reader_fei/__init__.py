"""Thermo Fisher Scientific / FEI TIFFs (INI header in tag 34682/34680, XML in 34683)."""
from nanoaid_daemon.plugins import PluginManifest

__all__ = ["MANIFEST"]

MANIFEST = PluginManifest(
    name="fei",
    kind="reader",
    api_version="1.0",
    version="1.0.0",
    description="Thermo Fisher / FEI TIFF (INI tag 34682, XML tag 34683): SI units, databar from ResolutionY.",
    factory="nanoaid_plugins.reader_fei._api:create",
    handles=[".tif", ".tiff"],
    order=100,
)
