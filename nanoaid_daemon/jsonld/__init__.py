"""The sidecar's JSON-LD context: every key mapped to a published term.

The context is versioned and shipped with the package (``sidecar-context-1.jsonld``); each sidecar
embeds it, so a linked-data consumer expands a sidecar offline, without fetching anything.
Published vocabularies are used where they have the concept: schema.org (files, creative works),
QUDT (units), the EM Glossary (electron-microscopy quantities), PROV-O (what produced a section).
The NanoAID namespace holds only what none of them has; docs/vocabulary.md defines each term.
"""
from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["CONTEXT_VERSION", "NANOAID_NAMESPACE", "sidecar_context", "context_document"]

CONTEXT_VERSION = 1
NANOAID_NAMESPACE = "https://w3id.org/nanoaid/terms#"
_FILE = f"sidecar-context-{CONTEXT_VERSION}.jsonld"


@cache
def context_document() -> str:
    """The shipped context file's text, as published with the docs."""
    return resources.files(__name__).joinpath(_FILE).read_text(encoding="utf-8")


def sidecar_context() -> dict[str, Any]:
    """A fresh copy of the term definitions a sidecar embeds under ``@context``."""
    context: dict[str, Any] = json.loads(context_document())["@context"]
    return context
