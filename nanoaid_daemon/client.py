"""Former home of the client library, kept so instrument software written against it still imports.

The client now lives in :mod:`nanoaid_daemon.bus.client`; import it from there in new code.
"""
from __future__ import annotations

from .bus.client import Subscriber, load_client_key, send_correction

__all__ = ["Subscriber", "send_correction", "load_client_key"]
