"""``Bus``: the daemon's three endpoints and the threads that own them.

``start`` validates security before it binds anything, binds PUB (live events), replay (ROUTER)
and command (ROUTER) on ``bus.bind``, starts the publisher and request threads, and only then
writes ``STATE/endpoints.json``. ``notify`` is the daemon's "new events were committed" signal.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import zmq

from ..config import Settings
from ..errors import BusError
from .endpoints import Endpoints, connectable, now_utc, remove_endpoints, write_endpoints
from .protocol import MAX_MESSAGE_BYTES
from .publisher import Publisher
from .security import ZAP_DOMAIN, AllowListAuthenticator, HandshakeLog, ServerKeys, check_security
from .server import RequestServer
from .services import CommandService, ReplayService

__all__ = ["Bus"]

log = logging.getLogger(__name__)
_ROUTER_RCVHWM = 100


class Bus:
    """Publisher + replay + command endpoints over one journal. See docs/events.md."""

    def __init__(self, settings: Settings, journal, state_dir: Path, *, context: zmq.Context | None = None,
                 corrections=None):
        self.settings = settings
        self.journal = journal
        self.state_dir = Path(state_dir)
        self._own_context = context is None
        self._context = context
        self._corrections = corrections
        self._sockets: list[zmq.Socket] = []
        self._threads: list[threading.Thread] = []
        self._auth: AllowListAuthenticator | None = None
        self._publisher: Publisher | None = None
        self._server: RequestServer | None = None
        self.endpoints: Endpoints | None = None
        self.keys: ServerKeys | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Endpoints:
        if self._threads:
            raise BusError("the bus is already started")
        self.keys = check_security(self.settings.bus)  # ConfigError here: nothing is bound yet
        if self._context is None:
            self._context = zmq.Context()
        try:
            return self._start()
        except BaseException:
            self._join_threads()
            self._teardown()
            raise

    def _start(self) -> Endpoints:
        cfg = self.settings.bus
        if self.keys is not None:
            self._auth = AllowListAuthenticator(self._zmq(), self.keys.clients)
            self._auth.start()
        pub = self._bind(zmq.PUB, "pub", cfg.pub_port)
        pub.sndhwm = cfg.send_hwm
        replay = self._bind(zmq.ROUTER, "replay", cfg.replay_port)
        command = self._bind(zmq.ROUTER, "command", cfg.command_port)
        monitors = {self._monitor(sock): HandshakeLog(name, curve=self.keys is not None)
                    for sock, name in ((pub, "pub"), (replay, "replay"), (command, "command"))}
        corrections = self._corrections or _default_corrections(self.journal)
        handlers: dict[zmq.Socket, Callable[[list[bytes]], list[bytes]]] = {
            replay: ReplayService(self.journal, page_max=cfg.replay_page_max,
                                  max_request_bytes=cfg.max_request_bytes).handle,
            command: CommandService(corrections, self.notify, max_request_bytes=cfg.max_request_bytes).handle,
        }
        self._publisher = Publisher(pub, self.journal, heartbeat_s=cfg.heartbeat_s, page=cfg.replay_page_max)
        self._server = RequestServer(handlers, monitors)
        self._sockets.clear()  # from here on each socket belongs to its thread, which closes it
        self._spawn("pub", self._publisher.run)
        self._spawn("requests", self._server.run)
        self.endpoints = Endpoints(
            pub=connectable(_bound(pub)), replay=connectable(_bound(replay)), command=connectable(_bound(command)),
            curve_server_key=self.keys.public.decode() if self.keys else None,
            pid=os.getpid(), heartbeat_s=cfg.heartbeat_s, started=now_utc())
        try:
            write_endpoints(self.state_dir, self.endpoints)
        except OSError as exc:
            raise BusError(f"cannot write {self.state_dir}/endpoints.json: {exc.strerror or exc}; "
                           "the state folder must be writable") from None
        log.info("bus: pub %s, replay %s, command %s%s", self.endpoints.pub, self.endpoints.replay,
                 self.endpoints.command, " (CURVE)" if self.keys else "")
        return self.endpoints

    def notify(self) -> None:
        """Thread-safe and cheap: new events are in the journal; publish them in order."""
        publisher = self._publisher
        if publisher is not None:
            publisher.notify()

    def stop(self) -> None:
        """Publish what is still pending, stop the threads, close the sockets. Idempotent."""
        self._join_threads()
        if self.endpoints is not None:
            remove_endpoints(self.state_dir, self.endpoints.pid)
            self.endpoints = None
        self._teardown()

    def _join_threads(self) -> None:
        if self._publisher is not None:
            self._publisher.stop()
        if self._server is not None:
            self._server.stop()
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def _teardown(self) -> None:
        for sock in self._sockets:
            sock.close(linger=0)
        self._sockets.clear()
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        self._publisher = self._server = None
        if self._own_context and self._context is not None:
            self._context.destroy(linger=0)
            self._context = None

    # -- pieces ------------------------------------------------------------------------------
    @property
    def last_published(self) -> int | None:
        return self._publisher.last_published if self._publisher else None

    def _zmq(self) -> zmq.Context:
        """The context, which exists from ``start()`` until ``stop()`` destroys one of our own."""
        assert self._context is not None, "the bus is not started"
        return self._context

    def _bind(self, kind: int, name: str, port: int) -> zmq.Socket:
        sock = self._zmq().socket(kind)
        self._sockets.append(sock)
        sock.linger = 0
        if kind == zmq.ROUTER:
            sock.maxmsgsize = MAX_MESSAGE_BYTES
            sock.rcvhwm = _ROUTER_RCVHWM
        if self.keys is not None:
            sock.curve_secretkey = self.keys.secret
            sock.curve_publickey = self.keys.public
            sock.curve_server = True
            sock.zap_domain = ZAP_DOMAIN.encode()
        host = self.settings.bus.bind.strip()
        if ":" in host.strip("[]"):
            sock.ipv6 = True
            host = f"[{host.strip('[]')}]"
        address = f"tcp://{host}:{port or '*'}"
        try:
            sock.bind(address)
        except zmq.ZMQError as exc:
            raise BusError(f"cannot bind the {name} endpoint {address}: {exc}; choose another bus.bind or "
                           f"bus.{name}_port, or stop the process that holds it") from None
        return sock

    def _monitor(self, sock: zmq.Socket) -> zmq.Socket:
        events = (zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                  | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        mon = sock.get_monitor_socket(events)
        mon.linger = 0
        self._sockets.append(mon)
        return mon

    def _spawn(self, name: str, target) -> None:
        thread = threading.Thread(target=target, name=f"nanoaid-bus-{name}")
        thread.start()
        self._threads.append(thread)


def _default_corrections(journal):
    from ..corrections import Corrections

    return Corrections(journal)


def _bound(sock: zmq.Socket) -> str:
    """The address a socket actually bound (port 0 becomes the port the system chose)."""
    return sock.getsockopt_string(zmq.LAST_ENDPOINT)
