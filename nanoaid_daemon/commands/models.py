"""``nanoaid models list|verify|eval|eval-devset``: what is in the models folder, is it intact, how good is it."""
from __future__ import annotations

import sys
from pathlib import Path

from ..cli import EXIT_FAIL, EXIT_OK, add_config_option, settings_from_args
from ..errors import ModelUnavailable
from ..modelcard import find_cards, load_card, verify_model


def _models_dir(args) -> Path:
    if getattr(args, "models_dir", None):
        return args.models_dir
    return settings_from_args(args).models.resolved_dir()


def register(sub) -> None:
    p = sub.add_parser("models", help="list, verify or evaluate the ONNX models and their cards")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    for name, helptext, func in (("list", "models and their cards, with an integrity check", run_list),
                                 ("verify", "check every model against its card's sha256 (exit 1 on any failure)",
                                  run_verify)):
        q = msub.add_parser(name, help=helptext)
        q.add_argument("--models-dir", type=Path, help="default: models.dir from the configuration")
        add_config_option(q)
        q.set_defaults(func=func)
    e = msub.add_parser("eval", help="accuracy, per-class precision/recall, calibration on a labelled folder")
    e.add_argument("model", metavar="MODEL", help="model name in the models folder, a .card.json or an .onnx path")
    e.add_argument("data", type=Path, metavar="DATA", help="folder of class folders (NFFA layout)")
    e.add_argument("--out", type=Path, help="where eval.json and the PNGs go (default: ./eval-<model>)")
    e.add_argument("--split", choices=("all", "train", "val", "test"), default="all",
                   help="evaluate only one hash split (default all images)")
    e.add_argument("--limit", type=int, help="at most this many images")
    e.add_argument("--accept", type=float, help="override the card's accept threshold (0.8)")
    e.add_argument("--review", type=float, help="override the card's review threshold (0.35)")
    e.add_argument("--threads", type=int, default=2)
    e.add_argument("--models-dir", type=Path)
    e.add_argument("--few-shot", metavar="K", help="adapt on K frames per class (e.g. 5 or 1,3,5,10), score the rest")
    e.add_argument("--repeats", type=int, default=5, help="few-shot draws per K (default 5)")
    e.add_argument("--groups", type=Path, metavar="FILE", help="few-shot: CSV image,source for leave-source-out")
    e.add_argument("--json", action="store_true", help="few-shot: print the report as JSON")
    add_config_option(e)
    e.set_defaults(func=run_eval)
    g = msub.add_parser("eval-devset", help="evaluate on the development set (or any folder + groups.csv), by source")
    g.add_argument("model", metavar="MODEL", help="model name in the models folder, a .card.json or an .onnx path")
    g.add_argument("data", type=Path, metavar="DATA", help="folder written by datasets/devset/rebuild.py")
    g.add_argument("--groups", type=Path, help="file,source CSV (default DATA/groups.csv)")
    g.add_argument("--out", type=Path, help="where eval.json, confusion.png, predictions.jsonl go")
    g.add_argument("--threads", type=int, default=2)
    g.add_argument("--widths", type=Path, metavar="FILE",
                   help="file,field_width_um CSV: frames whose field width is known "
                   "(fed to a model with a scale input)")
    g.add_argument("--models-dir", type=Path)
    add_config_option(g)
    g.set_defaults(func=run_eval_devset)
    from .adapt import register_adapt

    register_adapt(msub)


def run_list(args) -> int:
    folder = _models_dir(args)
    cards = find_cards(folder)
    if not cards:
        print(f"no model cards in {folder} (set models.dir or NANOAID_MODELS__DIR)")
        return EXIT_FAIL
    print(f"models in {folder}")
    status = EXIT_OK
    for card_path in cards:
        try:
            card, model_path = verify_model(card_path)
            state = "ok"
        except ModelUnavailable as exc:
            status, state = EXIT_FAIL, f"BROKEN: {exc}"
            try:
                card = load_card(card_path)
            except ModelUnavailable:
                print(f"{card_path.name:<34} {state}")
                continue
        print(f"{card.name:<20} {card.version:<8} {card.task:<11} {card.size_bytes / 1e6:6.1f} MB  "
              f"sha256 {card.sha256[:12]}  {state}")
    return status


