"""WebDAV sink: each frame an OCFL object under a collection, written with PUT and MKCOL only.

WebDAV has no standard checksum header, so every part is read back with GET and hashed after it
is written; a server that returns other bytes than it was sent is an error, never a success. The
client is the standard library's ``http.client``: nothing to install for the most common NAS case.
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import logging
import socket
import ssl
from urllib.parse import quote, urlsplit

from nanoaid_daemon.errors import ConfigError, SinkError
from nanoaid_daemon.plugins import PluginContext
from nanoaid_daemon.uploader.bundle import Bundle, BundleFile, Receipt, iter_verified
from nanoaid_daemon.uploader.ocfl import ensure_root, write_remote
from nanoaid_daemon.uploader.sinks import Unconfigured, pop_secret, redact

__all__ = ["create", "WebDavSink", "WebDavStorage"]

log = logging.getLogger(__name__)

SCHEMES = {"webdav": "http", "dav": "http", "webdavs": "https", "davs": "https"}
IN_MEMORY_LIMIT = 64 << 20
CHUNK = 1 << 20


def create(ctx: PluginContext) -> WebDavSink | Unconfigured:
    opts = dict(ctx.options)
    url = opts.pop("url", None)
    if not url:
        return Unconfigured("webdav", "give --sink webdav://HOST/PATH (or webdavs://)")
    parts = urlsplit(url or "")
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ConfigError(f"sink 'webdav' needs a webdav://HOST[:PORT]/PATH (or webdavs://) URL, got {url!r}")
    username = opts.pop("username", None) or parts.username
    password = pop_secret(opts, "password", "webdav") or parts.password
    timeout = float(opts.pop("timeout_s", 30))
    ca_file = opts.pop("ca_file", None)
    if opts:
        raise ConfigError(f"sink 'webdav': unknown option(s) {sorted(opts)}; known: url, username, password, "
                          "password_file, timeout_s, ca_file")
    storage = WebDavStorage(SCHEMES[parts.scheme], parts.hostname, parts.port, parts.path, username, password,
                            timeout, ca_file)
    return WebDavSink(storage, redact(url))


class WebDavStorage:
    def __init__(self, scheme: str, host: str, port: int | None, base: str, username: str | None,
                 password: str | None, timeout: float, ca_file: str | None = None):
        self.scheme, self.host, self.port, self.timeout, self.ca_file = scheme, host, port, timeout, ca_file
        self.base = "/" + "/".join(quote(p, safe="") for p in base.split("/") if p)
        self.auth = None
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self.auth = f"Basic {token}"
        self.known_collections: set[str] = set()
        self._conn: http.client.HTTPConnection | None = None

    # -- HTTP ---------------------------------------------------------------------------------
    def url_path(self, path: str) -> str:
        rel = "/".join(quote(p, safe="") for p in path.split("/") if p)
        return f"{self.base}/{rel}" + ("/" if path.endswith("/") and rel else "")

    def origin(self) -> str:
        return f"{self.scheme}://{self.host}" + (f":{self.port}" if self.port else "")

    def location(self, path: str) -> str:
        return self.origin() + self.url_path(path)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self.scheme == "https":
                context = ssl.create_default_context(cafile=self.ca_file)
                self._conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=context)
            else:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body=None, headers: dict | None = None, *,
                raw: bool = False) -> tuple[int, bytes]:
        """One HTTP exchange; ``path`` is relative to the base unless ``raw`` (an encoded URL path)."""
        headers = dict(headers or {})
        if self.auth:
            headers["Authorization"] = self.auth
        try:
            conn = self._connection()
            conn.request(method, path if raw else self.url_path(path), body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            self.known_collections.clear()
            why = "timed out" if isinstance(exc, socket.timeout) else f"{type(exc).__name__}: {exc}"
            raise SinkError(f"WebDAV server {self.location('')} is unreachable ({why}); check the URL, the "
                            "server and the network; every accepted frame is kept and retried") from exc

    def _fail(self, status: int, method: str, path: str, *, raw: bool = False) -> SinkError:
        where = self.origin() + path if raw else self.location(path)
        if status == 401:
            return SinkError(f"WebDAV server refused the credentials for {where} (HTTP 401); check username and "
                             "password/password_file in plugins.options.webdav; every accepted frame is kept")
        if status == 403:
            return SinkError(f"WebDAV server forbids {method} {where} (HTTP 403); give the account write access")
        if status == 507:
            return SinkError(f"WebDAV share is full (HTTP 507 Insufficient Storage) writing {where}; free space "
                             "on the share; every accepted frame is kept and retried")
        return SinkError(f"WebDAV {method} {where} failed with HTTP {status}; retrying")

    # -- Storage protocol ---------------------------------------------------------------------
    def read(self, path: str) -> bytes | None:
        status, body = self.request("GET", path)
        if status == 404:
            return None
        if status != 200:
            raise self._fail(status, "GET", path)
        return body

    def put_bytes(self, path: str, data: bytes) -> None:
        self._put(path, data, hashlib.sha256(data).hexdigest())

    def put_file(self, path: str, f: BundleFile) -> None:
        if f.data is not None or f.size <= IN_MEMORY_LIMIT:
            self._put(path, b"".join(iter_verified(f)), f.sha256)
            return
        for _ in iter_verified(f):  # refuse a changed frame before sending a byte
            pass
        with f.open() as body:
            self._put(path, iter(lambda: body.read(CHUNK), b""), f.sha256, f.size)

    def _put(self, path: str, body, sha256: str, size: int | None = None) -> None:
        self.ensure_collection(path.rsplit("/", 1)[0] if "/" in path else "")
        length = len(body) if size is None else size
        status, _ = self.request("PUT", path, body, {"Content-Length": str(length),
                                                     "Content-Type": "application/octet-stream"})
        if status not in (200, 201, 204):
            raise self._fail(status, "PUT", path)
        self._verify(path, sha256)

    def _verify(self, path: str, sha256: str) -> None:
        data = self.read(path)
        if data is None or hashlib.sha256(data).hexdigest() != sha256:
            raise SinkError(f"{self.location(path)}: the server returns other bytes than were written "
                            "(sha256 mismatch); check the share")

    def ensure_collection(self, path: str) -> None:
        """MKCOL every missing level from the first folder of the base URL down to ``path``."""
        base_parts = [p for p in self.base.split("/") if p]
        parts = base_parts + [quote(p, safe="") for p in path.split("/") if p]
        for depth in range(1, len(parts) + 1):
            collection = "/" + "/".join(parts[:depth]) + "/"
            if collection in self.known_collections:
                continue
            status, _ = self.request("MKCOL", collection, raw=True)
            above_base = depth < len(base_parts)
            if status not in (201, 405, 301) and not (above_base and status == 403):  # 405: exists already
                raise self._fail(status, "MKCOL", collection, raw=True)
            self.known_collections.add(collection)


class WebDavSink:
    name = "webdav"

    def __init__(self, storage: WebDavStorage, url: str):
        self.storage = storage
        self.url = url
        self._checked = False

    def describe(self) -> str:
        return f"WebDAV {self.url}"

    def check(self) -> None:
        status, _ = self.storage.request("PROPFIND", "", None, {"Depth": "0"})
        if status in (401, 403):
            raise self.storage._fail(status, "PROPFIND", "")
        ensure_root(self.storage)
        self._checked = True

    def put(self, bundle: Bundle) -> Receipt:
        if not self._checked:
            self.check()
        try:
            return write_remote(self.storage, bundle)
        except SinkError:
            self._checked = False
            raise

    def close(self) -> None:
        self.storage.close()
