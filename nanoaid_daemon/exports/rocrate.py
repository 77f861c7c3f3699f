"""``nanoaid export rocrate``: a session folder as an RO-Crate a repository can ingest.

One crate per session: the frames, their sidecars and previews, the models that labelled them (ONNX
with their cards), and a Workflow Run Crate description of the run — NanoAID as the software
application, one ``CreateAction`` per frame whose object is the frame and whose results are the
sidecar and previews, with the configuration hash and the model versions it used. Files carry
their sha256 and size so a repository, or ``rocrate`` itself, can check the copy.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..modelcard import find_cards, load_card
from ..sidecar import SIDECAR_SUFFIX

__all__ = ["CrateExport", "export_rocrate", "PROFILES"]

log = logging.getLogger(__name__)
#: Process Run Crate: each frame's processing is a CreateAction of one application (not a workflow engine).
PROFILES = ("https://w3id.org/ro/wfrun/process/0.5",)
_SOFTWARE_ID = "#nanoaid-daemon"


@dataclass
class CrateExport:
    """What went into the crate."""

    path: Path
    frames: int
    files: int
    models: list[str]


def _rocrate() -> Any:
    try:
        from rocrate.rocrate import ROCrate
    except ImportError as exc:
        raise ConfigError("RO-Crate export needs the rocrate library: pip install 'nanoaid-daemon[rocrate]'") from exc
    return ROCrate


def _file_props(path: Path, media_type: str | None = None, **extra: Any) -> dict[str, Any]:
    data = path.read_bytes()
    props: dict[str, Any] = {"name": path.name, "contentSize": str(len(data)),
                             "sha256": hashlib.sha256(data).hexdigest()}
    if media_type:
        props["encodingFormat"] = media_type
    props.update(extra)
    return props


def session_sidecars(session: Path) -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in sorted(session.rglob("*" + SIDECAR_SUFFIX)):
        try:
            found.append((path, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError) as exc:
            log.warning("%s cannot be read (%s); left out of the crate", path, exc)
    return found


def _models_by_hash(models_dir: Path) -> dict[str, Path]:
    by_hash = {}
    for card_path in find_cards(models_dir):
        try:
            by_hash[load_card(card_path).sha256] = card_path
        except Exception as exc:  # a broken card is reported and skipped, like the daemon does
            log.warning("model card %s unreadable (%s)", card_path, exc)
    return by_hash


class _Builder:
    def __init__(self, session: Path, models_dir: Path, version: str) -> None:
        self.session, self.models_dir = session, models_dir
        self.crate = _rocrate()(version="1.1")
        self.crate.metadata.extra_terms["sha256"] = "https://schema.org/sha256"  # not in the 1.1 context
        self.names: dict[str, str] = {}
        self.models: dict[str, Any] = {}
        self.files = 0
        self.software = self.crate.add_jsonld({
            "@id": _SOFTWARE_ID, "@type": "SoftwareApplication", "name": "NanoAID daemon",
            "softwareVersion": version, "license": "Apache-2.0"})
        self.by_hash = _models_by_hash(models_dir)

    def add_file(self, path: Path, media_type: str | None = None, **extra: Any) -> Any:
        self.files += 1
        rel = path.relative_to(self.session).as_posix()
        return self.crate.add_file(path, dest_path=rel, properties=_file_props(path, media_type, **extra))

    def model(self, name: str, sha256: str) -> Any:
        if sha256 in self.models:
            return self.models[sha256]
        card_path = self.by_hash.get(sha256)
        if card_path is None:
            log.warning("model %s (sha256 %s…) is not in %s; named but not packed", name, sha256[:12], self.models_dir)
            entity = self.crate.add_jsonld({"@id": f"#model-{sha256[:16]}", "@type": "SoftwareApplication",
                                            "name": name, "sha256": sha256})
        else:
            card = load_card(card_path)
            onnx = card_path.with_name(card.file)
            card_file = self.crate.add_file(card_path, dest_path=f"models/{card_path.name}",
                                            properties=_file_props(card_path, "application/json"))
            entity = self.crate.add_file(onnx, dest_path=f"models/{onnx.name}", properties=_file_props(
                onnx, "application/onnx", version=card.version, description=f"NanoAID model {card.name}",
                subjectOf={"@id": card_file.id}))
            self.files += 2
        self.models[sha256] = entity
        self.names[sha256] = name
        return entity

    def frame(self, sidecar_path: Path, doc: dict[str, Any]) -> None:
        frame_path = sidecar_path.with_name(doc["frame"]["name"])
        if not frame_path.is_file():
            log.warning("%s: its frame %s is gone; the sidecar is packed without it", sidecar_path, frame_path.name)
        frame = self.add_file(frame_path, doc["frame"]["media_type"]) if frame_path.is_file() else None
        about = {"about": {"@id": frame.id}} if frame is not None else {}
        results = [self.add_file(sidecar_path, "application/ld+json", **about)]
        for preview in doc.get("previews", []):
            path = sidecar_path.parent / preview["path"]
            if path.is_file():
                results.append(self.add_file(path, preview["media_type"], description=f"AI-lens {preview['kind']}"))
        models = [self.model(name, sha) for name, sha in sorted(doc["provenance"].get("model_hashes", {}).items())]
        action = {"@id": f"#process-{doc['frame']['sha256'][:16]}-{doc.get('version', 1)}", "@type": "CreateAction",
                  "name": f"NanoAID processing of {doc['frame']['name']}", "endTime": doc["created"],
                  "instrument": {"@id": _SOFTWARE_ID},
                  "result": [{"@id": r.id} for r in results],
                  "actionStatus": {"@id": "http://schema.org/CompletedActionStatus" if doc.get("status") == "ok"
                                   else "http://schema.org/FailedActionStatus"},
                  "description": f"configuration sha256 {doc['provenance'].get('config_hash', '')}"}
        inputs = ([frame] if frame is not None else []) + models  # the frame and the models it ran through
        if inputs:
            action["object"] = [{"@id": e.id} for e in inputs]
        self.crate.add_jsonld(action)


def export_rocrate(session: Path, out: Path, models_dir: Path, version: str, *,
                   published: str | None = None) -> CrateExport:
    """Write the crate folder ``out`` (created; must not exist or be empty). ``published`` fixes the
    crate's ``datePublished`` (default: now), so the same session always gives the same bytes."""
    if not session.is_dir():
        raise ConfigError(f"{session}: not a folder; pass the session folder the frames were saved in")
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"--out {out}: exists and is not empty; choose a new folder for the crate")
    sidecars = session_sidecars(session)
    if not sidecars:
        raise ConfigError(f"{session}: no sidecars found; run the daemon or `nanoaid process` on the frames first")
    builder = _Builder(session, models_dir, version)
    for sidecar_path, doc in sidecars:
        builder.frame(sidecar_path, doc)
    root = builder.crate.root_dataset
    root["name"] = f"SEM session {session.name}"
    root["description"] = f"{len(sidecars)} SEM frames with NanoAID sidecars, previews and the models used"
    root["license"] = "https://spdx.org/licenses/CC-BY-4.0"
    root["conformsTo"] = [{"@id": p} for p in PROFILES]
    root["mentions"] = [{"@id": e.id} for e in builder.crate.get_by_type("CreateAction")]
    if published is not None:
        root["datePublished"] = published
    tmp = out.with_name(out.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    builder.crate.write(tmp)
    if out.exists():
        out.rmdir()
    tmp.replace(out)
    return CrateExport(path=out, frames=len(sidecars), files=builder.files, models=sorted(builder.names.values()))
