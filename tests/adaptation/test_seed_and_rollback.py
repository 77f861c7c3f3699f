"""`models adapt --into-state` seeds a daemon's state folder; fits are deterministic; rollback moves the pointer."""
from __future__ import annotations

import json

from nanoaid_daemon.adaptation.store import Store
from nanoaid_daemon.cli import main
from nanoaid_daemon.modelcard import load_card
from nanoaid_daemon.synth import render, write_frame


def _labelled(root, plan):
    for cls, n in plan.items():
        (root / cls).mkdir(parents=True)
        for i in range(n):
            write_frame(render(cls, seed=300 + i + 7 * len(cls), size=(160, 208), bits=8), root / cls / f"{i}.png")
    return root


def test_seeding_twice_from_the_same_frames_gives_byte_identical_models_and_rollback_returns_to_shipped(tmp_path,
                                                                                                        capsys):
    labelled = _labelled(tmp_path / "lab", {"Particles": 2, "Fibres": 2})
    cards = []
    for name in ("s1", "s2"):
        assert main(["models", "adapt", str(labelled), "--into-state", str(tmp_path / name), "--threads", "1"]) == 0
        store = Store(tmp_path / name)
        assert store.versions() == [1] and store.current() == 1
        assert len(list(store.seed_dir.glob("*.npz"))) == 4
        cards.append(load_card(store.folder(1) / "nffa-classifier.card.json"))
    assert cards[0].sha256 == cards[1].sha256, "the same support must give the same model"
    assert cards[0].training["support"]["counts"]["Particles"] == 2

    assert main(["models", "rollback", "--state", str(tmp_path / "s1")]) == 0
    assert Store(tmp_path / "s1").current() == 0
    assert json.loads((tmp_path / "s1/adaptation/current.json").read_text())["version"] == 0
    assert main(["models", "rollback", "--state", str(tmp_path / "s1"), "--to", "1"]) == 0
    assert Store(tmp_path / "s1").current() == 1
    capsys.readouterr()
    assert main(["models", "rollback", "--state", str(tmp_path / "s1"), "--to", "7"]) == 2
    assert "version 7 does not exist" in capsys.readouterr().err
    assert Store(tmp_path / "s1").current() == 1, "a refused rollback changes nothing"


def test_rollback_without_adapted_models_is_a_clear_error(tmp_path, capsys):
    assert main(["models", "rollback", "--state", str(tmp_path)]) == 2
    assert "no adapted models" in capsys.readouterr().err
