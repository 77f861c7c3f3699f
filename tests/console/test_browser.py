"""The console in a real browser beside a real daemon: live wall, one-click review, search, metrics.

A daemon runs in this process with the full pipeline (classifier, alignment, previews) on real
ZeroMQ sockets; the console runs as its own server process; Debian's chromium loads its pages.
The module saves a 1440×900 screenshot of every page into docs/console/.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from daemon.helpers import running_daemon, wait_for
from prometheus_client.parser import text_string_to_metric_families

from nanoaid_daemon.bus.client import Subscriber
from nanoaid_daemon.journal import FrameRecord, Journal
from nanoaid_daemon.sidecar import CLASSES, Sidecar
from nanoaid_daemon.synth import render, write_frame

from .conftest import ROOT, console_process

SHOTS = ROOT / "docs" / "console"
XSS_NAME = "probe<script><img src=x onerror=window.pwned=1>.tif"


def save_frame(watch: Path, index: int, name: str | None = None) -> Path:
    cls = CLASSES[index % len(CLASSES)]
    path = watch / (name or f"sample_{index:03d}_{cls.lower()}.tif")
    write_frame(render(cls, 100 + index, size=(384, 512)), path, vendor=("fei", "zeiss", "none")[index % 3])
    return path


def frame_row(state: Path, frame_id: str) -> FrameRecord:
    journal = Journal(state / "journal.sqlite3")
    try:
        row = journal.frame(frame_id)
    finally:
        journal.close()
    assert row is not None, frame_id
    return row


def processed_count(daemon) -> int:
    return len(daemon.journal.events(type="frame.processed"))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A daemon (accepting at 0.9, not 0.8, so the review queue fills) with ten frames, and a console following it."""
    root = tmp_path_factory.mktemp("console")
    watch, state = root / "watch", root / "state"
    watch.mkdir()
    settings = {"plugins": {"disabled": []}, "models": {"accept_threshold": 0.9}}
    with running_daemon(watch, state, bus=True, **settings) as daemon:
        for i in range(10):
            save_frame(watch, i)
        wait_for(lambda: processed_count(daemon) >= 10, 180, message="ten frames processed")
        with console_process(state, operator="ana") as console:
            yield {"daemon": daemon, "watch": watch, "state": state, "console": console}


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_live_page_shows_new_frames_without_a_reload(world, page):
    console = world["console"]
    page.goto(console.url + "/")
    assert page.locator(".tile").count() >= 10  # the first response already lists the newest frames
    page.evaluate("window.__sameDocument = true")
    page.wait_for_selector("[data-conn].on")
    new = save_frame(world["watch"], 10, "arrived_while_watching.tif")
    save_frame(world["watch"], 11, XSS_NAME)
    page.locator(".tile .name", has_text=new.name).wait_for()
    page.locator(".tile .name", has_text="probe<script>").wait_for()
    (world["watch"] / "cut_short.tif").write_bytes(b"II*\x00 this save was cut short")
    rejected = page.locator(".tile.tone-rejected", has_text="cut_short.tif")
    rejected.wait_for()
    assert rejected.locator(".reason").text_content().strip()  # the reason is shown
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    names = page.locator(".tile .name").all_text_contents()
    assert len(names) == len(set(names))  # the stream starts after the page's seq: nothing shown twice
    assert XSS_NAME in names  # the hostile name is text, not markup
    assert page.evaluate("window.pwned") is None
    wait_for(lambda: processed_count(world["daemon"]) >= 12, 120)
    page.reload()
    assert XSS_NAME in page.locator(".tile .name").all_text_contents()  # server-rendered, escaped too
    assert page.evaluate("window.pwned") is None
    shot(page, "live")


