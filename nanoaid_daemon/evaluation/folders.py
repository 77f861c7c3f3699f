"""Labelled image folders in the NFFA-Europe layout, and the hash rule that splits them.

``DATA/<Class>/…/*.png|jpg|tif`` — one sub-folder per class, named as in ``sidecar.CLASSES``
(matched without regard to case, spaces, dashes or underscores, so ``mems devices and electrodes``
works too). A file's split is fixed by the sha256 of its content, so adding images never moves an
existing one between train, validation and test, and a duplicate copy can never sit on both sides.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..hashing import sha256_file
from ..sidecar import CLASSES

__all__ = ["Item", "IMAGE_SUFFIXES", "scan_labelled", "split_of", "class_index", "SPLITS"]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Item:
    path: Path
    label: int
    sha256: str

    @property
    def split(self) -> str:
        return split_of(self.sha256)


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_BY_KEY = {_key(name): i for i, name in enumerate(CLASSES)}


def class_index(folder_name: str) -> int | None:
    return _BY_KEY.get(_key(folder_name))


def split_of(sha256: str, val: float = 0.15, test: float = 0.15) -> str:
    """'test' for the first ``test`` of the hash space, then 'val', the rest 'train'."""
    u = int(sha256[:8], 16) / 2**32
    return "test" if u < test else "val" if u < test + val else "train"


def scan_labelled(root: Path, *, allow_unknown: bool = False) -> list[Item]:
    """Every image under ``root/<Class>/``, sorted by path; unknown class folders are an error."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"data folder {root} does not exist or is not a folder")
    items: list[Item] = []
    unknown = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        label = class_index(folder.name)
        if label is None:
            unknown.append(folder.name)
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() and not path.name.startswith("."):
                items.append(Item(path, label, sha256_file(path)[0]))
    if unknown and not allow_unknown:
        raise ConfigError(f"{root}: folder(s) {unknown} are not one of the classes {list(CLASSES)}; "
                          "rename or move them (folder names are matched ignoring case and separators)")
    if not items:
        raise ConfigError(f"{root}: no labelled images found; expected {root}/<Class>/<image>.png|jpg|tif")
    return items
