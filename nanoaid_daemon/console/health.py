"""The Health page's figures and the same figures as Prometheus metrics.

One function gathers them (journal counts, whether the daemon answers, the models the newest
sidecar names, the uploader's lag when ``--upload-state`` is given); the page and ``/metrics`` both
read that, so a facility's Grafana and the operator see the same numbers.
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ..bus import daemon_running
from ..sidecar import Sidecar
from ..supervise import read_health
from .store import Store

__all__ = ["gather", "metrics_text", "CONTENT_TYPE"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _uploader(upload_state: Path | None, daemon_last_seq: int) -> dict[str, Any] | None:
    """The uploader's bookmark and backlog, read-only from its progress database."""
    if upload_state is None:
        return None
    path = Path(upload_state) / "progress.sqlite3"
    if not path.is_file():
        return {"error": f"no uploader progress at {path}"}
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            backlog = db.execute("SELECT count(*) FROM queue WHERE state = 'pending'").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error as exc:
        return {"error": f"uploader progress {path} unreadable: {exc}"}
    last = int(meta.get("last_seq", 0))
    return {"last_seq": last, "lag_events": max(daemon_last_seq - last, 0), "backlog": int(backlog),
            "last_error": meta.get("last_error")}


def _models(sidecar: Sidecar | None) -> list[dict[str, str]]:
    if sidecar is None:
        return []
    models = []
    if sidecar.classification is not None:
        m = sidecar.classification.model
        models.append({"role": "classifier", "name": m.name, "version": m.version, "sha256": m.sha256[:12]})
    for name, digest in sorted(sidecar.provenance.model_hashes.items()):
        if not models or name != models[0]["name"]:
            models.append({"role": "model", "name": name, "version": "", "sha256": digest[:12]})
    return models


def gather(store: Store, *, hub=None, upload_state: Path | None = None) -> dict[str, Any]:
    figures = store.figures()
    endpoints = daemon_running(store.state_dir)
    figures["daemon"] = {
        "running": endpoints is not None,
        "pid": endpoints.pid if endpoints else None,
        "started": endpoints.started.isoformat(timespec="seconds") if endpoints and endpoints.started else None,
        "state": "running" if endpoints else "stopped",
    }
    health = read_health(store.state_dir) if endpoints else None
    figures["threads"] = [asdict(t) for t in health.threads] if health else []
    if health is not None:  # the daemon's own account: waiting on a full disk, or a thread given up
        figures["daemon"].update(state=health.state, healthy=health.healthy, waiting_for=health.waiting_for)
    if hub is not None:
        figures["console"] = {"subscriber_seq": hub.last_seq, "events_seen": hub.delivered,
                              "last_event_age_s": round(time.time() - hub.last_event_at, 1)
                              if hub.last_event_at else None, **hub.stats}
    latest = store.latest_sidecar()
    figures["models"] = _models(latest)
    figures["plugins"] = dict(sorted(latest.provenance.plugins.items())) if latest else {}
    figures["model_events"] = store.model_events()
    figures["uploader"] = _uploader(upload_state, figures["last_seq"])
    return figures


def _collector(figures: dict[str, Any]):
    def gauge(name: str, doc: str, value: float, labels: dict[str, str] | None = None) -> GaugeMetricFamily:
        family = GaugeMetricFamily(name, doc, labels=list(labels) if labels else None)
        family.add_metric(list(labels.values()) if labels else [], value)
        return family

    yield gauge("nanoaid_daemon_up", "1 when the daemon's endpoints.json names a live process",
                1 if figures["daemon"]["running"] else 0)
    yield gauge("nanoaid_daemon_healthy", "1 unless a supervised daemon thread has given up",
                0 if figures["daemon"].get("healthy") is False else 1)
    restarts = CounterMetricFamily("nanoaid_thread_restarts", "restarts of a supervised daemon thread",
                                   labels=["thread"])
    for thread in figures.get("threads", []):
        restarts.add_metric([thread["name"]], thread["restarts"])
    yield restarts
    yield gauge("nanoaid_last_seq", "newest journaled event sequence number", figures["last_seq"])
    frames = CounterMetricFamily("nanoaid_frames_processed", "frames processed since the journal began")
    frames.add_metric([], figures["frames_processed"])
    yield frames
    yield gauge("nanoaid_queue_depth", "files discovered or settled but not yet processed", figures["queue_depth"])
    yield gauge("nanoaid_frames_per_minute", "frames processed per minute over the last 10 minutes",
                figures["frames_per_minute"])
    yield gauge("nanoaid_rejected_last_hour", "files rejected in the last hour", figures["rejected_last_hour"])
    yield gauge("nanoaid_review_waiting", "frames whose decision is review or unknown, uncorrected",
                figures["review_waiting"])
    files = GaugeMetricFamily("nanoaid_files", "journal files by state", labels=["state"])
    for state, count in sorted(figures["files"].items()):
        files.add_metric([state], count)
    yield files
    info = GaugeMetricFamily("nanoaid_model_info", "models named by the newest sidecar",
                             labels=["role", "name", "version", "sha256"])
    for model in figures["models"]:
        info.add_metric([model["role"], model["name"], model["version"], model["sha256"]], 1)
    yield info
    uploader = figures.get("uploader") or {}
    if "lag_events" in uploader:
        yield gauge("nanoaid_uploader_lag_events", "daemon last seq minus the uploader's bookmark",
                    uploader["lag_events"])
        yield gauge("nanoaid_uploader_backlog", "events the uploader accepted but has not stored",
                    uploader["backlog"])


class _Figures:
    def __init__(self, figures: dict[str, Any]):
        self.figures = figures

    def collect(self):
        return _collector(self.figures)


def metrics_text(figures: dict[str, Any]) -> bytes:
    """Prometheus text exposition of ``figures`` (a fresh registry per scrape: no stale series)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Figures(figures))
    return generate_latest(registry)
