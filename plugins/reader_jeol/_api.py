"""JEOL reader: an image (TIFF / PNG / JPEG / BMP) with its ``$KEY value`` ``.txt`` sidecar."""
from __future__ import annotations

from nanoaid_daemon.metadata import Instrument
from nanoaid_daemon.plugins import PluginContext
from nanoaid_daemon.readkit import MetadataBuilder, SidecarImageReader, parse_dollar_lines

from ._jeol import full_size, jeol_instrument, looks_like_jeol

__all__ = ["create", "JeolReader"]


def create(ctx: PluginContext) -> JeolReader:
    return JeolReader()


class JeolReader(SidecarImageReader):
    vendor = "JEOL"

    def matches(self, text: str) -> bool:
        return looks_like_jeol(text)

    def parse(self, text: str) -> dict[str, str]:
        return parse_dollar_lines(text)

    def instrument(self, header: dict[str, str], builder: MetadataBuilder, width: int) -> Instrument:
        return jeol_instrument(header, builder, width)

    def image_rows(self, header: dict[str, str], width: int) -> int | None:
        """The scan is ``$CM_FULL_SIZE``; rows below it in a same-width image are the databar."""
        scan = full_size(header)
        return scan[1] if scan and scan[0] == width else None
