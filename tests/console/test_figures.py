"""What the pages compute, without a server: queue order, chart geometry, Prometheus figures."""
from __future__ import annotations

from pathlib import Path

import pytest
from bus.conftest import processed_frame
from prometheus_client.parser import text_string_to_metric_families

from nanoaid_daemon.console.health import gather, metrics_text
from nanoaid_daemon.console.render import rose_wedges, score_bars
from nanoaid_daemon.console.store import Store
from nanoaid_daemon.corrections import Corrections
from nanoaid_daemon.errors import ConfigError
from nanoaid_daemon.journal import Journal
from nanoaid_daemon.sidecar import Alignment, Histogram, Sidecar
from nanoaid_daemon.uploader.progress import Progress


@pytest.fixture
def state(tmp_path) -> Path:
    return tmp_path / "state"


def make_frames(state: Path, folder: Path, n: int) -> list[str]:
    journal = Journal(state / "journal.sqlite3")
    try:
        return [processed_frame(journal, folder, f"f{i}.png", seed=i + 1) for i in range(n)]
    finally:
        journal.close()


def test_review_queue_is_oldest_first_and_a_corrected_frame_leaves_it(state, tmp_path):
    ids = make_frames(state, tmp_path / "frames", 3)
    store = Store(state)
    assert [f.frame_id for f in store.review_queue()] == ids and store.review_waiting() == 3
    journal = Journal(state / "journal.sqlite3")
    try:
        Corrections(journal).apply(ids[0], "Tips", operator="ana")
    finally:
        journal.close()
    assert [f.frame_id for f in store.review_queue()] == ids[1:] and store.review_waiting() == 2


def test_a_missing_journal_is_a_configuration_error_naming_the_folder(tmp_path):
    with pytest.raises(ConfigError, match="no journal at"):
        Store(tmp_path / "nowhere")


def test_unknown_or_malformed_ids_find_no_frame(state, tmp_path):
    make_frames(state, tmp_path / "frames", 1)
    store = Store(state)
    assert store.frame("0" * 64) is None and store.frame("../../etc/passwd") is None


def test_rose_plot_draws_the_dominant_bin_longest_and_both_ways(state, tmp_path):
    make_frames(state, tmp_path / "frames", 1)
    store = Store(state)
    frame = store.review_queue()[0]
    sidecar = store.sidecar(frame)
    assert sidecar is not None
    counts = [0.0] * 18
    counts[0] = 0.7  # 0–10°: along the x axis
    counts[9] = 0.3
    sidecar = sidecar.model_copy(update={"alignment": Alignment(
        coherency=0.8, orientation_deg=5.0, aligned_fraction=0.7,
        histogram=Histogram(bin_width_deg=10.0, start_deg=0.0, counts=counts))})
    wedges = rose_wedges(Sidecar.model_validate(sidecar.model_dump(by_alias=True)))
    assert len(wedges) == 36  # each axial bin at θ and θ + 180°
    longest = max(wedges, key=lambda w: w["share"])
    start = longest["d"].split(" L")[1].split(" A")[0]
    x, y = (float(v) for v in start.split(","))
    assert x == pytest.approx(90.0) and y == pytest.approx(0.0)  # full radius, pointing right


def test_score_bars_put_the_label_first(state, tmp_path):
    make_frames(state, tmp_path / "frames", 1)
    store = Store(state)
    sidecar = store.sidecar(store.review_queue()[0])
    assert sidecar is not None
    bars = score_bars(sidecar)
    assert bars[0]["top"] and bars[0]["cls"] == "Particles" and len(bars) == 10


def test_metrics_carry_the_journal_figures_and_the_uploaders_lag(state, tmp_path):
    make_frames(state, tmp_path / "frames", 2)
    with Progress(tmp_path / "upload" / "progress.sqlite3") as progress:
        progress.set_meta(last_seq=1)
    figures = gather(Store(state), upload_state=tmp_path / "upload")
    families = {f.name: f for f in text_string_to_metric_families(metrics_text(figures).decode())}
    value = {name: fam.samples[0].value for name, fam in families.items() if fam.samples}
    assert value["nanoaid_frames_processed"] == 2 and value["nanoaid_last_seq"] == 2
    assert value["nanoaid_review_waiting"] == 2 and value["nanoaid_daemon_up"] == 0
    assert value["nanoaid_uploader_lag_events"] == 1
    assert families["nanoaid_model_info"].samples[0].labels["name"] == "m"


