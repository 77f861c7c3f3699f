"""The console's Starlette application: routes, sessions, and the guards every request passes.

Guards, in order: a request whose path or query contains ``..`` is refused (400) before any
routing; every response carries a strict Content-Security-Policy (scripts and styles from the
console only); a session cookie is issued on first contact and, when a login is required,
every page but ``/login`` and the static assets redirects there (``/metrics`` also accepts
``Authorization: Bearer TOKEN`` for a Prometheus scraper). POST handlers check the session's
CSRF token themselves (:func:`.pages.require_csrf`), because the form body is theirs to read.
"""
from __future__ import annotations

import getpass
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from . import pages
from .images import Thumbnails
from .live import Hub
from .render import fmt
from .search import SearchIndex
from .security import SESSION_COOKIE, Sessions, TokenStore
from .store import Store

__all__ = ["ConsoleConfig", "Console", "create_app"]

HERE = Path(__file__).parent
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
_OPEN = ("/login", "/static/")


@dataclass
class ConsoleConfig:
    state_dir: Path
    login_required: bool = False
    tls: bool = False
    operator: str = field(default_factory=getpass.getuser)
    catalogue: Path | None = None
    upload_state: Path | None = None
    follow: bool = True


class Console:
    """Everything a request handler needs, built once per application."""

    def __init__(self, config: ConsoleConfig):
        self.config = config
        self.store = Store(config.state_dir)
        self.tokens = TokenStore(config.state_dir)
        self.sessions = Sessions()
        self.thumbnails = Thumbnails()
        self.search = SearchIndex(config.state_dir, catalogue=config.catalogue)
        self.hub = Hub(config.state_dir, self.store, since=self._since, on_event=self.search.index)
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.filters["fmt"] = fmt
        self.templates.env.globals["console"] = self

    def _since(self) -> int:
        """Where the subscriber starts: after what the index holds (it catches up from the journal first)."""
        return self.store.last_seq() if self.search.external else self.search.catch_up(self.store)

    def start(self) -> None:
        if self.config.follow:
            self.hub.start()

    def stop(self) -> None:
        self.hub.stop()
        self.search.close()


class _Guard(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        console: Console = request.app.state.console
        raw = request.scope.get("raw_path", b"").decode("latin-1") + "?" + request.url.query
        if ".." in unquote(unquote(raw)) or ".." in request.url.path:
            return PlainTextResponse("refused: '..' is not allowed in a console address", status_code=400)
        session = console.sessions.get(request.cookies.get(SESSION_COOKIE))
        fresh = session is None
        if session is None:
            session = console.sessions.new(None if console.config.login_required else console.config.operator)
        request.state.session = session
        if console.config.login_required and session.operator is None and not request.url.path.startswith(_OPEN):
            if not (request.url.path == "/metrics" and self._bearer_ok(request, console)):
                response: Response = (RedirectResponse("/login", status_code=303) if request.method == "GET"
                                      else PlainTextResponse("log in first", status_code=401))
                return self._finish(response, session.sid if fresh else None, console)
        started = time.perf_counter()
        response = await call_next(request)
        response.headers["Server-Timing"] = f"app;dur={1000 * (time.perf_counter() - started):.2f}"
        return self._finish(response, session.sid if fresh else None, console)

    @staticmethod
    def _bearer_ok(request: Request, console: Console) -> bool:
        header = request.headers.get("authorization", "")
        return header.startswith("Bearer ") and console.tokens.verify(header[7:].strip()) is not None

    @staticmethod
    def _finish(response: Response, new_sid: str | None, console: Console) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        if new_sid is not None:
            response.set_cookie(SESSION_COOKIE, new_sid, httponly=True, samesite="strict",
                                secure=console.config.tls, path="/")
        return response


def create_app(config: ConsoleConfig) -> Starlette:
    console = Console(config)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        console.start()
        try:
            yield
        finally:
            console.stop()

    routes = [
        Route("/", pages.live),
        Route("/events", pages.events),
        Route("/review", pages.review),
        Route("/review/{frame_id}", pages.correct, methods=["POST"]),
        Route("/frames/{frame_id}", pages.frame),
        Route("/frames/{frame_id}/image/{kind}", pages.image),
        Route("/frames/{frame_id}/sidecar.json", pages.sidecar_download),
        Route("/search", pages.search),
        Route("/health", pages.health),
        Route("/health.json", pages.health_json),
        Route("/metrics", pages.metrics),
        Route("/login", pages.login, methods=["GET", "POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(_Guard)], lifespan=lifespan,
                    exception_handlers={404: pages.not_found})
    app.state.console = console
    return app
