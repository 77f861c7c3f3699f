"""The console's guards against a hostile network and hostile file names, on a real server process.

No daemon runs here: the journal and sidecars are real files made by the bus tests' helper, and
corrections take the same direct path ``nanoaid label`` takes when no daemon runs.
"""
from __future__ import annotations

import http.client
import http.cookiejar
import re
import socket
import ssl
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from bus.conftest import processed_frame

from nanoaid_daemon.cli import main
from nanoaid_daemon.console.security import TokenStore
from nanoaid_daemon.journal import Journal
from nanoaid_daemon.sidecar import Sidecar

from .conftest import console_process, free_port

HOSTILE = "scan<script><img src=x onerror=alert(1)>.png"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    """A browser-like client: keeps cookies, does not follow redirects."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  _NoRedirect)

    def call(self, path: str, data: dict | None = None, **headers: str) -> tuple[int, str, dict]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, headers=headers)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), dict(exc.headers)

    def csrf(self, path: str = "/review") -> str:
        status, html, _ = self.call(path)
        assert status == 200, html
        found = re.search(r'name="csrf" value="([^"]+)"', html)
        assert found is not None, html
        return found.group(1)


@pytest.fixture
def state(tmp_path) -> Path:
    path = tmp_path / "state"
    journal = Journal(path / "journal.sqlite3")
    try:
        processed_frame(journal, tmp_path / "frames", "plain.png", seed=1)
        processed_frame(journal, tmp_path / "frames", HOSTILE, seed=2)
    finally:
        journal.close()
    return path


def frame_ids(state: Path) -> list[str]:
    journal = Journal(state / "journal.sqlite3")
    try:
        return [f.frame_id for f in journal.recent_frames()]
    finally:
        journal.close()


def nothing_listens(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_non_loopback_bind_without_a_token_exits_2_before_listening(state, capsys):
    port = free_port()
    assert main(["console", "--state", str(state), "--bind", "0.0.0.0", "--port", str(port)]) == 2
    assert "token add" in capsys.readouterr().err
    assert nothing_listens(port)


def test_non_loopback_bind_with_a_token_but_neither_tls_nor_the_flag_exits_2(state, capsys):
    TokenStore(state).add("ana")
    port = free_port()
    assert main(["console", "--state", str(state), "--bind", "0.0.0.0", "--port", str(port)]) == 2
    assert "--tls-cert" in capsys.readouterr().err
    assert nothing_listens(port)


def test_tokens_are_stored_hashed_and_private(state):
    token = TokenStore(state).add("ana")
    stored = (state / "console" / "tokens.json")
    assert token not in stored.read_text()
    assert stored.stat().st_mode & 0o077 == 0
    assert TokenStore(state).verify(token) == "ana" and TokenStore(state).verify(token + "x") is None


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(state):
    target = frame_ids(state)[0]
    with console_process(state) as console:
        client = Client(console.url)
        client.csrf()  # a session exists, but the form below does not carry its token
        assert client.call(f"/review/{target}", {"label": "Tips"})[0] == 403
        assert client.call(f"/review/{target}", {"label": "Tips", "csrf": "forged"})[0] == 403
        assert Client(console.url).call(f"/review/{target}", {"label": "Tips", "csrf": client.csrf()})[0] == 403
    journal = Journal(state / "journal.sqlite3")
    try:
        assert journal.corrections() == []
        frame = journal.frame(target)
    finally:
        journal.close()
    assert frame is not None and frame.sidecar_path is not None
    assert Sidecar.model_validate_json(Path(frame.sidecar_path).read_bytes()).version == 1


def test_unknown_or_malformed_frame_ids_are_404(state):
    with console_process(state) as console:
        client = Client(console.url)
        for path in ("/frames/" + "0" * 64, "/frames/" + "0" * 64 + "/image/thumbnail",
                     "/frames/" + "0" * 64 + "/sidecar.json", "/frames/not-an-id", "/frames/ABC",
                     f"/frames/{frame_ids(state)[0]}/image/passwd"):
            assert client.call(path)[0] == 404, path
        assert client.call("/review/" + "0" * 64, {"label": "Tips", "csrf": client.csrf()})[0] == 404


@pytest.mark.parametrize("target", [
    "/static/../app.py", "/static/%2e%2e/app.py", "/frames/..%2f..%2fetc%2fpasswd", "/search?q=../../etc/passwd",
    "/search?q=%2e%2e%2f", "/events?since=..", "/frames/x/image/..%252f..%252fsecret",
])
def test_dot_dot_is_refused_in_any_part_of_the_address(state, target):
    with console_process(state) as console:
        conn = http.client.HTTPConnection(console.url.removeprefix("http://"), timeout=30)
        conn.request("GET", target)  # sent as is: no client-side normalisation
        response = conn.getresponse()
        assert response.status == 400, target
        assert b"'..' is not allowed" in response.read()
        conn.close()


def test_a_file_name_with_script_renders_as_text(state):
    with console_process(state) as console:
        client = Client(console.url)
        for path in ("/", "/review", f"/frames/{frame_ids(state)[0]}", "/search?q=scan*"):
            status, html, headers = client.call(path)
            assert status == 200
            assert "<script><img" not in html and "onerror=alert(1)>" not in html, path
            assert "script-src 'self'" in headers["content-security-policy"]
        assert "scan&lt;script&gt;&lt;img src=x onerror=alert(1)&gt;.png" in client.call("/")[1]


def test_off_loopback_every_page_needs_a_login_and_corrections_carry_the_logged_in_name(state):
    token = TokenStore(state).add("maria")
    target = frame_ids(state)[0]
    with console_process(state, "--bind", "0.0.0.0", "--insecure-http", operator="not-me") as console:
        client = Client(console.url)
        status, _, headers = client.call("/review")
        assert status == 303 and headers["location"] == "/login"
        assert client.call("/metrics")[0] == 303
        assert client.call("/metrics", Authorization=f"Bearer {token}")[0] == 200
        csrf = client.csrf("/login")
        assert client.call("/login", {"token": "wrong", "csrf": csrf})[0] == 401
        assert client.call("/login", {"token": token, "csrf": csrf})[0] == 303
        status, _, headers = client.call(f"/review/{target}", {"label": "Tips", "csrf": client.csrf()})
        assert status == 303, headers
    journal = Journal(state / "journal.sqlite3")
    try:
        assert [(c["label"], c["operator"]) for c in journal.corrections()] == [("Tips", "maria")]
    finally:
        journal.close()


def test_token_commands_print_the_token_once_and_revoke_it(state, capsys):
    assert main(["console", "token", "add", "ana", "--state", str(state)]) == 0
    token = capsys.readouterr().out.splitlines()[-1]
    assert TokenStore(state).verify(token) == "ana"
    assert main(["console", "--state", str(state), "token", "list"]) == 0
    assert capsys.readouterr().out.split() == ["ana"]
    assert main(["console", "token", "remove", "ana", "--state", str(state)]) == 0
    assert TokenStore(state).verify(token) is None
    assert main(["console", "token", "remove", "ana", "--state", str(state)]) == 1
    assert main(["console", "token", "add", "../evil", "--state", str(state)]) == 2


def test_off_loopback_with_tls_serves_https_and_a_secure_cookie(state, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                           "-days", "1", "-keyout", str(key), "-out", str(cert)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"openssl cannot make a test certificate: {made.stderr.decode()[-200:]}")
    TokenStore(state).add("ana")
    with console_process(state, "--bind", "0.0.0.0", "--tls-cert", str(cert), "--tls-key", str(key)) as console:
        assert console.url.startswith("https://")
        request = urllib.request.Request(console.url + "/login")
        with urllib.request.urlopen(request, timeout=30, context=ssl._create_unverified_context()) as response:
            assert response.status == 200
            cookie = response.headers["set-cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie
        with pytest.raises(OSError):  # plain HTTP is not served
            urllib.request.urlopen(console.url.replace("https", "http") + "/login", timeout=10)
