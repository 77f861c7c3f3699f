"""Writing synthetic frames: vendor-like TIFFs for demos and end-to-end tests, PNGs for training,
and whole NFFA-style folders (one sub-folder per class)."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from ..atomic import atomic_write_bytes
from ..errors import ConfigError
from ..sidecar import CLASSES
from .render import SynthFrame, render
from .vendor import FEI_TAG, ZEISS_TAG, fei_ini, zeiss_cz_sem

__all__ = ["write_frame", "encode_frame", "write_dataset", "VENDORS", "MIXED_SIZES"]

VENDORS = ("fei", "zeiss", "none")


def _tiff_bytes(frame: SynthFrame, vendor: str) -> bytes:
    image_rows = frame.image.shape[0] - frame.databar_rows
    extratags = []
    if vendor == "fei":
        extratags.append((FEI_TAG, "s", 0, fei_ini(frame.meta, image_rows, frame.databar_rows).encode("ascii"), True))
    elif vendor == "zeiss":
        meta = {**frame.meta, "stored_rows": frame.image.shape[0]}  # SmartSEM's store resolution counts the data zone
        extratags.append((ZEISS_TAG, "s", 0, zeiss_cz_sem(meta, image_rows), True))
    buf = io.BytesIO()
    stamp = frame.meta["acquired_at"][:19].replace("-", ":").replace("T", " ")  # TIFF DateTime: YYYY:MM:DD HH:MM:SS
    tifffile.imwrite(buf, frame.image, photometric="minisblack", extratags=extratags,
                     metadata=None, software="nanoaid synth", datetime=stamp)
    return buf.getvalue()


def _png_bytes(frame: SynthFrame, compress_level: int) -> bytes:
    img = Image.fromarray(np.ascontiguousarray(frame.image))  # uint8 → "L", uint16 → "I;16"
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def encode_frame(frame: SynthFrame, suffix: str, vendor: str = "fei", compress_level: int = 6) -> bytes:
    """File content for ``suffix`` (.tif/.tiff → TIFF with the vendor's header, .png → PNG)."""
    if vendor not in VENDORS:
        raise ConfigError(f"vendor must be one of {VENDORS}, not {vendor!r}")
    suffix = suffix.lower()
    if suffix in (".tif", ".tiff"):
        return _tiff_bytes(frame, vendor)
    if suffix == ".png":
        return _png_bytes(frame, compress_level)
    raise ConfigError(f"cannot write {suffix!r}: use .tif, .tiff or .png")


def write_frame(frame: SynthFrame, path, vendor: str = "fei", *, atomic: bool = True) -> Path:
    """Write ``frame`` to ``path``; the format follows the extension. Returns the path."""
    path = Path(path)
    data = encode_frame(frame, path.suffix, vendor)
    if atomic:
        atomic_write_bytes(path, data)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path


#: Frame sizes (rows, cols) drawn for ``size="mixed"``: small ones dominate because they render fast,
#: and after resizing to the model input they differ mainly in how much noise averaging they had.
MIXED_SIZES = ((384, 512), (480, 640), (512, 512), (576, 768), (600, 800), (768, 1024))
MIXED_WEIGHTS = (0.25, 0.25, 0.1, 0.15, 0.1, 0.15)


def _frame_size(size, frame_seed: int) -> tuple[int, int]:
    if size != "mixed":
        return tuple(size)
    rng = np.random.default_rng([frame_seed, 0xB17])
    return MIXED_SIZES[int(rng.choice(len(MIXED_SIZES), p=MIXED_WEIGHTS))]


def _make(task: tuple) -> dict:
    """Render, encode and write one frame (module level so worker processes can run it)."""
    out, name, folder, i, frame_seed, size, bits, extra, suffix, vendor, seed = task
    depth = bits or (16 if np.random.default_rng([frame_seed, 0xB175]).random() < 0.1 else 8)
    frame = render(name, frame_seed, size=_frame_size(size, frame_seed), bits=depth, **extra)
    path = Path(out) / folder / f"{folder.lower()}_{seed}_{i:05d}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_frame(frame, suffix, vendor, compress_level=3))
    return {"file": f"{folder}/{path.name}", "class": name, "seed": frame_seed, "databar_rows": frame.databar_rows,
            "truth": frame.truth, "meta": frame.meta}


def write_dataset(out: Path, per_class: int, seed: int, *, fmt: str = "png", classes=CLASSES, size=(768, 1024),
                  bits: int = 8, vendor: str = "fei", folder_of=None, overrides_of=None, workers: int = 1,
                  progress=None) -> list[Path]:
    """An NFFA-style folder: ``out/<Class>/<class>_<seed>_<i>.<fmt>`` plus a ``truth.jsonl`` index.

    ``size`` is (rows, cols) or ``"mixed"``; ``bits`` 8, 16 or 0 (mostly 8-bit, one frame in ten
    16-bit). ``folder_of(name, i)`` and ``overrides_of(name, i)`` let callers lay out other sets
    (the alignment set uses them); frame seeds depend only on ``seed`` and ``i``, so the files are
    the same whatever ``workers`` (processes) render them.
    """
    suffix = {"png": ".png", "tiff": ".tif", "tif": ".tif"}.get(fmt)
    if suffix is None:
        raise ConfigError(f"--format must be png or tiff, not {fmt!r}")
    if vendor not in VENDORS:
        raise ConfigError(f"vendor must be one of {VENDORS}, not {vendor!r}")
    tasks = [(str(out), name, folder_of(name, i) if folder_of else name, i, seed * 1_000_003 + i, size, bits,
              overrides_of(name, i) if overrides_of else {}, suffix, vendor, seed)
             for name in classes for i in range(per_class)]
    index = []
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            for row in pool.map(_make, tasks, chunksize=4):
                index.append(row)
                if progress:
                    progress(len(index), len(tasks))
    else:
        for task in tasks:
            index.append(_make(task))
            if progress:
                progress(len(index), len(tasks))
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "truth.jsonl").write_text("".join(json.dumps(row) + "\n" for row in index), encoding="utf-8")
    return [Path(out) / row["file"] for row in index]
