"""One exception hierarchy for the whole product.

Every error is a ``NanoaidError`` and also the built-in it resembles, so callers may catch either.
Messages name the file, plugin or setting concerned and say what to do.
"""
from __future__ import annotations

__all__ = [
    "NanoaidError",
    "ConfigError",
    "ReaderError",
    "FrameRejected",
    "PluginError",
    "ModelUnavailable",
    "JournalError",
    "BusError",
    "SinkError",
]


class NanoaidError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(NanoaidError, ValueError):
    """A setting is missing, unknown or invalid (exit code 2 on the command line)."""


class ReaderError(NanoaidError, ValueError):
    """A file cannot be read as a frame: corrupt, truncated, unsupported or unsafe."""

    def __init__(self, message: str, *, path: object | None = None, code: str = "unreadable"):
        self.path = path
        self.code = code
        super().__init__(f"{path}: {message}" if path is not None else message)


class FrameRejected(ReaderError):
    """A file was refused before reading (never settled, vanished, unsafe); it is quarantined."""


class PluginError(NanoaidError, RuntimeError):
    """A plugin could not be loaded or broke its protocol; it is disabled, never fatal."""


class ModelUnavailable(NanoaidError, RuntimeError):
    """A model file is missing, corrupt or does not match its card."""


class JournalError(NanoaidError, RuntimeError):
    """The journal database cannot be opened or is inconsistent."""


class BusError(NanoaidError, RuntimeError):
    """The event bus cannot bind, authenticate or answer."""


class SinkError(NanoaidError, RuntimeError):
    """An upload target refused or lost a bundle; the uploader retries."""
