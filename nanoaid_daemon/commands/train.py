"""``nanoaid train classifier|autoencoder|all``: training needs the [train] extra (CPU torch)."""
from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from ..cli import EXIT_OK
from ..config import default_models_dir
from ..training import AUTOENCODER_VERSION, CLASSIFIER_VERSION


def _say(text: str) -> None:
    print(f"train: {text}", file=sys.stderr, flush=True)


def _common(p, name: str, version: str) -> None:
    p.add_argument("--out", type=Path, default=None, help="models folder to write (default: the shipped models/)")
    p.add_argument("--name", default=name, help=f"model name, also the file names (default {name})")
    p.add_argument("--version", default=version, help=f"version written into the card (default {version})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch threads; keep fixed for byte-identical rebuilds")


def register(sub) -> None:
    p = sub.add_parser("train", help="train and export models (needs the [train] extra)")
    tsub = p.add_subparsers(dest="train_command", metavar="WHAT", required=True)
    c = tsub.add_parser("classifier", help="10-class classifier + alignment head from labelled class folders")
    c.add_argument("data", type=Path, nargs="+", metavar="DATA", help="folder(s) of class folders (the NFFA layout)")
    _common(c, "nffa-classifier", CLASSIFIER_VERSION)
    c.add_argument("--align", type=Path, help="folder with aligned/ and not_aligned/ nanowire images "
                                               "(default: a synthetic alignment set)")
    c.add_argument("--align-count", type=int, default=420, help="size of the synthetic alignment set")
    c.add_argument("--views", type=int, default=2, help="augmented views per training image")
    c.add_argument("--finetune-blocks", type=int, default=0, choices=range(0, 9), metavar="N",
                   help="also fine-tune the last N EfficientNet blocks (0-8; default 0: frozen backbone)")
    c.add_argument("--finetune-epochs", type=int, default=4)
    c.add_argument("--input-size", type=int, default=224, help="model input side in pixels (multiple of 32)")
    c.add_argument("--work", type=Path, default=Path(".cache/nanoaid-train"), help="scratch folder")
    c.add_argument("--no-scale", dest="scale", action="store_false",
                   help="no field-width input (default: one, where the data's truth.jsonl gives widths)")
    _devset(c)
    c.set_defaults(func=run_classifier)
    a = tsub.add_parser("autoencoder", help="convolutional autoencoder for AI-lens previews from any image folders")
    a.add_argument("data", type=Path, nargs="+", metavar="DATA")
    _common(a, "sem-autoencoder", AUTOENCODER_VERSION)
    a.add_argument("--epochs", type=int, default=4)
    a.add_argument("--max-images", type=int, default=None, help="use at most this many training images")
    a.add_argument("--input-size", type=int, default=256)
    a.set_defaults(func=run_autoencoder)
    al = tsub.add_parser("all", help="rebuild the shipped models from scratch (synthetic data, deterministic)")
    al.add_argument("--out", type=Path, default=None, help="models folder (default: the shipped models/)")
    al.add_argument("--work", type=Path, default=Path(".cache/nanoaid-train"), help="scratch folder for synthetic data")
    al.add_argument("--per-class", type=int, default=500, help="synthetic frames per class (default 500)")
    al.add_argument("--seed", type=int, default=2024)
    al.add_argument("--views", type=int, default=3, help="augmented views per training image")
    al.add_argument("--align-count", type=int, default=560, help="synthetic nanowire frames for the alignment head")
    al.add_argument("--ae-epochs", type=int, default=4)
    al.add_argument("--ae-images", type=int, default=1000)
    al.add_argument("--threads", type=int, default=2)
    al.add_argument("--no-scale", dest="scale", action="store_false", help="classifier without the field-width input")
    _devset(al)
    al.set_defaults(func=run_all)


def _devset(p) -> None:
    p.add_argument("--devset", type=Path, metavar="MANIFEST",
                   help="a development-set manifest (datasets/devset/manifest.csv): its committed real frames join "
                        "the classifier's final head (python3 dev.py models passes it)")
    p.add_argument("--devset-weight", type=int, default=10, metavar="W",
                   help="each real view counts W times next to the synthetic ones (default 10)")


def _command() -> str:
    return "nanoaid " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def run_classifier(args) -> int:
    from ..training import require_torch

    require_torch()
    from ..training.classifier import ClassifierOptions, train_classifier

    if args.input_size % 32:
        from ..errors import ConfigError
        raise ConfigError(f"--input-size must be a multiple of 32, not {args.input_size}")
    opts = ClassifierOptions(data=list(args.data), out=args.out or default_models_dir(), align=args.align,
                             name=args.name, version=args.version, input_size=args.input_size, views=args.views,
                             finetune_blocks=args.finetune_blocks, finetune_epochs=args.finetune_epochs,
                             seed=args.seed, threads=args.threads, work=args.work, align_synthetic=args.align_count,
                             scale=args.scale, devset=args.devset, devset_weight=args.devset_weight,
                             command=_command(), say=_say)
    summary = train_classifier(opts)
    print(json.dumps({k: summary[k] for k in ("model", "card", "test", "alignment", "duration_s")}, indent=2))
    return EXIT_OK


def run_autoencoder(args) -> int:
    from ..training import require_torch

    require_torch()
    from ..training.pipeline import AutoencoderOptions, train_autoencoder

    opts = AutoencoderOptions(data=list(args.data), out=args.out or default_models_dir(), name=args.name,
                              version=args.version, input_size=args.input_size, epochs=args.epochs,
                              max_images=args.max_images, seed=args.seed, threads=args.threads,
                              command=_command(), say=_say)
    print(json.dumps(train_autoencoder(opts), indent=2))
    return EXIT_OK


def run_all(args) -> int:
    from ..training import require_torch

    require_torch()
    from ..training.pipeline import AllOptions, train_all

    opts = AllOptions(out=args.out or default_models_dir(), work=args.work, per_class=args.per_class, seed=args.seed,
                      views=args.views, align_count=args.align_count, ae_epochs=args.ae_epochs,
                      ae_images=args.ae_images, threads=args.threads, scale=args.scale, devset=args.devset,
                      devset_weight=args.devset_weight, say=_say)
    summary = train_all(opts)
    c, a = summary["classifier"], summary["autoencoder"]
    _say(f"done in {summary['total_s']:.0f} s: {c['model']} (synthetic test accuracy "
         f"{(c['test'] or {}).get('accuracy')}), {a['model']}")
    return EXIT_OK
