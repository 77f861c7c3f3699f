"""Former home of the kill -9 harness, kept so scripts written against it still import.

Test-only fault injection now lives in :mod:`nanoaid_daemon.testing`.
"""
from __future__ import annotations

from .testing import ChaosReport, daemon_command, fast_env, kill9_trials

__all__ = ["ChaosReport", "daemon_command", "fast_env", "kill9_trials"]