def test_a_review_frame_is_corrected_with_one_click(world, page):
    console, state = world["console"], world["state"]
    page.goto(console.url + "/review")
    waiting = int(page.locator(".waiting").text_content())
    assert waiting >= 1
    shot(page, "review")
    action = page.locator("form[data-choices]").get_attribute("action") or ""
    found = re.fullmatch(r"/review/([0-9a-f]{64})", action)
    assert found is not None, action
    frame_id = found.group(1)
    model_label = frame_row(state, frame_id).label or ""
    target = page.locator("button.choice").filter(has_not_text=model_label.replace("_", " ")).first
    chosen = target.get_attribute("value")
    target.click()
    page.wait_for_url(re.compile(r"/review\?done="))
    assert int(page.locator(".waiting").text_content()) == waiting - 1
    assert page.locator("form[data-choices]").get_attribute("action") != action  # the next frame came up

    journal = Journal(state / "journal.sqlite3")
    try:
        corrections = [c for c in journal.corrections() if c["frame_id"] == frame_id]
    finally:
        journal.close()
    row = frame_row(state, frame_id)
    assert row.sidecar_path is not None
    assert (row.label, row.decision, row.sidecar_version) == (chosen, "accepted", 2)
    assert [(c["label"], c["previous_label"], c["operator"]) for c in corrections] == [(chosen, model_label, "ana")]
    sidecar = Sidecar.model_validate_json(Path(row.sidecar_path).read_bytes())
    assert sidecar.version == 2 and sidecar.corrections[-1].label == chosen
    assert sidecar.classification is not None
    assert sidecar.classification.label == model_label  # the model's own call is kept
    with Subscriber(state_dir=state, since=0, types=("label.",), idle_timeout=5) as sub:
        events = [e for e in sub if e.frame_id == frame_id]
    assert [(e.summary.label, e.summary.operator) for e in events if e.summary] == [(chosen, "ana")]


def test_keys_confirm_the_models_label(world, page):
    console = world["console"]
    page.goto(console.url + "/review")
    action = page.locator("form[data-choices]").get_attribute("action") or ""
    first = page.locator("button.choice").first
    key, label = first.get_attribute("data-key") or "", first.get_attribute("value")
    page.keyboard.press(key)
    page.wait_for_url(re.compile(r"/review\?done="))
    assert frame_row(world["state"], action.rsplit("/", 1)[1]).label == label


def test_frame_page_shows_the_full_record(world, page):
    console, daemon = world["console"], world["daemon"]
    corrected = daemon.journal.corrections()[0]["frame_id"]
    page.goto(f"{console.url}/frames/{corrected}")
    assert page.locator("svg.bars rect.bar").count() == len(CLASSES)
    assert page.locator("svg.rose path.wedge").count() > 0
    assert page.locator(".lens img").count() == 2
    assert page.locator(".history li").count() == 2  # the model's version and the correction
    assert page.locator("table.meta th", has_text="Beam energy").count() + page.locator(
        "table.meta th", has_text="Magnification").count() >= 0
    with page.expect_download() as download:
        page.locator("a[download]").click()
    assert json.loads(Path(download.value.path()).read_text())["version"] == 2
    shot(page, "frame")


def test_search_finds_a_frame_by_label(world, page):
    console, daemon = world["console"], world["daemon"]
    corrected = daemon.journal.corrections()[0]
    name = Path(daemon.journal.frame(corrected["frame_id"]).path).name
    page.goto(console.url + "/search")
    page.fill("input[name=q]", f"label:{corrected['label']} corrected:yes")
    page.press("input[name=q]", "Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    assert name in page.locator(".tile .name").all_text_contents()
    page.goto(console.url + "/search?q=decision%3Areview")
    shot(page, "search")
    page.goto(console.url + "/search?q=label%3ANope")
    assert "not one of" in page.locator(".error").text_content()


def test_metrics_parse_and_match_the_health_page(world, page):
    console, daemon = world["console"], world["daemon"]
    status, body = console.get("/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    value = {name: fam.samples[0].value for name, fam in families.items() if fam.samples}
    assert value["nanoaid_daemon_up"] == 1
    assert value["nanoaid_frames_processed"] == processed_count(daemon)
    assert value["nanoaid_last_seq"] >= daemon.journal.last_seq() - 1
    assert {s.labels["state"] for s in families["nanoaid_files"].samples} >= {"processed"}
    page.goto(console.url + "/health")
    assert page.locator(".fig b").first.text_content() == "running"
    shot(page, "health")
