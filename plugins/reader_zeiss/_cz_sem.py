"""The Zeiss SmartSEM header (TIFF tag 34118, ``CZ_SEM``), parsed verbatim.

Layout: a block of unnamed numbers (SI units; index 3 is the pixel size of a 1024-px-wide
reference image in metres), then pairs of lines — a parameter name such as ``AP_WD`` and its
display line ``WD = 14.808 mm`` (a few use ``:`` instead of ``=``: ``Time :9:40:32``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["CzSem", "parse_cz_sem"]

_KEY = re.compile(r"[A-Z][A-Z0-9_]*")


@dataclass
class CzSem:
    """The unnamed numbers (as stored) and each named parameter's (label, value) strings."""

    numbers: list[str] = field(default_factory=list)
    entries: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.numbers and not self.entries

    def value(self, key: str) -> str | None:
        """The value part of a parameter (``"14.808 mm"``), None when absent or blank."""
        entry = self.entries.get(key)
        if entry is None or not entry[1].strip():
            return None
        return entry[1].strip()

    def number(self, index: int) -> str | None:
        return self.numbers[index] if 0 <= index < len(self.numbers) else None

    def raw(self) -> dict[str, object]:
        """The header for ``vendor_raw``: {"": [numbers…], "AP_WD": ["WD", "14.808 mm"], …}."""
        out: dict[str, object] = {"": list(self.numbers)}
        out.update({key: [label, value] for key, (label, value) in self.entries.items()})
        return out


def _split_display(line: str) -> tuple[str, str]:
    label, sep, value = line.partition("=")
    if not sep:
        label, _, value = line.partition(":")
    return label.strip(), value.strip()


def parse_cz_sem(text: str) -> CzSem:
    """Parse the tag text; never raises — unknown lines are skipped."""
    header = CzSem()
    entries, numbers, is_key = header.entries, header.numbers, _KEY.fullmatch
    seen: dict[str, int] = {}
    pending: str | None = None
    for line in text.replace("\x00", "").splitlines():
        line = line.strip()
        if not line:
            continue
        if is_key(line):
            if pending is not None:
                entries[pending] = ("", "")
            pending = _unique_key(entries, line, seen)
        elif pending is not None:
            entries[pending] = _split_display(line)
            pending = None
        elif not entries:
            numbers.append(line)
    if pending is not None:
        entries[pending] = ("", "")
    return header


def _unique_key(entries: dict, key: str, seen: dict[str, int]) -> str:
    if key not in entries:
        return key
    seen[key] = seen.get(key, 1) + 1
    return f"{key}#{seen[key]}"
