"""One RO-Crate per session in the repository, rebuilt as the session's frames are stored.

A session is the folder a frame was saved in, named by its path relative to the watch root. With
``nanoaid upload --crates session`` every stored frame marks its session's crate as out of date in
the same transaction that records the frame; once the queue of frames is empty the uploader builds
the crate of each such session with ``nanoaid export rocrate``'s exporter and stores it as one OCFL
object per session (``urn:nanoaid:session:<session>``), a new version each time the session grew.
The crate's ``datePublished`` is the newest sidecar's creation time, so rebuilding an unchanged
session gives the same bytes and the repository keeps its version: a crash between storing the
crate and recording it only repeats work. The per-frame objects are stored as without crates.
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from .. import __version__
from ..errors import ConfigError
from ..exports.rocrate import export_rocrate, session_sidecars
from ..sidecar import Sidecar
from .bundle import Bundle, BundleError, BundleFile

__all__ = ["CRATE_MODES", "CRATE_PREFIX", "CrateSettings", "CrateBuild", "session_of", "crate_object_id", "build_crate"]

CRATE_MODES = ("session",)
CRATE_PREFIX = "urn:nanoaid:session:"


@dataclass(frozen=True)
class CrateSettings:
    """Where sessions are named from (the watch root) and where the models to pack are."""

    models_dir: Path
    watch_root: Path | None = None
    version: str = __version__


@dataclass
class CrateBuild:
    """A session's crate on local disk, ready for a sink; ``close`` removes the folder."""

    bundle: Bundle
    frame_ids: list[str]
    folder: Path

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def session_of(sidecar_path: Path, watch_root: Path | None) -> tuple[str, str]:
    """(session name, folder) of a frame: its folder relative to the watch root, else its absolute folder."""
    folder = Path(sidecar_path).absolute().parent
    if watch_root is not None:
        try:
            rel = folder.relative_to(Path(watch_root).absolute()).as_posix()
            return (rel if rel != "." else folder.name or "."), str(folder)
        except ValueError:
            pass
    return folder.as_posix(), str(folder)


def crate_object_id(session: str) -> str:
    return CRATE_PREFIX + session


def _crate_files(crate: Path) -> tuple[BundleFile, ...]:
    files = []
    for path in sorted(p for p in crate.rglob("*") if p.is_file()):
        data = path.read_bytes()
        role = "sidecar" if path.name == "ro-crate-metadata.json" else "crate"
        files.append(BundleFile(path.relative_to(crate).as_posix(), hashlib.sha256(data).hexdigest(), len(data),
                                role, path))
    return tuple(files)


def build_crate(session: str, folder: Path, settings: CrateSettings, work: Path) -> CrateBuild:
    """Export the session's crate into a fresh folder under ``work``; BundleError when it has nothing to pack."""
    sidecars = session_sidecars(Path(folder))
    if not sidecars:
        raise BundleError(f"session {session} ({folder}) has no readable sidecars left to put in its crate")
    newest = max(sidecars, key=lambda s: str(s[1].get("created", "")))
    work.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="crate-", dir=work))
    try:
        export_rocrate(Path(folder), tmp / "crate", settings.models_dir, settings.version,
                       published=str(newest[1].get("created", "")) or None)
        doc = Sidecar.model_validate(newest[1])
        bundle = Bundle(frame_id=doc.frame.sha256, sidecar=doc, sidecar_path=newest[0],
                        files=_crate_files(tmp / "crate"), object=crate_object_id(session),
                        message=f"session crate: {len(sidecars)} frame(s)", user="nanoaid-upload")
    except (ConfigError, ValidationError) as exc:  # a sidecar the exporter cannot read: retrying will not help
        shutil.rmtree(tmp, ignore_errors=True)
        raise BundleError(f"session {session} ({folder}): {str(exc).splitlines()[0]}") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    ids = [str(d["frame"]["sha256"]) for _, d in sidecars]
    return CrateBuild(bundle, ids, tmp)
