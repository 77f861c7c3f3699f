"""Vendor header text: decoding, INI sections, ``$KEY value`` lines and small XML documents.

The parsers are raw and total: values stay strings exactly as stored (surrounding white space
removed), ``%`` and ``;`` inside values mean nothing, repeated sections and keys are all kept
(later ones as ``name#2``, ``name#3``…). Only the XML parser can refuse input, with a ReaderError.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import ReaderError
from .safety import MAX_SIDECAR_BYTES, guard

__all__ = ["decode_text", "read_sidecar", "parse_ini", "parse_dollar_lines", "parse_xml", "xml_get", "ini_get",
           "find_sibling", "peek_text"]

_LINES = re.compile(r"\r\n|\r|\n")
_SECTION = re.compile(r"\[([^\[\]]*)\]")
_XML_MAX_DEPTH = 64


def decode_text(data: bytes) -> str:
    """Bytes → text: BOM first, then UTF-16 without BOM, UTF-8, and cp1252/Latin-1 (µ = 0xB5)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace").rstrip("\x00")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace").rstrip("\x00")
    if len(data) >= 4 and data[1] == 0 and data[3] == 0 and data[0] != 0:
        return data.decode("utf-16-le", errors="replace").rstrip("\x00")
    data = data.rstrip(b"\x00")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_sidecar(path: Path, limit: int = MAX_SIDECAR_BYTES) -> bytes:
    """The bytes of a vendor sidecar file, refusing anything larger than a header can be."""
    with guard(path, "sidecar"):
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    if len(data) > limit:
        raise ReaderError(f"sidecar is larger than {limit:,} bytes; not a vendor header", path=path,
                          code="too_large")
    return data


def _unique(mapping: dict, key: str, seen: dict[str, int]) -> str:
    """``key``, or ``key#n`` for its n-th occurrence (counted, so repeats stay linear)."""
    if key not in mapping:
        seen.setdefault(key, 1)
        return key
    n = seen.get(key, 1) + 1
    while f"{key}#{n}" in mapping:
        n += 1
    seen[key] = n
    return f"{key}#{n}"


def parse_ini(text: str, *, default_section: str | None = None) -> dict[str, dict[str, str]]:
    """``[Section]`` / ``key=value`` text → {section: {key: value}}, nothing interpreted.

    Lines before the first header go to ``default_section`` (dropped when it is None); lines that
    are neither a header nor ``key=value`` are ignored.
    """
    sections: dict[str, dict[str, str]] = {}
    seen_sections: dict[str, int] = {}
    seen_keys: dict[int, dict[str, int]] = {}
    current: dict[str, str] | None = None
    if default_section is not None:
        current = sections.setdefault(default_section, {})
        seen_sections[default_section] = 1
    for raw_line in _LINES.split(text):
        line = raw_line.strip().strip("\x00")
        if not line or line[0] in ";#":
            continue
        header = _SECTION.fullmatch(line)
        if header:
            name = header.group(1).strip()
            current = {}
            sections[_unique(sections, name, seen_sections)] = current
            continue
        key, sep, value = line.partition("=")
        if not sep or current is None or not key.strip():
            continue
        current[_unique(current, key.strip(), seen_keys.setdefault(id(current), {}))] = value.strip()
    return sections


def ini_get(sections: dict[str, dict[str, str]], section: str | None, key: str) -> str | None:
    """A value, or None when the section or key is missing; empty values read as None."""
    if not section:
        return None
    value = sections.get(section, {}).get(key)
    return value if value not in (None, "") else None


def parse_dollar_lines(text: str) -> dict[str, str]:
    """JEOL-style ``$KEY value`` / ``$$KEY value`` lines → {"$KEY": "value"}; other lines ignored."""
    entries: dict[str, str] = {}
    seen: dict[str, int] = {}
    for raw_line in _LINES.split(text):
        line = raw_line.strip().strip("\x00")
        if not line.startswith("$"):
            continue
        parts = line.split(None, 1)
        key = parts[0]
        if len(key) < 2:
            continue
        entries[_unique(entries, key, seen)] = parts[1].strip() if len(parts) > 1 else ""
    return entries


def parse_xml(text: str, path: Path | None = None) -> dict[str, Any]:
    """A small XML document → nested dicts of strings (namespaces dropped, repeats as lists).

    Attributes become ``@name`` keys and the text of an element with attributes ``#text``. DTDs
    are refused outright: a header never needs entities, and they are how XML bombs work.
    """
    import xml.etree.ElementTree as ET

    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise ReaderError("XML header declares a DTD or entities; refusing to parse it", path=path,
                          code="corrupt_metadata")
    try:
        root = ET.fromstring(text.strip().strip("\x00"))
    except ET.ParseError as exc:
        raise ReaderError(f"XML header is malformed: {exc}", path=path, code="corrupt_metadata") from exc
    except (ValueError, RecursionError) as exc:
        raise ReaderError(f"XML header cannot be parsed: {exc}", path=path, code="corrupt_metadata") from exc
    return {_local(root.tag): _element(root, 0, path)}


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _element(el, depth: int, path: Path | None) -> Any:
    if depth > _XML_MAX_DEPTH:
        raise ReaderError("XML header is nested too deeply", path=path, code="corrupt_metadata")
    children = list(el)
    text = (el.text or "").strip()
    if not children and not el.attrib:
        return text
    node: dict[str, Any] = {f"@{_local(k)}": v for k, v in el.attrib.items()}
    if not children:
        node["#text"] = text
        return node
    for child in children:
        key, value = _local(child.tag), _element(child, depth + 1, path)
        if key in node:
            existing = node[key]
            if isinstance(existing, list):
                existing.append(value)
            else:
                node[key] = [existing, value]
        else:
            node[key] = value
    return node


def xml_get(tree: dict[str, Any] | None, dotted: str) -> str | None:
    """Text at a '/'-separated path (first of repeated elements), or None; empty reads as None."""
    node: Any = tree
    for part in dotted.split("/"):
        if isinstance(node, list):
            node = node[0] if node else None
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    if isinstance(node, list):
        node = node[0] if node else None
    if isinstance(node, dict):
        node = node.get("#text")
    return node if isinstance(node, str) and node != "" else None


def find_sibling(path: Path, suffix: str) -> Path | None:
    """The file beside ``path`` with the same stem and ``suffix`` (either case), or None."""
    path = Path(path)
    for candidate in (path.with_suffix(suffix.lower()), path.with_suffix(suffix.upper())):
        try:
            if candidate.is_file():
                return candidate
        except OSError:
            continue
    return None


def peek_text(path: Path | None, size: int = 4096) -> str:
    """The decoded start of a text file, for sniffing; '' when it cannot be read. Never raises."""
    if path is None:
        return ""
    try:
        with open(path, "rb") as fh:
            return decode_text(fh.read(size))
    except Exception:
        return ""
