"""Hitachi reader: an image with the ``[SemImageFile]`` ``.txt`` sidecar of the same stem."""
from __future__ import annotations

from nanoaid_daemon.metadata import Instrument
from nanoaid_daemon.plugins import PluginContext
from nanoaid_daemon.readkit import MetadataBuilder, SidecarImageReader, parse_ini

from ._hitachi import data_size, hitachi_instrument, looks_like_hitachi

__all__ = ["create", "HitachiReader"]


def create(ctx: PluginContext) -> HitachiReader:
    return HitachiReader()


class HitachiReader(SidecarImageReader):
    """Pairs by file stem: the sidecar's ``ImageName`` may name a file since renamed."""

    vendor = "Hitachi"

    def matches(self, text: str) -> bool:
        return looks_like_hitachi(text)

    def parse(self, text: str) -> dict[str, dict[str, str]]:
        return parse_ini(text)

    def instrument(self, header, builder: MetadataBuilder, width: int) -> Instrument:
        return hitachi_instrument(header, builder, width)

    def image_rows(self, header, width: int) -> int | None:
        size = data_size(header)
        return size[1] if size and size[0] == width else None
