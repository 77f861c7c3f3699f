"""The event bus: live events (PUB), replay and snapshot (ROUTER), operator corrections (ROUTER).

The daemon creates one ``Bus`` over its journal, ``start()``s it, calls ``notify()`` after every
commit and ``stop()`` at shutdown. Instrument software uses ``nanoaid_daemon.bus.client.Subscriber``.
Protocol, topics, security and threat model: docs/events.md.
"""
from __future__ import annotations

from .bus import Bus
from .endpoints import ENDPOINTS_NAME, Endpoints, daemon_running, read_endpoints
from .protocol import RequestRejected

__all__ = ["Bus", "Endpoints", "ENDPOINTS_NAME", "RequestRejected", "daemon_running", "read_endpoints"]
