"""The catalogue's query language, compiled to one SQL WHERE clause with parameters.

    label:Nanowires coherency>0.8 mag>10k after:7d           filters, all must hold
    operator:alice "gold particles" wafer*                   free text (names, sample, notes)
    -decision:accepted  score.Tips>=0.3  corrected:yes       negation, per-class score, flags

Terms are separated by spaces and all must match. ``field:value`` compares text (case-insensitive;
``*`` and ``?`` are wildcards), ``field>number`` (also ``>= < <= = !=``) compares numbers, which
may end in ``k`` or ``M``. ``after:``/``before:`` take a date, an ISO date-time, or an age such as
``7d``, ``12h``, ``2w`` (a bare date is midnight in the given zone). A leading ``-`` negates a term.
Anything else is free text, matched word by word (a trailing ``*`` matches a prefix).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from ..errors import NanoaidError
from ..sidecar import CLASSES

__all__ = ["QueryError", "Compiled", "compile_query", "TEXT_FIELDS", "NUMBER_FIELDS"]


class QueryError(NanoaidError, ValueError):
    """A search query that cannot be understood; the message says which term and why."""


TEXT_FIELDS = {
    "label": "label", "predicted": "predicted", "decision": "decision", "status": "status",
    "vendor": "vendor", "instrument": "instrument",
    "model": "instrument", "serial": "serial", "detector": "detector", "operator": "operator", "sample": "sample",
    "name": "name", "path": "path", "frame": "frame_id", "id": "frame_id", "media": "media_type",
}
NUMBER_FIELDS = {
    "score": "score", "coherency": "coherency", "aligned": "aligned_fraction", "aligned_fraction": "aligned_fraction",
    "kv": "beam_energy_kv", "energy": "beam_energy_kv", "beam_energy": "beam_energy_kv", "mag": "magnification",
    "magnification": "magnification", "pixel": "pixel_size_nm", "pixel_size": "pixel_size_nm",
    "corrections": "corrections", "version": "sidecar_version", "width": "width_px", "height": "height_px",
}
TIME_FIELDS = {"after": ">=", "before": "<"}
CHOICES = {"label": CLASSES, "predicted": CLASSES, "decision": ("accepted", "review", "unknown"),
           "status": ("ok", "partial", "failed")}
OPS = {":": "=", "=": "=", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
TERM = re.compile(r'\s*(-)?(?:([A-Za-z_][\w.]*)(:|>=|<=|!=|=|>|<))?("(?:[^"]|"")*"|[^\s"]+)')
AGE = re.compile(r"^(\d+(?:\.\d+)?)([mhdw])$")
AGE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass
class Compiled:
    where: str = "1"
    params: list[Any] = field(default_factory=list)


#: More terms than this are refused with a message (SQLite's expression depth limit is near 1,000).
MAX_TERMS = 200


def compile_query(query: str, *, now: datetime | None = None, zone: tzinfo | None = None) -> Compiled:
    """SQL for ``query`` over table ``frames`` (with ``scores`` and ``frames_fts``), or QueryError."""
    now = now or datetime.now(timezone.utc)
    zone = zone or datetime.now().astimezone().tzinfo
    clauses: list[str] = []
    params: list[Any] = []
    pos = 0
    query = query.strip()
    while pos < len(query):
        m = TERM.match(query, pos)
        if not m or m.end() == pos:
            raise QueryError(f"cannot read the query from {query[pos:]!r} (unbalanced quote?)")
        pos = m.end()
        negate, name, op, raw = m.groups()
        if len(clauses) >= MAX_TERMS:
            raise QueryError(f"the query has more than {MAX_TERMS} terms; narrow it down or split it")
        sql, values = _term(name, op, _unquote(raw), raw.startswith('"'), now, zone)
        clauses.append(f"NOT ({sql})" if negate else sql)
        params.extend(values)
    return Compiled(" AND ".join(clauses) or "1", params)


def _unquote(raw: str) -> str:
    return raw[1:-1].replace('""', '"') if raw.startswith('"') and raw.endswith('"') and len(raw) > 1 else raw


def _term(name, op, value, quoted, now, zone) -> tuple[str, list[Any]]:
    if name is None:
        return _free_text(value, quoted)
    key = name.lower()
    if key.startswith(("score.", "p.")):
        return _class_score(name, op, value)
    if key in TIME_FIELDS:
        if op != ":":
            raise QueryError(f"{name} takes a date or an age, written {name}:2026-01-31 or {name}:7d")
        return f"acquired_at {TIME_FIELDS[key]} ?", [_when(value, now, zone, name).timestamp()]
    if key == "corrected":
        return _flag(name, op, value, "corrections > 0")
    if key in NUMBER_FIELDS:
        return f"{NUMBER_FIELDS[key]} {OPS[op]} ?", [_number(value, name)]
    if key in TEXT_FIELDS:
        return _text(key, op, value)
    known = sorted([*TEXT_FIELDS, *NUMBER_FIELDS, *TIME_FIELDS, "corrected", "score.<Class>"])
    raise QueryError(f"unknown field {name!r}; fields: {', '.join(known)}")


def _free_text(value: str, quoted: bool) -> tuple[str, list[Any]]:
    prefix = value.endswith("*") and not quoted
    words = value.rstrip("*") if prefix else value
    if not re.search(r"\w", words):
        raise QueryError(f"free-text term {value!r} has no letters or digits to search for")
    phrase = '"' + words.replace('"', '""') + '"' + ("*" if prefix else "")
    return "frames.rowid IN (SELECT rowid FROM frames_fts WHERE frames_fts MATCH ?)", [phrase]


def _text(key: str, op: str, value: str) -> tuple[str, list[Any]]:
    if op not in (":", "=", "!="):
        raise QueryError(f"{key} is text: use {key}:value or {key}!=value, not {op}")
    column = TEXT_FIELDS[key]
    wildcard = "*" in value or "?" in value
    if key in CHOICES and not wildcard:
        value = _choice(key, value)
    if column == "frame_id" and not wildcard:
        value, wildcard = value.lower() + "*", True  # a frame id prefix is enough
    negate = "NOT " if op == "!=" else ""
    if wildcard:
        pattern = re.sub(r"([%_\\])", r"\\\1", value).replace("*", "%").replace("?", "_")
        return f"{column} {negate}LIKE ? ESCAPE '\\'", [pattern]
    return f"{column} {'!=' if negate else '='} ?", [value]


def _choice(key: str, value: str) -> str:
    for choice in CHOICES[key]:
        if choice.lower() == value.lower():
            return choice
    raise QueryError(f"{key} {value!r} is not one of: {', '.join(CHOICES[key])}")


def _class_score(name: str, op: str, value: str) -> tuple[str, list[Any]]:
    cls = _choice("label", name.split(".", 1)[1])
    if op == "!=":
        raise QueryError(f"{name}: compare a score with > >= < <= or =")
    return (f"frames.rowid IN (SELECT frame FROM scores WHERE class = ? AND score {OPS[op]} ?)",
            [cls, _number(value, name)])


def _flag(name: str, op: str, value: str, sql: str) -> tuple[str, list[Any]]:
    if op not in (":", "=") or value.lower() not in ("yes", "no", "true", "false", "1", "0"):
        raise QueryError(f"{name} takes yes or no, e.g. {name}:yes")
    return (sql if value.lower() in ("yes", "true", "1") else f"NOT ({sql})"), []


def _number(value: str, name: str) -> float:
    text = value.lower()
    text = text[:-1] if text.endswith("x") and len(text) > 1 else text  # 500x, 10kx
    scale = {"k": 1e3, "m": 1e6}.get(text[-1:], 1.0)
    try:
        return float(text[:-1] if scale != 1.0 else text) * scale
    except ValueError:
        raise QueryError(f"{name} needs a number (e.g. {name}>0.8 or {name}>10k), got {value!r}") from None


def _when(value: str, now: datetime, zone: tzinfo, name: str) -> datetime:
    age = AGE.match(value.lower())
    if age:
        try:
            return now - timedelta(**{AGE_UNITS[age.group(2)]: float(age.group(1))})
        except (OverflowError, ValueError):
            raise QueryError(f"{name}: {value!r} reaches before year 1; use a smaller age or a date") from None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise QueryError(f"{name}: {value!r} is neither a date (2026-01-31), a date-time (2026-01-31T14:00+01:00) "
                         "nor an age (7d, 12h, 2w)") from None
    return when if when.tzinfo else when.replace(tzinfo=zone)
