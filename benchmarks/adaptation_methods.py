"""Which head? Measured, not assumed: prototype vs logistic, with/without augmented support views,
test-time augmentation, L2 strength, and mixing with the shipped prior when classes lack support.

Embeds a labelled folder once (clean view + the 5 fitting augmentations; cached in --cache), then for
K support frames per class (repeated draws) scores the other frames' clean views.

    .venv/bin/python benchmarks/adaptation_methods.py DIR [--ks 1,3,5] [--repeats 5] [--cache FILE]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from nanoaid_daemon.adaptation.fit import Support
from nanoaid_daemon.adaptation.head import fit_head, mix_with_base, softmax, unit
from nanoaid_daemon.config import default_models_dir, load_settings
from nanoaid_daemon.host import PluginHost
from nanoaid_daemon.inference import Runtime
from nanoaid_daemon.sidecar import CLASSES

VIEWS = 6  # clean + flip_h, flip_v, rot90, crop_tl, crop_br
TTA = [0, 1, 2, 3]  # clean + flips + quarter turn (crops change the field of view)


def _load(data: Path, cache: Path) -> Support:
    if cache.is_file():
        with np.load(cache) as d:
            return Support(d["emb"], d["base_probs"], d["label"], d["frame"], d["clean"])
    from nanoaid_daemon.adaptation.fewshot import embed_folder

    runtime = Runtime(default_models_dir(), providers=["CPUExecutionProvider"], threads=2)
    host = PluginHost.load(load_settings(), kinds=("reader",))
    support, _ = embed_folder(data, runtime.model("nffa-classifier"), host)
    np.savez(cache, emb=support.emb, base_probs=support.base_probs, label=support.label, frame=support.frame,
             clean=support.clean)
    return support


def _prototype(x, y):
    means = np.zeros((len(CLASSES), x.shape[1]))
    present = np.zeros(len(CLASSES), bool)
    for c in np.unique(y):
        m = x[y == c].mean(axis=0)
        means[c], present[c] = m / np.linalg.norm(m), True
    return lambda q: np.where(present, 20 * q @ means.T / np.sqrt(q.shape[1]), -1e4), present


def _logistic(x, y, l2):
    head = fit_head(x, y, len(CLASSES), l2=l2)
    return head.logits, head.supported


def run(support: Support, ks, repeats: int) -> dict:
    x = unit(support.emb)
    n_frames = int(support.frame.max()) + 1
    y = support.label[support.clean]
    view = np.arange(len(x)) - np.repeat(np.arange(n_frames) * VIEWS, VIEWS)
    variants = {
        "prototype, clean only": ("proto", False, False, 1e-3, True),
        "prototype + augmented views": ("proto", True, False, 1e-3, True),
        "logistic, clean only": ("logit", False, False, 1e-3, True),
        "logistic + augmented views (chosen)": ("logit", True, False, 1e-3, True),
        "logistic + augmented views + TTA": ("logit", True, True, 1e-3, True),
        "logistic + augmented, l2=1e-4": ("logit", True, False, 1e-4, True),
        "logistic + augmented, l2=1e-2": ("logit", True, False, 1e-2, True),
    }
    out: dict = {}
    for k in ks:
        res: dict[str, list] = {name: [] for name in variants}
        res["half the classes labelled: with shipped prior (chosen)"] = []
        res["half the classes labelled: head only"] = []
        res["shipped model"] = []
        for r in range(repeats):
            rng = np.random.default_rng(100 * k + r)
            train = np.concatenate([rng.choice(np.flatnonzero(y == c), k, replace=False) for c in np.unique(y)])
            query = np.setdiff1d(np.arange(n_frames), train)
            qy = y[query]
            res["shipped model"].append(float((support.base_probs[query * VIEWS].argmax(1) == qy).mean()))
            for name, (kind, aug, tta, l2, _) in variants.items():
                rows = np.isin(support.frame, train) & (np.ones(len(x), bool) if aug else view == 0)
                logits, _ = _prototype(x[rows], support.label[rows]) if kind == "proto" else \
                    _logistic(x[rows], support.label[rows], l2)
                qv = TTA if tta else [0]
                p = np.mean([softmax(logits(x[query * VIEWS + v])) for v in qv], axis=0)
                res[name].append(float((p.argmax(1) == qy).mean()))
            half = train[np.isin(y[train], np.arange(0, 10, 2))]
            rows = np.isin(support.frame, half)
            logits, sup = _logistic(x[rows], support.label[rows], 1e-3)
            hp = softmax(logits(x[query * VIEWS]))
            mixed = mix_with_base(hp, support.base_probs[query * VIEWS], sup)
            res["half the classes labelled: with shipped prior (chosen)"].append(float((mixed.argmax(1) == qy).mean()))
            res["half the classes labelled: head only"].append(float((hp.argmax(1) == qy).mean()))
        out[str(k)] = {name: round(float(np.mean(v)), 4) for name, v in res.items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path)
    ap.add_argument("--ks", default="1,3,5")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cache", type=Path, default=Path(".cache/adaptation-methods.npz"))
    args = ap.parse_args()
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # as nanoaid_daemon.adaptation.fit does
        report = run(_load(args.data, args.cache), [int(k) for k in args.ks.split(",")], args.repeats)
    print(json.dumps(report, indent=2))
    names = list(next(iter(report.values())))
    print("\naccuracy on frames not used as support (mean over draws)")
    print("method".ljust(58) + "".join(f"K={k:<7}" for k in report))
    for name in names:
        print(name.ljust(58) + "".join(f"{100 * report[k][name]:5.1f} %  " for k in report))


if __name__ == "__main__":
    main()
