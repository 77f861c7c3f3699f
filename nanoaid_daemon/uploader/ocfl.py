"""Oxford Common File Layout 1.1: inventories, the object layout, and the write protocol.

Every sink stores a frame as an OCFL object, so the same rules hold on a local disk, in S3 and on
WebDAV: each object is a frame (id ``urn:nanoaid:frame:<sha256>``), its files are addressed by
sha256 (the digests the sidecar already carries), and an amended sidecar becomes a new version
that re-uses the unchanged content of earlier versions. Objects sit under the storage root by the
registered extension 0003 (sha256 of the id in 3 tuples of 3, then the percent-encoded id), so an
object's folder names its frame and no path depends on file names.

The remote write protocol makes the root ``inventory.json`` the commit point: content first, then
the version's inventory, then the root inventory. A crash anywhere before the last step leaves a
version directory nobody references yet; the retry writes the same paths again.
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol
from urllib.parse import quote

from ..errors import SinkError
from .bundle import Bundle, BundleFile, Receipt

__all__ = [
    "INVENTORY_TYPE", "ROOT_NAMASTE", "OBJECT_NAMASTE", "LAYOUT_EXTENSION", "VersionPlan", "Storage",
    "object_path", "root_files", "new_inventory", "head_state", "plan_version", "dump_inventory",
    "parse_inventory", "ensure_root", "write_remote",
]

INVENTORY_TYPE = "https://ocfl.io/1.1/spec/#inventory"
ROOT_NAMASTE = ("0=ocfl_1.1", b"ocfl_1.1\n")
OBJECT_NAMASTE = ("0=ocfl_object_1.1", b"ocfl_object_1.1\n")
LAYOUT_EXTENSION = "0003-hash-and-id-n-tuple-storage-layout"
LAYOUT_CONFIG = {"extensionName": LAYOUT_EXTENSION, "digestAlgorithm": "sha256", "tupleSize": 3,
                 "numberOfTuples": 3}
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def object_path(object_id: str) -> str:
    """Path of an object below the storage root (extension 0003, 3 tuples of 3)."""
    digest = hashlib.sha256(object_id.encode("utf-8")).hexdigest()
    encoded = "".join(c if c in _SAFE else "".join(f"%{b:02x}" for b in c.encode("utf-8")) for c in object_id)
    if len(encoded) > 100:
        encoded = f"{encoded[:100]}-{digest}"
    return "/".join([digest[0:3], digest[3:6], digest[6:9], encoded])


def _json_bytes(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def root_files() -> dict[str, bytes]:
    """The files that make a folder (or bucket prefix) an OCFL 1.1 storage root."""
    return {
        ROOT_NAMASTE[0]: ROOT_NAMASTE[1],
        "ocfl_layout.json": _json_bytes({
            "extension": LAYOUT_EXTENSION,
            "description": "Hashed truncated n-tuple tree with object id encapsulating directory",
        }),
        f"extensions/{LAYOUT_EXTENSION}/config.json": _json_bytes(LAYOUT_CONFIG),
    }


def new_inventory(object_id: str) -> dict[str, Any]:
    return {"id": object_id, "type": INVENTORY_TYPE, "digestAlgorithm": "sha256", "head": "v0",
            "contentDirectory": "content", "manifest": {}, "versions": {}}


def head_state(inventory: dict[str, Any]) -> dict[str, str]:
    """Logical path → digest of the newest version."""
    state = inventory["versions"][inventory["head"]]["state"]
    return {logical: digest for digest, paths in state.items() for logical in paths}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class VersionPlan:
    number: int
    uploads: tuple[tuple[BundleFile, str], ...]  # (file, content path relative to the object root)
    inventory: dict[str, Any]

    @property
    def name(self) -> str:
        return f"v{self.number}"


def plan_version(inventory: dict[str, Any] | None, bundle: Bundle, *, created: str | None = None) -> VersionPlan | None:
    """The next version for ``bundle``, or None when the newest version already holds exactly it."""
    if inventory is not None and head_state(inventory) == bundle.state():
        return None
    inv = copy.deepcopy(inventory) if inventory is not None else new_inventory(bundle.object_id)
    number = int(inv["head"][1:]) + 1
    name = f"v{number}"
    uploads: list[tuple[BundleFile, str]] = []
    state: dict[str, list[str]] = {}
    for f in bundle.files:
        state.setdefault(f.sha256, []).append(f.logical)
        if f.sha256 not in inv["manifest"]:
            content = f"{name}/content/{f.logical}"
            inv["manifest"][f.sha256] = [content]
            uploads.append((f, content))
    inv["versions"][name] = {
        "created": created or _now(),
        "message": bundle.message or "upload",
        "user": {"name": bundle.user, "address": "urn:nanoaid:user:" + quote(bundle.user, safe="")},
        "state": {d: sorted(p) for d, p in state.items()},
    }
    inv["head"] = name
    return VersionPlan(number, tuple(uploads), inv)


def dump_inventory(inventory: dict[str, Any]) -> tuple[bytes, bytes]:
    """(inventory.json bytes, inventory.json.sha256 bytes)."""
    data = _json_bytes(inventory)
    return data, f"{hashlib.sha256(data).hexdigest()} inventory.json\n".encode()


def parse_inventory(data: bytes | None, where: str, object_id: str) -> dict[str, Any] | None:
    """A stored inventory, checked enough to build on; SinkError when it is not one of ours."""
    if data is None:
        return None
    try:
        inv = json.loads(data)
        ok = (inv["id"] == object_id and inv["digestAlgorithm"] == "sha256" and inv["head"] in inv["versions"])
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise SinkError(f"{where} is not a valid OCFL inventory of {object_id}; repair or move it, then retry")
    return inv


class Storage(Protocol):
    """What the remote write protocol needs from a repository; paths are '/'-separated, relative."""

    def location(self, path: str) -> str: ...
    def read(self, path: str) -> bytes | None: ...
    def put_bytes(self, path: str, data: bytes) -> None: ...
    def put_file(self, path: str, f: BundleFile) -> None: ...


def ensure_root(storage: Storage) -> None:
    """Make the storage root OCFL-shaped on first use (a no-op once its marker is there)."""
    if storage.read(ROOT_NAMASTE[0]) == ROOT_NAMASTE[1]:
        return
    for path, data in root_files().items():
        storage.put_bytes(path, data)


def write_remote(storage: Storage, bundle: Bundle) -> Receipt:
    """Store ``bundle`` as the next version of its object unless the newest version already is it."""
    obj = object_path(bundle.object_id)
    raw = storage.read(f"{obj}/inventory.json")
    inv = parse_inventory(raw, storage.location(f"{obj}/inventory.json"), bundle.object_id)
    plan = plan_version(inv, bundle)
    if plan is None:  # only an existing newest version can already be this bundle
        assert raw is not None and inv is not None
        # A crash between the root inventory and its digest file leaves a stale digest: fix it.
        digest_line = f"{hashlib.sha256(raw).hexdigest()} inventory.json\n".encode()
        if storage.read(f"{obj}/inventory.json.sha256") != digest_line:
            storage.put_bytes(f"{obj}/inventory.json.sha256", digest_line)
        return Receipt(storage.location(obj + "/"), int(inv["head"][1:]), created=False)
    if inv is None:
        storage.put_bytes(f"{obj}/{OBJECT_NAMASTE[0]}", OBJECT_NAMASTE[1])
    for f, content in plan.uploads:
        storage.put_file(f"{obj}/{content}", f)
    data, digest_line = dump_inventory(plan.inventory)
    storage.put_bytes(f"{obj}/{plan.name}/inventory.json", data)
    storage.put_bytes(f"{obj}/{plan.name}/inventory.json.sha256", digest_line)
    storage.put_bytes(f"{obj}/inventory.json", data)  # the commit point
    storage.put_bytes(f"{obj}/inventory.json.sha256", digest_line)
    return Receipt(storage.location(obj + "/"), plan.number, created=True)
