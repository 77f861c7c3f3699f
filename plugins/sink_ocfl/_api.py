"""OCFL storage root on a filesystem, written so that a crash never leaves a half object visible.

A new object, or a new version of one, is first built complete in a staging folder inside the
storage root's ``extensions/`` (same filesystem) and then renamed into place. The one step that
cannot be a single rename, replacing the root ``inventory.json`` and its digest file after a new
version folder appeared, is rolled forward on the next touch of that object: the newest version's
own inventory is the truth.
"""
from __future__ import annotations

import errno
import logging
import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from nanoaid_daemon.atomic import TEMP_SUFFIX, atomic_write_bytes
from nanoaid_daemon.errors import ConfigError, SinkError
from nanoaid_daemon.plugins import PluginContext
from nanoaid_daemon.uploader.bundle import Bundle, BundleFile, Receipt, iter_verified
from nanoaid_daemon.uploader.ocfl import (
    OBJECT_NAMASTE,
    ROOT_NAMASTE,
    dump_inventory,
    object_path,
    parse_inventory,
    plan_version,
    root_files,
)
from nanoaid_daemon.uploader.sinks import Unconfigured

__all__ = ["create", "OcflSink", "STAGING"]

log = logging.getLogger(__name__)

STAGING = "extensions/nanoaid-staging"


def create(ctx: PluginContext) -> OcflSink | Unconfigured:
    opts = dict(ctx.options)
    root = opts.pop("root", None) or opts.pop("url", None)
    if not root:
        return Unconfigured("ocfl", "give --archive ROOT or plugins.options.ocfl.root")
    create_root = bool(opts.pop("create", True))
    if opts:
        raise ConfigError(f"sink 'ocfl': unknown option(s) {sorted(opts)}; known: root, create")
    return OcflSink(root_from(root), create=create_root)


def root_from(value: str | os.PathLike) -> Path:
    text = str(value)
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme not in ("file", "ocfl") or parts.netloc not in ("", "localhost"):
            raise ConfigError(f"sink 'ocfl': {text!r} is not a local path or file:/// URL")
        text = unquote(parts.path)
    return Path(text).absolute()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _os_error(exc: OSError, root: Path, doing: str) -> SinkError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        why = f"the archive at {root} is full ({os.strerror(exc.errno)})"
        hint = "free space or point --archive at a larger disk"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = f"the archive at {root} is not writable ({os.strerror(exc.errno)})"
        hint = "fix its permissions or mount it read-write"
    else:
        why = f"the archive at {root} failed: {exc.strerror or exc}"
        hint = "check the disk or NAS mount"
    return SinkError(f"{why} while {doing}; {hint}; nothing accepted is lost, the upload will be retried")


