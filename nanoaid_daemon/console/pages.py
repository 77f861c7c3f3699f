"""Request handlers: one per page. Every page is complete HTML from the server; scripts only add to it.

Handlers take frame ids from the URL and nothing else that names a file: the journal maps an id
to its frame and sidecar. Unknown or malformed ids are 404. A correction is a POST with the
session's CSRF token, sent as the logged-in operator through the same path as ``nanoaid label``.
"""
from __future__ import annotations

import asyncio
import hmac
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response, StreamingResponse

from ..bus.protocol import RequestRejected
from ..commands.label import submit
from ..corrections import CorrectionRejected
from ..errors import BusError
from ..uploader.query import QueryError
from . import render
from .health import CONTENT_TYPE, gather, metrics_text
from .images import KINDS
from .search import PAGE_SIZE
from .security import SESSION_COOKIE

if TYPE_CHECKING:
    from .app import Console

__all__ = ["live", "events", "review", "correct", "frame", "image", "sidecar_download", "search", "health",
           "health_json", "metrics", "login", "logout", "not_found", "require_csrf"]


def _console(request: Request) -> Console:
    return request.app.state.console


async def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """Render a page; the journal queries every page needs run off the event loop, as all others do."""
    console = _console(request)
    session = request.state.session
    waiting, last_seq = await run_in_threadpool(lambda: (console.store.review_waiting(), console.store.last_seq()))
    base = {"session": session, "csrf": session.csrf, "operator": session.operator, "review_waiting": waiting,
            "login_required": console.config.login_required, "nav": name.split(".")[0], "last_seq": last_seq}
    return console.templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


async def require_csrf(request: Request) -> dict[str, str]:
    """The form fields, once the session's CSRF token is among them (else 403)."""
    form = await request.form()
    sent = form.get("csrf") or request.headers.get("x-csrf-token") or ""
    if not isinstance(sent, str) or not hmac.compare_digest(sent, request.state.session.csrf):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _frame_or_404(request: Request):
    frame = _console(request).store.frame(request.path_params["frame_id"])
    if frame is None or frame.state != "processed":
        raise HTTPException(404, "no processed frame has this id")
    return frame


# -- Live -----------------------------------------------------------------------------------------
async def live(request: Request) -> Response:
    items, last = await run_in_threadpool(_console(request).store.wall)
    return await _page(request, "live.html", items=items, last_seq=last)


async def events(request: Request) -> Response:
    """Server-sent events after ``since`` (or the browser's Last-Event-ID when it reconnects)."""
    raw = request.headers.get("last-event-id") or request.query_params.get("since") or "0"
    if not raw.isdigit():
        raise HTTPException(400, "since must be a sequence number")
    stream = _console(request).hub.stream(int(raw))
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