def run_verify(args) -> int:
    folder = _models_dir(args)
    cards = find_cards(folder)
    if not cards:
        print(f"nanoaid: no model cards (*.card.json) in {folder}", file=sys.stderr)
        return EXIT_FAIL
    failed = 0
    for card_path in cards:
        try:
            card, model_path = verify_model(card_path)
            _check_outputs(card, model_path)
            print(f"OK      {card.name} {card.version} ({model_path.name}, sha256 {card.sha256[:12]}…)")
        except ModelUnavailable as exc:
            failed += 1
            print(f"FAILED  {card_path.name}: {exc}", file=sys.stderr)
    return EXIT_FAIL if failed else EXIT_OK


def _check_outputs(card, model_path: Path) -> None:
    """The file must also load and expose the outputs its card promises."""
    from ..evaluation.report import Session

    names = set(Session(model_path, card.input, threads=1).outputs)
    missing = [o.name for o in card.outputs if o.name not in names]
    if missing:
        raise ModelUnavailable(f"{model_path} lacks outputs {missing} that its card lists")


def run_eval(args) -> int:
    if args.few_shot:
        from .adapt import run_few_shot

        return run_few_shot(args, _models_dir(args))
    from ..evaluation.report import evaluate_folder, resolve_model, summary_lines

    card, model_path, card_path = resolve_model(args.model, _models_dir(args))
    out = args.out or Path(f"eval-{card.name}")
    report = evaluate_folder(card_path, model_path, card, args.data, out, split=args.split, limit=args.limit,
                             accept=args.accept, review=args.review, threads=args.threads)
    for line in summary_lines(report):
        print(line)
    print(f"wrote {out / 'eval.json'}, {out / 'confusion.png'}, {out / 'reliability.png'}")
    return EXIT_OK


def run_eval_devset(args) -> int:
    from ..evaluation.grouped import evaluate_grouped
    from ..evaluation.report import resolve_model, summary_lines

    card, model_path, _ = resolve_model(args.model, _models_dir(args))
    out = args.out or Path(f"eval-devset-{card.name}")
    report = evaluate_grouped(card, model_path, args.data, args.groups or args.data / "groups.csv", out,
                              threads=args.threads, widths=args.widths)
    for line in summary_lines(report):
        print(line)
    grouped = report["by_source"]
    print(f"{'source':<40} {'n':>4} {'accuracy':>9} {'top-2':>7} {'accepted':>9}")
    for name, row in grouped["sources"].items():
        acc = "n/a" if row["accepted_fraction"] is None else f"{100 * row['accepted_fraction']:.0f} %"
        print(f"{name:<40} {row['n']:>4} {100 * row['accuracy']:>8.1f}% {100 * row['top2_accuracy']:>6.1f}% {acc:>9}")
    mean = grouped["mean_source_accuracy"]
    print(f"mean accuracy over sources: {'n/a' if mean is None else f'{100 * mean:.1f} %'}")
    if "with_field_width" in report:
        w = report["with_field_width"]
        print(f"frames with a field width: {w['n']}, accuracy {100 * w['accuracy']:.1f} % "
              f"({'width fed to the model' if w['fed_to_model'] else 'the model has no scale input'})")
    if "seen_sources" in report:
        seen = report["seen_sources"]
        k = len(seen["sources"])
        print(f"left out of every figure above: {seen['n']} frames from {k} source{'s' if k != 1 else ''} the model "
              f"was trained on (accuracy there {100 * seen['accuracy']:.1f} %, not independent)")
    print(f"wrote {out / 'eval.json'}, {out / 'confusion.png'}, {out / 'predictions.jsonl'}")
    return EXIT_OK
