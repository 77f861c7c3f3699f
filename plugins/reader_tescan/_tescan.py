"""TESCAN metadata: the block container of TIFF tag 50431, the ``.hdr`` sidecar, and their mapping.

Tag 50431 is a series of blocks, each ``uint32 length`` (little-endian) followed by ``length``
bytes that start with a ``uint16 type``: 1 = JPEG 2000 thumbnail, 2 = the MAIN section and 3 =
the SEM section as NUL-terminated ``key=value`` text without a ``[section]`` line; type 0 (or the
end of the data) ends the list. The ``.hdr`` sidecar holds the same sections as INI text.
Units as stored: volts, metres, amperes, seconds, pascals, degrees.
"""
from __future__ import annotations

from nanoaid_daemon.errors import ReaderError
from nanoaid_daemon.metadata import Instrument
from nanoaid_daemon.readkit import MetadataBuilder, UnitError, decode_text, ini_get, parse_ini, parse_number

__all__ = ["TESCAN_TAG", "parse_blocks", "block_sections", "merge_sections", "tescan_instrument", "strip_rows"]

TESCAN_TAG = 50431
_SECTION_OF_TYPE = {2: "MAIN", 3: "SEM"}
_THUMBNAIL = 1
_MAX_BLOCKS = 4096
_DATES = ("%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y", "%Y/%m/%d")


def parse_blocks(data: bytes, path=None) -> list[tuple[int, bytes]]:
    """(type, payload) of each block; a length that does not fit the data raises ReaderError."""
    blocks: list[tuple[int, bytes]] = []
    offset, size = 0, len(data)
    while offset < size:
        if not data[offset:].strip(b"\x00"):
            break  # trailing padding
        if size - offset < 6:
            raise ReaderError(f"TESCAN block header at byte {offset} is cut short", path=path,
                              code="corrupt_metadata")
        length = int.from_bytes(data[offset:offset + 4], "little")
        if length < 2 or length > size - offset - 4:
            raise ReaderError(f"TESCAN block at byte {offset} declares {length} bytes but "
                              f"{size - offset - 4} remain", path=path, code="corrupt_metadata")
        block_type = int.from_bytes(data[offset + 4:offset + 6], "little")
        if block_type == 0:
            break
        blocks.append((block_type, data[offset + 6:offset + 4 + length]))
        if len(blocks) > _MAX_BLOCKS:
            raise ReaderError("TESCAN tag holds more blocks than any header has", path=path,
                              code="corrupt_metadata")
        offset += 4 + length
    return blocks


def block_sections(blocks: list[tuple[int, bytes]]) -> dict[str, dict[str, str]]:
    """Text blocks → {"MAIN": {...}, "SEM": {...}}; unknown text blocks as ``BLOCK<type>``."""
    sections: dict[str, dict[str, str]] = {}
    for block_type, payload in blocks:
        if block_type == _THUMBNAIL:
            continue
        name = _SECTION_OF_TYPE.get(block_type, f"BLOCK{block_type}")
        text = decode_text(payload.split(b"\x00", 1)[0])
        parsed = parse_ini(text, default_section=name)
        for section, values in parsed.items():
            if values:
                sections.setdefault(section, {}).update(values)
    return sections


def merge_sections(primary: dict[str, dict[str, str]], extra: dict[str, dict[str, str]]) -> dict:
    """``primary`` with sections and keys only ``extra`` has added (the embedded header wins)."""
    merged = {name: dict(values) for name, values in primary.items()}
    for name, values in extra.items():
        target = merged.setdefault(name, {})
        for key, value in values.items():
            target.setdefault(key, value)
    return merged


def tescan_instrument(s: dict[str, dict[str, str]], b: MetadataBuilder, width: int) -> Instrument:
    def m(key: str) -> str | None:
        return ini_get(s, "MAIN", key)

    beam = "SEM" if "SEM" in s or "FIB" not in s else "FIB"

    def e(key: str) -> str | None:
        return ini_get(s, beam, key)

    b.text("model", m("Device"))
    b.text("serial", m("SerialNumber"))
    b.text("software", m("SoftwareVersion"))
    b.text("operator", m("UserName"))
    b.text("operator", m("FullUserName"))
    b.text("detector", e("Detector"))
    b.text("detector", e("Detector0"))
    # TESCAN's header time is UTC (the TIFF DateTime, written by the PC's local clock, differs from it
    # by the zone's whole hours), so it is marked as UTC here, not left for the local zone.
    b.date_time(m("Date"), m("Time"), _DATES, "[MAIN] Date/Time", utc=True)
    b.quantity("magnification", m("Magnification"), "", "[MAIN] Magnification")
    b.quantity("pixel_size.x", m("PixelSizeX"), "m", "[MAIN] PixelSizeX")
    b.quantity("pixel_size.y", m("PixelSizeY"), "m", "[MAIN] PixelSizeY")
    q = b.quantity
    q("beam_energy", e("HV"), "V", f"[{beam}] HV")
    q("beam_energy", e("AcceleratorVoltage"), "V", f"[{beam}] AcceleratorVoltage")
    q("beam_current", e("BeamCurrent"), "A", f"[{beam}] BeamCurrent")
    q("beam_current", e("PredictedBeamCurrent"), "A", f"[{beam}] PredictedBeamCurrent")
    q("emission_current", e("EmissionCurrent"), "A", f"[{beam}] EmissionCurrent")
    q("working_distance", e("WD"), "m", f"[{beam}] WD")
    q("dwell_time", e("DwellTime"), "s", f"[{beam}] DwellTime")
    q("chamber_pressure", e("ChamberPressure"), "Pa", f"[{beam}] ChamberPressure")
    q("scan_rotation", e("ScanRotation"), "deg", f"[{beam}] ScanRotation")
    for axis in ("X", "Y", "Z"):
        q(f"stage.{axis.lower()}", e(f"Stage{axis}"), "m", f"[{beam}] Stage{axis}")
    q("stage.rotation", e("StageRotation"), "deg", f"[{beam}] StageRotation")
    q("stage.tilt", e("StageTilt"), "deg", f"[{beam}] StageTilt")
    return b.build(s, width_px=width)


def strip_rows(s: dict[str, dict[str, str]], height: int, b: MetadataBuilder) -> int | None:
    """Height of the info strip below the image (``[MAIN] ImageStripSize``), None when unknown."""
    raw = ini_get(s, "MAIN", "ImageStripSize")
    if raw is None:
        return None
    try:
        rows = parse_number(raw)
    except UnitError:
        b.warn(f"[MAIN] ImageStripSize = {raw!r} is not a number; info strip not removed")
        return None
    if rows != int(rows) or not 0 <= rows < height:
        b.warn(f"[MAIN] ImageStripSize = {raw!r} does not fit an image of {height} rows; info strip not removed")
        return None
    return int(rows)
