"""Writers for synthetic vendor files, made by the tests themselves (never copies of shared data)."""
from __future__ import annotations

import codecs
import struct
from pathlib import Path

import numpy as np
import tifffile

ZEISS_TAG, FEI_INI_TAG, FEI_XML_TAG, TESCAN_TAG = 34118, 34682, 34683, 50431


def sem_image(height: int = 96, width: int = 128, *, databar: int = 0, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    """Noisy grey frame with an optional black databar carrying white 'text' at the bottom."""
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1.0
    img = (rng.random((height, width)) * top * 0.8 + top * 0.1).astype(dtype)
    if databar:
        bar = np.zeros((databar, width), dtype)
        bar[0] = top
        for row in range(3, databar - 2, 3):
            bar[row, 5:width // 3:4] = top
            bar[row + 1, width // 2:width - 5:5] = top
        img[height - databar:] = bar
    return img


def write_tiff(path: Path, data: np.ndarray, tags: list[tuple[int, str, int, object]] = (), **kwargs) -> Path:
    """A TIFF with extra (code, dtype, count, value) tags written into every page."""
    extratags = [(code, dtype, count, value, True) for code, dtype, count, value in tags]
    tifffile.imwrite(path, data, extratags=extratags, metadata=None, **kwargs)
    return path


def ascii_tag(code: int, text: str | bytes) -> tuple[int, str, int, bytes]:
    """An ASCII-typed tag holding the text as Latin-1 bytes (µ = 0xB5, as vendors store it)."""
    raw = text.encode("latin-1") if isinstance(text, str) else text
    return (code, "s", len(raw) + 1, raw)


def fei_ini(**sections: dict[str, str]) -> str:
    """INI text with CRLF line ends, sections in the order given."""
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k}={v}" for k, v in values.items()]
        lines.append("")
    return "\r\n".join(lines) + "\r\n"


def write_fei(path: Path, ini_text: str, *, xml_text: str | None = None, image=None) -> Path:
    image = sem_image() if image is None else image
    tags = [ascii_tag(FEI_INI_TAG, ini_text)]
    if xml_text is not None:
        tags.append(ascii_tag(FEI_XML_TAG, xml_text))
    return write_tiff(path, image, tags)


def zeiss_text(entries: dict[str, str], numbers: list[str] | None = None) -> str:
    """A SmartSEM header: the unnamed numbers, then KEY / 'Label = value' line pairs, CRLF."""
    lines = list(numbers if numbers is not None else ["0", "0", "0", "2.5e-008", "100.0"])
    for key, display in entries.items():
        lines += [key, display]
    return "\r\n".join(lines) + "\r\n"


def tescan_blocks(sections: dict[str, dict[str, str]], *, thumbnail: bytes = b"\x00\x00\x00\x0cjP  ") -> bytes:
    """The tag-50431 container: length-prefixed typed blocks, NUL-terminated key=value text."""
    out = bytearray()
    payloads = [(1, thumbnail)]
    for block_type, name in ((2, "MAIN"), (3, "SEM")):
        if name in sections:
            text = "\n".join(f"{k}={v}" for k, v in sections[name].items()) + "\n"
            payloads.append((block_type, text.encode("utf-8") + b"\x00"))
    for block_type, payload in payloads:
        out += struct.pack("<IH", len(payload) + 2, block_type) + payload
    out += struct.pack("<IH", 2, 0)
    return bytes(out)


def write_tescan(path: Path, sections: dict[str, dict[str, str]], image=None) -> Path:
    image = sem_image() if image is None else image
    blob = tescan_blocks(sections)
    return write_tiff(path, image, [(TESCAN_TAG, "B", len(blob), blob)])


def hitachi_sidecar(path: Path, values: dict[str, str], *, encoding: str = "utf-16-le") -> Path:
    """``[SemImageFile]`` INI text; UTF-16LE with BOM and CRLF like the instrument writes it."""
    text = "[SemImageFile]\r\n" + "".join(f"{k}={v}\r\n" for k, v in values.items())
    bom = codecs.BOM_UTF16_LE if encoding == "utf-16-le" else b""
    path.write_bytes(bom + text.encode(encoding))
    return path