def test_model_adapted_events_reach_the_health_figures(state, tmp_path):
    from nanoaid_daemon.events import AdaptedModel, Event

    make_frames(state, tmp_path / "frames", 1)
    journal = Journal(state / "journal.sqlite3")
    try:
        journal.append_event(Event(type="model.adapted", model=AdaptedModel(
            name="nffa-classifier", version="1.0.0+a1", sha256="1" * 64, support={"Tips": 3}, reason="corrections")))
    finally:
        journal.close()
    figures = gather(Store(state))
    assert [(e["type"], e["model"]["version"]) for e in figures["model_events"]] == [("model.adapted", "1.0.0+a1")]


def test_the_console_index_catches_up_from_the_journal_and_pages_its_hits(state, tmp_path):
    from nanoaid_daemon.console.search import PAGE_SIZE, SearchIndex

    ids = make_frames(state, tmp_path / "frames", PAGE_SIZE + 6)
    index = SearchIndex(state)
    try:
        assert index.catch_up(Store(state)) == len(ids)
        first, total = index.search("label:Particles", page=1)
        second, _ = index.search("label:Particles", page=2)
        assert total == len(ids) and len(first) == PAGE_SIZE and len(second) == 6
        assert {h["frame_id"] for h in first + second} == set(ids)
        assert index.search("label:Tips")[1] == 0
    finally:
        index.close()
    assert SearchIndex(state).resume_from == len(ids)  # a restart resumes, it does not re-read


def test_the_uploaders_catalogue_is_searched_read_only_when_given(state, tmp_path):
    from nanoaid_daemon.console.search import SearchIndex
    from nanoaid_daemon.uploader.catalogue import Catalogue

    make_frames(state, tmp_path / "frames", 2)
    store = Store(state)
    path = tmp_path / "upload" / "catalogue.sqlite3"
    with Catalogue(path) as catalogue:
        frame = store.review_queue()[0]
        sidecar = store.sidecar(frame)
        assert sidecar is not None
        catalogue.upsert(sidecar, sidecar_path=frame.sidecar_path, frame_path=frame.path)
    before = path.read_bytes()
    index = SearchIndex(state, catalogue=path)
    try:
        hits, total = index.search("label:Particles")
        assert total == 1 and hits[0]["frame_id"] == frame.frame_id
        assert index.catch_up(store) == 0  # nothing is written into the uploader's catalogue
    finally:
        index.close()
    assert path.read_bytes() == before
    with pytest.raises(ConfigError, match="--catalogue"):
        SearchIndex(state, catalogue=tmp_path / "missing.sqlite3")


def test_sessions_of_cookieless_clients_are_pruned_but_logins_kept():
    from nanoaid_daemon.console.security import Sessions

    sessions = Sessions(max_items=100)
    kept = sessions.new("maria", login=True)
    for _ in range(250):  # e.g. a scraper that never sends the cookie back
        sessions.new("local-user")
    assert len(sessions) <= 100
    assert sessions.get(kept.sid) is kept


def test_a_waiting_daemon_and_its_restarted_thread_reach_health_and_metrics(state, tmp_path):
    """The daemon's own health file (written each second by its supervisor) is what Health shows."""
    import os

    from nanoaid_daemon.bus.endpoints import Endpoints, write_endpoints
    from nanoaid_daemon.supervise import HEALTH_NAME, DaemonHealth, ThreadHealth

    make_frames(state, tmp_path / "frames", 1)
    write_endpoints(state, Endpoints(pub="tcp://127.0.0.1:1", replay="tcp://127.0.0.1:2",
                                     command="tcp://127.0.0.1:3", pid=os.getpid()))
    health = DaemonHealth(pid=os.getpid(), updated="2026-12-03T12:00:00+00:00", healthy=True, state="waiting",
                          waiting_for="state disk full", threads=[
                              ThreadHealth(name="settle", state="waiting", restarts=2, failures=2,
                                           last_error="OSError: [Errno 28] No space left on device")])
    (state / HEALTH_NAME).write_text(health.to_json(), encoding="utf-8")
    figures = gather(Store(state))
    assert (figures["daemon"]["state"], figures["daemon"]["waiting_for"]) == ("waiting", "state disk full")
    families = {f.name: f for f in text_string_to_metric_families(metrics_text(figures).decode())}
    assert families["nanoaid_daemon_healthy"].samples[0].value == 1
    [restarts] = [s for s in families["nanoaid_thread_restarts"].samples if s.name.endswith("_total")]
    assert (restarts.labels["thread"], restarts.value) == ("settle", 2)
