"""``nanoaid synth OUT --per-class N --seed S``: an NFFA-style folder of synthetic SEM frames."""
from __future__ import annotations

import sys
from pathlib import Path

from ..cli import EXIT_OK
from ..errors import ConfigError
from ..sidecar import CLASSES


def _size(text: str):
    if text == "mixed":
        return "mixed"
    try:
        cols, rows = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size must be WIDTHxHEIGHT (e.g. 1024x768) or 'mixed', not {text!r}") from None
    return rows, cols


def register(sub) -> None:
    p = sub.add_parser("synth", help="write synthetic SEM frames in class folders (NFFA layout)")
    p.add_argument("out", type=Path, metavar="OUT", help="folder to create (class sub-folders inside)")
    p.add_argument("--per-class", type=int, default=10, metavar="N", help="frames per class (default 10)")
    p.add_argument("--seed", type=int, default=0, help="same seed, same files (default 0)")
    p.add_argument("--format", choices=("png", "tiff"), default="png",
                   help="png (training) or tiff with vendor metadata")
    p.add_argument("--vendor", choices=("fei", "zeiss", "none"), default="fei",
                   help="TIFF metadata flavour (default fei)")
    p.add_argument("--size", default="1024x768", help="WIDTHxHEIGHT incl. databar, or 'mixed' (the training mix)")
    p.add_argument("--bits", choices=("8", "16", "mixed"), default="8", help="sample depth (mixed: 1 in 10 is 16-bit)")
    p.add_argument("--classes", default=",".join(CLASSES), help="comma-separated subset of the classes")
    p.add_argument("--workers", type=int, default=1, help="render in this many processes (same files either way)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..synth import write_dataset

    if args.per_class < 1:
        raise ConfigError("--per-class must be at least 1")
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    unknown = [c for c in classes if c not in CLASSES]
    if unknown:
        raise ConfigError(f"unknown class(es) {unknown}; choose from {', '.join(CLASSES)}")
    total = len(classes) * args.per_class

    def progress(done: int, _total: int) -> None:
        if done % 50 == 0 or done == total:
            print(f"synth: {done}/{total} frames", file=sys.stderr)

    written = write_dataset(args.out, args.per_class, args.seed, fmt=args.format, classes=classes,
                            size=_size(args.size), bits={"8": 8, "16": 16, "mixed": 0}[args.bits],
                            vendor=args.vendor, workers=max(1, args.workers), progress=progress)
    print(f"wrote {len(written)} frames to {args.out} (truth in {args.out / 'truth.jsonl'})")
    return EXIT_OK