# -- Review ---------------------------------------------------------------------------------------
async def review(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    console = _console(request)
    queue = await run_in_threadpool(console.store.review_queue, 9)
    current = queue[0] if queue else None
    sidecar = await run_in_threadpool(console.store.sidecar, current) if current else None
    big, rest = render.suggestions(sidecar, current) if current else ([], [])
    keys = {cls: str((i + 1) % 10) for i, cls in enumerate([*big, *rest][:10])}
    has_cam = bool(sidecar and any(p.kind == "cam" for p in sidecar.previews))
    return await _page(request, "review.html", status_code, current=current, sidecar=sidecar, upcoming=queue[1:],
                 big=big, rest=rest, keys=keys, has_cam=has_cam, error=error,
                 done=request.query_params.get("done", ""))


async def correct(request: Request) -> Response:
    form = await require_csrf(request)
    frame = _frame_or_404(request)
    console = _console(request)
    operator = request.state.session.operator or console.config.operator
    try:
        reply = await run_in_threadpool(submit, console.config.state_dir, frame.frame_id, form.get("label", ""),
                                        operator=operator, comment=form.get("comment") or None)
    except (RequestRejected, CorrectionRejected) as exc:
        return await review(request, error=f"correction refused ({exc.code}): {exc}", status_code=409)
    except BusError as exc:
        return await review(request, error=f"the daemon did not answer: {exc}", status_code=503)
    target = "/review?done=" + reply["frame_id"][:12]
    if form.get("next") == "frame":
        target = f"/frames/{frame.frame_id}"
    return RedirectResponse(target, status_code=303)


# -- Frame ----------------------------------------------------------------------------------------
async def frame(request: Request) -> Response:
    record = _frame_or_404(request)
    console = _console(request)
    sidecar = await run_in_threadpool(console.store.sidecar, record)
    if sidecar is None:
        return await _page(request, "frame.html", frame=record, sidecar=None)
    kinds = {p.kind for p in sidecar.previews}
    big, rest = render.suggestions(sidecar, record)
    return await _page(request, "frame.html", frame=record, sidecar=sidecar, rows=render.metadata_rows(sidecar),
                 bars=render.score_bars(sidecar), wedges=render.rose_wedges(sidecar),
                 history=render.history(sidecar, record), kinds=kinds, big=big, rest=rest,
                 raw_sections=sorted(sidecar.instrument.vendor_raw.items())[:40])


async def image(request: Request) -> Response:
    record = _frame_or_404(request)
    kind = request.path_params["kind"]
    if kind not in KINDS:
        raise HTTPException(404, "no such image kind")
    console = _console(request)
    sidecar = await run_in_threadpool(console.store.sidecar, record)
    path = console.store.preview_file(record, sidecar, kind) if sidecar else None
    headers = {"Cache-Control": "private, max-age=86400"}
    if path is not None:
        return FileResponse(path, media_type="image/png", headers=headers)
    if kind != "thumbnail":
        raise HTTPException(404, f"this frame has no {kind} preview")
    data = await run_in_threadpool(console.thumbnails.get, record, sidecar.frame.databar_rows if sidecar else 0)
    if data is None:
        raise HTTPException(404, "the frame file cannot be read for a thumbnail")
    return Response(data, media_type="image/png", headers=headers)


async def sidecar_download(request: Request) -> Response:
    record = _frame_or_404(request)
    if not record.sidecar_path:
        raise HTTPException(404, "this frame has no sidecar")
    path = Path(record.sidecar_path)
    if not path.is_file():
        raise HTTPException(404, "the sidecar file is gone")
    return FileResponse(path, media_type="application/json", filename=path.name)


# -- Search ---------------------------------------------------------------------------------------
async def search(request: Request) -> Response:
    console = _console(request)
    query = request.query_params.get("q", "").strip()
    page_raw = request.query_params.get("page", "1")
    page = int(page_raw) if page_raw.isdigit() and int(page_raw) >= 1 else 1
    hits: list[dict] = []
    total, error = 0, None
    try:
        hits, total = await run_in_threadpool(lambda: console.search.search(query, page=page))
    except QueryError as exc:
        error = str(exc)
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return await _page(request, "search.html", 400 if error else 200, query=query, hits=hits, total=total, page=page,
                 pages=pages, error=error, source="uploader catalogue" if console.search.external
                 else "console index")


# -- Health ---------------------------------------------------------------------------------------
def _figures(request: Request) -> dict:
    console = _console(request)
    return gather(console.store, hub=console.hub, upload_state=console.config.upload_state)


async def health(request: Request) -> Response:
    figures = await run_in_threadpool(_figures, request)
    return await _page(request, "health.html", f=figures)


async def health_json(request: Request) -> Response:
    return JSONResponse(await run_in_threadpool(_figures, request))


async def metrics(request: Request) -> Response:
    figures = await run_in_threadpool(_figures, request)
    return Response(metrics_text(figures), media_type=CONTENT_TYPE)


# -- Login ----------------------------------------------------------------------------------------
async def login(request: Request) -> Response:
    console = _console(request)
    if request.method == "GET":
        return await _page(request, "login.html", error=None)
    form = await require_csrf(request)
    await asyncio.sleep(0.2)  # a wrong guess costs time
    operator = await run_in_threadpool(console.tokens.verify, form.get("token", "").strip())
    if operator is None:
        return await _page(request, "login.html", 401, error="That token is not known. Ask for one with "
                     "`nanoaid console token add NAME`.")
    console.sessions.drop(request.state.session.sid)
    session = console.sessions.new(operator, login=True)  # a new session id at login: no session fixation
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, session.sid, httponly=True, samesite="strict", secure=console.config.tls,
                        path="/")
    return response


async def logout(request: Request) -> Response:
    await require_csrf(request)
    _console(request).sessions.drop(request.state.session.sid)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def not_found(request: Request, exc: Exception) -> Response:
    detail = getattr(exc, "detail", "not found")
    if not hasattr(request.state, "session"):
        return Response(detail, status_code=404, media_type="text/plain")
    return await _page(request, "error.html", 404, status=404, detail=detail)
