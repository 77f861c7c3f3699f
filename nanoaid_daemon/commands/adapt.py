"""``nanoaid models adapt`` and ``nanoaid models rollback``: a facility's own classifier head.

``adapt LABELLED_DIR --out MODELS_DIR`` writes a complete models folder (use it with
``NANOAID_MODELS__DIR=MODELS_DIR``); ``--into-state STATE`` instead seeds a daemon's state folder,
whose live loop then adds the operators' corrections to that support. ``rollback --state STATE``
points the daemon back at the previous version (a running daemon follows within a second).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..cli import EXIT_OK, add_config_option, settings_from_args
from ..errors import ConfigError

__all__ = ["register_adapt"]


def register_adapt(msub) -> None:
    a = msub.add_parser("adapt", help="fit the classifier head to a facility's labelled frames (numpy, seconds)")
    a.add_argument("labelled", type=Path, metavar="LABELLED_DIR", help="one sub-folder per class (NFFA names)")
    target = a.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, metavar="MODELS_DIR", help="write a complete models folder here")
    target.add_argument("--into-state", type=Path, metavar="STATE", help="seed a daemon's state folder instead")
    a.add_argument("--base", default="nffa-classifier", help="base classifier card name (default nffa-classifier)")
    a.add_argument("--models-dir", type=Path, help="where the base model is (default: models.dir)")
    a.add_argument("--threads", type=int, default=2)
    a.add_argument("--keep-base-head", action="store_true",
                   help="keep the base model's scores; only add the trust gate (OOD score, prediction sets, "
                        "calibrated accept) fitted on these frames")
    a.add_argument("--json", action="store_true", help="print the card's figures as one JSON line")
    add_config_option(a)
    a.set_defaults(func=run_adapt)
    r = msub.add_parser("rollback", help="serve the previous adapted version (or --to N; 0 = the shipped model)")
    r.add_argument("--state", type=Path, required=True, help="the daemon's state folder")
    r.add_argument("--to", type=int, help="version to serve; default: the one before the current")
    r.set_defaults(func=run_rollback)


def _context(args):
    from ..host import PluginHost
    from ..inference import Runtime

    settings = settings_from_args(args)
    base_dir = args.models_dir or settings.models.resolved_dir()
    runtime = Runtime(base_dir, providers=["CPUExecutionProvider"], threads=max(1, args.threads))
    host = PluginHost.load(settings, kinds=("reader",))
    return runtime, runtime.model(args.base), host, base_dir


def run_adapt(args) -> int:
    from ..adaptation.build import adapt_folder, check_out_dir

    runtime, base, host, base_dir = _context(args)
    if args.into_state is not None:
        return _seed_state(args, base, host)
    check_out_dir(args.out, base_dir)
    if args.out.exists() and any(args.out.iterdir()):
        raise ConfigError(f"--out {args.out} exists and is not empty; choose a new folder")
    from ..adaptation.fit import FitOptions

    opts = FitOptions(keep_base_head=args.keep_base_head)
    name = f"{args.base}-gated" if args.keep_base_head else f"{args.base}-adapted"
    result = adapt_folder(args.labelled, args.out, base, reader_host=host, options=opts, name=name)
    _report(args, result.card, f"wrote {args.out} in {result.seconds:.1f} s "
            f"(use it with NANOAID_MODELS__DIR={args.out} or models.dir)")
    return EXIT_OK


def _seed_state(args, base, host) -> int:
    """Embed the folder into STATE/adaptation/seed and fit version N+1 from seed + corrections."""
    from ..adaptation.build import SupportFrame, fit_and_write
    from ..adaptation.store import Store
    from ..adaptation.support import embed_frames, read_pixels
    from ..evaluation.folders import scan_labelled

    store = Store(args.into_state)
    items = scan_labelled(args.labelled)
    for item in items:
        s = embed_frames(base, [(read_pixels(host, item.path), item.label)])
        store.save_embedding(store.seed_dir, item.sha256,
                             {"emb": s.emb, "base_probs": s.base_probs, "label": item.label})
    from ..adaptation.service import _stack

    seeds = store.load_embeddings(store.seed_dir)
    keys = sorted(seeds)
    support = _stack([(seeds[k], int(seeds[k]["label"])) for k in keys])
    frames = [SupportFrame(k, int(seeds[k]["label"]), k) for k in keys]
    version, tmp = store.new_build_dir()
    result = fit_and_write(support, frames, tmp, base, name=f"{args.base}-adapted", version=str(version),
                           extra={"live": {"corrections": 0, "state_version": version,
                                           "seeded_from": str(args.labelled)}})
    store.commit(version, tmp)
    store.set_current(version, corrections_seen=0)  # a daemon adds its journal's corrections at once
    _report(args, result.card, f"seeded {args.into_state} with {len(items)} frames: version {version} in use "
            "(a running daemon serves it within a second and adds its corrections at the next re-fit)")
    return EXIT_OK


def _report(args, card, line: str) -> None:
    cv = card.metrics.get("cross_validated_on_support", {})
    if args.json:
        print(json.dumps({"name": card.name, "version": card.version, "sha256": card.sha256,
                          "support": card.training["support"]["counts"], "metrics": cv}))
        return
    counts = {k: v for k, v in card.training["support"]["counts"].items() if v}
    print(line)
    print(f"support: {counts}")
    print("cross-validated on the support: " + ", ".join(f"{k} {v}" for k, v in cv.items()))


def run_rollback(args) -> int:
    from ..adaptation.store import Store

    store = Store(args.state)
    if not store.root.is_dir():
        raise ConfigError(f"{args.state} has no adapted models (no {store.root}); nothing to roll back")
    before = store.current()
    after = store.rollback(args.to)
    what = f"version {after}" if after else "the shipped model"
    print(f"{args.state}: adapted version {before} → {what}" + (" (the daemon follows within a second)"
                                                               if os.path.exists(Path(args.state) / "endpoints.json")
                                                               else ""))
    return EXIT_OK


def run_few_shot(args, models_dir: Path) -> int:
    """``nanoaid models eval MODEL DIR --few-shot K``: adapted vs shipped on the frames not labelled."""
    from ..adaptation.fewshot import accuracy_png, embed_folder, few_shot, read_groups
    from ..host import PluginHost
    from ..inference import Runtime

    try:
        ks = sorted({int(k) for k in str(args.few_shot).split(",")})
    except ValueError:
        raise ConfigError(f"--few-shot {args.few_shot!r}: give K or a list such as 1,3,5") from None
    if not ks or min(ks) < 1 or args.repeats < 1:
        raise ConfigError("--few-shot K and --repeats must be at least 1")
    runtime = Runtime(models_dir, providers=["CPUExecutionProvider"], threads=max(1, args.threads))
    base = runtime.model(Path(args.model).name.removesuffix(".card.json").removesuffix(".onnx"))
    support, paths = embed_folder(args.data, base, PluginHost.load(settings_from_args(args), kinds=("reader",)))
    groups = read_groups(args.groups, args.data, paths) if args.groups else None
    report = few_shot(support, ks, args.repeats, groups=groups)
    out = args.out or Path(f"eval-{base.card.name}-few-shot")
    out.mkdir(parents=True, exist_ok=True)
    (out / "few-shot.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    accuracy_png(report, out / "accuracy-vs-k.png")
    if args.json:
        print(json.dumps(report))
        return EXIT_OK
    print(f"{report['frames']} frames, {report['repeats']} draws per K; figures on the frames not used as support")
    print("K    model      accuracy  macro-recall  accepted(prec.)   set coverage (review)  mean set")
    for k, entry in report["per_k"].items():
        for name, m in entry.items():
            print(f"{k:<4} {name[:24]:<10} {_p(m.get('accuracy'))}  {_p(m.get('macro_recall'))}      "
                  f"{_p(m.get('accepted_fraction'))} ({_p(m.get('accepted_precision'))})   "
                  f"{_p(m.get('set_coverage'))} ({_p(m.get('review_set_coverage'))})      {m.get('mean_set_size', 2)}")
    print(f"wrote {out / 'few-shot.json'}, {out / 'accuracy-vs-k.png'}")
    return EXIT_OK


def _p(v) -> str:
    return "   -  " if v is None else f"{100 * v:5.1f}%"
