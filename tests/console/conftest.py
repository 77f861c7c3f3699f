"""Fixtures for the console: a real daemon, the console as a real server process, a real browser.

The browser is Debian's chromium driven by Playwright (no browser download). Without
/usr/bin/chromium the browser tests skip with that reason, except in CI (``CI`` set), where a
missing browser is a failure: `.ci/run` installs it.
"""
from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ConsoleProcess:
    def __init__(self, proc: subprocess.Popen, url: str, log: Path):
        self.proc, self.url, self.log = proc, url, log

    def get(self, path: str, **headers: str) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, headers=headers)
        context = ssl._create_unverified_context() if self.url.startswith("https") else None  # self-signed in tests
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


@contextmanager
def console_process(state: Path, *extra: str, operator: str = "ana") -> Iterator[ConsoleProcess]:
    """``nanoaid console`` as its own process on a free loopback port; stopped with SIGTERM."""
    port = free_port()
    log = state.parent / f"console-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "nanoaid_daemon.cli", "console", "--state", str(state),
                                 "--port", str(port), "--operator", operator, *extra],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    scheme = "https" if "--tls-cert" in extra else "http"
    console = ConsoleProcess(proc, f"{scheme}://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if console.get("/health.json")[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"console did not start: {log.read_text()}")
            time.sleep(0.1)
        yield console
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI is set but /usr/bin/chromium is missing: .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium): apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """As the suite's guard, except for the worker threads of Playwright's own event loop
    (``asyncio_N``: its default executor keeps them for the browser's lifetime, by design)."""
    import threading

    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon
                  and not t.name.startswith("asyncio_")]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leaked, f"test leaked threads: {[t.name for t in leaked]}"
