"""The operator console: a small web application beside the microscope (``nanoaid console``).

Rooms: :mod:`.app` (routes, guards), :mod:`.pages` (one handler per page), :mod:`.store`
(read-only journal and sidecar access), :mod:`.live` (the event subscriber and the browsers'
server-sent events), :mod:`.search` (catalogue queries), :mod:`.health` (figures and Prometheus
text), :mod:`.security` (operator tokens, sessions, bind rules), :mod:`.render` and
:mod:`.images` (what the templates draw). Docs: docs/console.md.
"""
from __future__ import annotations

__all__ = ["ConsoleConfig", "create_app"]


def __getattr__(name: str):
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(name)
