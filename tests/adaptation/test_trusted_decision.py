"""The classify analyzer's decision with an adapted model: accepted only when the model can vouch for it."""
from __future__ import annotations

from nanoaid_daemon.sidecar import CLASSES
from nanoaid_plugins.analyzer_classify.decision import decide_trusted, prediction_set


def _scores(**top: float) -> dict[str, float]:
    rest = (1.0 - sum(top.values())) / (len(CLASSES) - len(top))
    return {c: top.get(c, rest) for c in CLASSES}


def test_confident_familiar_single_class_frame_is_accepted():
    label, _, decision, suggestions, pset = decide_trusted(_scores(Tips=0.95), 0.8, 0.35, qhat=0.5, ood=1.0,
                                                           ood_threshold=2.0)
    assert (label, decision, suggestions, pset) == ("Tips", "accepted", [], ["Tips"])


def test_unfamiliar_frame_is_never_accepted_however_confident():
    _, _, decision, suggestions, _ = decide_trusted(_scores(Tips=0.99), 0.8, 0.35, qhat=0.5, ood=2.5,
                                                    ood_threshold=2.0)
    assert decision == "review" and suggestions[0] == "Tips" and len(suggestions) == 2


def test_wide_prediction_set_blocks_acceptance_and_is_offered_for_review():
    scores = _scores(Tips=0.82, Powder=0.15)
    _, _, decision, suggestions, pset = decide_trusted(scores, 0.8, 0.35, qhat=0.9, ood=0.5, ood_threshold=2.0)
    assert decision == "review" and pset[:2] == ["Tips", "Powder"] and suggestions == pset


def test_prediction_set_is_never_empty_and_ordered_by_score():
    scores = _scores(Fibres=0.3, Tips=0.25)
    assert prediction_set(scores, qhat=0.0) == ["Fibres"]
    assert prediction_set(scores, qhat=0.76)[:2] == ["Fibres", "Tips"]
