"""JSON Schemas generated from the pydantic models; the checked-in copies must match."""
from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from .events import Event
from .sidecar import Sidecar

__all__ = ["SCHEMAS", "schema_json", "schema_path"]

SCHEMAS: dict[str, type[BaseModel]] = {"sidecar": Sidecar, "event": Event}
_DIR = Path(__file__).with_name("schemas")
_IDS = {"sidecar": "nanoaid.sidecar/1", "event": "nanoaid.event/1"}


def schema_json(name: str) -> str:
    schema = SCHEMAS[name].model_json_schema(by_alias=True, mode="serialization")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": _IDS[name], **schema}
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def schema_path(name: str) -> Path:
    return _DIR / f"{name}.schema.json"


if __name__ == "__main__":  # python -m nanoaid_daemon.schema: regenerate the checked-in copies
    for key in SCHEMAS:
        schema_path(key).write_text(schema_json(key), encoding="utf-8")
        print(f"wrote {schema_path(key)}")