class OcflSink:
    name = "ocfl"

    def __init__(self, root: Path, *, create: bool = True):
        self.root = Path(root)
        self.create = create

    def describe(self) -> str:
        return f"OCFL storage root {self.root}"

    def close(self) -> None:
        """Nothing to release: every call opens and closes what it uses."""

    # -- storage root -------------------------------------------------------------------------
    def check(self) -> None:
        """Raise SinkError unless the storage root is there (made on first use when allowed)."""
        marker = self.root / ROOT_NAMASTE[0]
        if marker.is_file():
            return
        if not self.create or (self.root.is_dir() and any(self.root.iterdir())):
            raise SinkError(
                f"{self.root} is not an OCFL storage root (no {ROOT_NAMASTE[0]}): is the disk or NAS mounted? "
                "The uploader keeps every accepted frame and retries"
            )
        try:
            for rel, data in root_files().items():
                atomic_write_bytes(self.root / rel, data)
        except OSError as exc:
            raise _os_error(exc, self.root, "creating the storage root") from exc
        log.info("created OCFL storage root %s", self.root)
        self.create = False

    def sweep_staging(self) -> None:
        """Remove what a killed uploader left half-built (never referenced by any inventory)."""
        shutil.rmtree(self.root / STAGING, ignore_errors=True)

    # -- one object ---------------------------------------------------------------------------
    def put(self, bundle: Bundle) -> Receipt:
        self.check()
        obj = self.root / object_path(bundle.object_id)
        try:
            self._roll_forward(obj)
            inv = parse_inventory(self._read(obj / "inventory.json"), str(obj / "inventory.json"), bundle.object_id)
            plan = plan_version(inv, bundle)
            if plan is None:  # only an existing newest version can already be this bundle
                assert inv is not None
                self._verify(obj, inv, bundle)
                return Receipt(str(obj), int(inv["head"][1:]), created=False)
            self._write(obj, plan, new_object=inv is None)
            self._verify(obj, plan.inventory, bundle)
        except OSError as exc:
            raise _os_error(exc, self.root, f"storing frame {bundle.frame_id}") from exc
        finally:
            self._drop_staging_if_empty()
        return Receipt(str(obj), plan.number, created=True)

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def _write(self, obj: Path, plan, *, new_object: bool) -> None:
        stage = self.root / STAGING / uuid.uuid4().hex
        version_dir = stage / plan.name
        try:
            for f, content in plan.uploads:
                self._copy(f, stage / content)
            data, digest_line = dump_inventory(plan.inventory)
            for folder in ([version_dir, stage] if new_object else [version_dir]):
                self._write_file(folder / "inventory.json", data)
                self._write_file(folder / "inventory.json.sha256", digest_line)
            if new_object:
                self._write_file(stage / OBJECT_NAMASTE[0], OBJECT_NAMASTE[1])
                obj.parent.mkdir(parents=True, exist_ok=True)
                os.rename(stage, obj)
                _fsync_dir(obj.parent)
            else:
                os.rename(version_dir, obj / plan.name)
                _fsync_dir(obj)
                self._publish_root_inventory(obj, data, digest_line)
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def _copy(self, f: BundleFile, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "wb") as out:
            for block in iter_verified(f):
                out.write(block)
            out.flush()
            os.fsync(out.fileno())

    @staticmethod
    def _write_file(dest: Path, data: bytes) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())

    @staticmethod
    def _publish_root_inventory(obj: Path, data: bytes, digest_line: bytes) -> None:
        atomic_write_bytes(obj / "inventory.json", data)
        atomic_write_bytes(obj / "inventory.json.sha256", digest_line)

    def _roll_forward(self, obj: Path) -> None:
        """Finish a version whose folder is in place but whose root inventory was not yet replaced."""
        if not obj.is_dir():
            return
        for leftover in obj.glob(f".*{TEMP_SUFFIX}"):
            leftover.unlink(missing_ok=True)
        versions = sorted((int(p.name[1:]) for p in obj.iterdir() if p.is_dir() and p.name[1:].isdigit()
                           and p.name.startswith("v")), reverse=True)
        if not versions:
            return
        newest = obj / f"v{versions[0]}"
        data, digest_line = self._read(newest / "inventory.json"), self._read(newest / "inventory.json.sha256")
        if data is None or digest_line is None:
            raise SinkError(f"{newest} has no inventory: the object is damaged; restore it from a backup")
        if self._read(obj / "inventory.json") != data or self._read(obj / "inventory.json.sha256") != digest_line:
            log.warning("rolling forward %s to %s after an interrupted upload", obj, newest.name)
            self._publish_root_inventory(obj, data, digest_line)

    def _verify(self, obj: Path, inv: dict, bundle: Bundle) -> None:
        """Read back every file of the bundle from where the inventory says it lives."""
        import hashlib

        for f in bundle.files:
            path = obj / inv["manifest"][f.sha256][0]
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                while block := fh.read(1 << 20):
                    digest.update(block)
            if digest.hexdigest() != f.sha256:
                raise SinkError(f"{path} does not match its sha256 {f.sha256} after writing: the archive "
                                "disk returns other bytes than were written; check it")

    def _drop_staging_if_empty(self) -> None:
        try:
            (self.root / STAGING).rmdir()
        except OSError:
            pass
