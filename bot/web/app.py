"""The project's public web server: the chat proxy in front of Rasa, the widget files, demo pages and staff pages.

Rasa listens on loopback only; browsers talk to this app, which passes on nothing but the sender id and text.
"""
from __future__ import annotations

import asyncio
from html import escape as html_escape
import hashlib
import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

from sanic import Sanic
from sanic.exceptions import InvalidUsage, PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse, empty, html, json, raw

from bot.settings import CONTACT_EMAIL
from bot.web import chat_proxy
from bot.web.security import CORS_PATHS, OriginPolicy, apply_cors, apply_security_headers
from bot.web.staff_pages import register_staff_routes
from bot.web.templating import render

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
_STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Short enough that a fixed widget reaches visitors the same day, long enough to spare repeat downloads.
STATIC_CACHE = "public, max-age=3600"
_UNAVAILABLE = {
    "error": "unavailable",
    "message": "Sorry, I can't connect right now. You can email "
    f"{CONTACT_EMAIL}. If you are in danger, call 999.",
}
_app_numbers = itertools.count(1)


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


def _load_static() -> Dict[str, StaticFile]:
    files = {}
    for name in ("widget.js", "widget.css", "site.css"):
        path = STATIC_DIR / name
        body = path.read_bytes()
        files["/" + name] = StaticFile(body, _STATIC_TYPES[path.suffix], '"' + hashlib.sha256(body).hexdigest()[:20] + '"')
    return files


def create_app(settings, store=None, *, outbox_interval_s: float = 30.0) -> Sanic:
    # Each app needs its own name in Sanic's registry; tests build several in one process.
    app = Sanic(f"rg_web_{next(_app_numbers)}")
    # Enough for a 1000-character message even if every character is escaped as \uXXXX twice over.
    app.config.REQUEST_MAX_SIZE = 64 * 1024
    app.config.REQUEST_TIMEOUT = 30
    app.config.RESPONSE_TIMEOUT = 45
    app.config.KEEP_ALIVE_TIMEOUT = 15
    app.ctx.settings = settings
    app.ctx.store = store
    app.ctx.rasa = chat_proxy.RasaClient(settings.rasa_url)
    policy = OriginPolicy(settings.allowed_origins)
    static = _load_static()

    def page(title: str, template: str, **context) -> HTTPResponse:
        widget = render("widget_tag.html", exit_url=settings.quick_exit_url)
        body = render(template, **context)
        return html(render("page.html", title=title, body=body, widget=widget, contact_email=CONTACT_EMAIL))

    @app.listener("before_server_start")
    async def start_clients(app: Sanic, loop) -> None:
        await app.ctx.rasa.start()

    @app.listener("after_server_start")
    async def start_outbox(app: Sanic, loop) -> None:
        app.ctx.outbox_task = None
        if store is None:
            return
        from bot.callbacks.notifications import Notifier, run_outbox_worker

        notifier = Notifier(store, settings.smtp)
        app.ctx.outbox_task = loop.create_task(
            run_outbox_worker(notifier, interval_s=outbox_interval_s, purge_store=store)
        )

    @app.listener("before_server_stop")
    async def stop_outbox(app: Sanic, loop) -> None:
        task = getattr(app.ctx, "outbox_task", None)
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    @app.listener("after_server_stop")
    async def stop_clients(app: Sanic, loop) -> None:
        await app.ctx.rasa.close()

    @app.middleware("response")
    async def headers(request: Request, response: HTTPResponse) -> None:
        apply_security_headers(request.path, response.headers)
        if request.path in CORS_PATHS:
            apply_cors(policy, request.headers.get("origin"), response.headers)

    @app.exception(PayloadTooLarge)
    async def too_large(request: Request, exc) -> HTTPResponse:
        return json(
            {"error": "message_too_long", "message": "That message is a little long for me. Please make it shorter."},
            status=413,
        )

    async def preflight(request: Request) -> HTTPResponse:
        response = empty(status=204)
        apply_cors(policy, request.headers.get("origin"), response.headers, preflight=True)
        return response

    for path in CORS_PATHS:
        app.add_route(preflight, path, methods=["OPTIONS"], name=f"preflight{path.replace('/', '_').replace('.', '_')}")

    @app.post("/chat")
    async def chat(request: Request) -> HTTPResponse:
        if not policy.may_post(request.headers.get("origin"), request.headers.get("host")):
            return json({"error": "forbidden_origin", "message": "This site may not use the chat."}, status=403)
        try:
            body = request.json
        except InvalidUsage:
            body = None
        try:
            sender, message = chat_proxy.validate(body)
        except chat_proxy.ChatError as exc:
            return json(exc.body(), status=exc.status)
        try:
            messages = await app.ctx.rasa.send(sender, message)
        except chat_proxy.Unavailable:
            return json(_UNAVAILABLE, status=503, headers={"Cache-Control": "no-store"})
        return json({"messages": messages}, headers={"Cache-Control": "no-store"})

    def serve_static(request: Request) -> HTTPResponse:
        item = static[request.path]
        headers = {"Cache-Control": STATIC_CACHE, "ETag": item.etag}
        if request.headers.get("if-none-match") == item.etag:
            return HTTPResponse(status=304, headers=headers)
        return raw(item.body, content_type=item.content_type, headers=headers)

    for path in static:
        app.add_route(serve_static, path, methods=["GET", "HEAD"], name=f"static{path.replace('/', '_').replace('.', '_')}")

    @app.get("/")
    async def home(request: Request) -> HTTPResponse:
        return page("Restorative Gloucestershire", "home.html")

    @app.get("/about")
    async def about(request: Request) -> HTTPResponse:
        return page("About restorative justice - Restorative Gloucestershire", "about.html")

    @app.get("/embed")
    async def embed(request: Request) -> HTTPResponse:
        origin = html_escape(f"{request.scheme}://{request.host}")
        snippet = (
            f'<script src="{origin}/widget.js" data-server="{origin}" data-title="Chat with us" '
            f'data-primary-colour="#1d4f6e" data-exit-url="{html_escape(settings.quick_exit_url)}" defer></script>'
        )
        return page("Add the chat to a website - Restorative Gloucestershire", "embed.html",
                    snippet=snippet, default_exit=settings.quick_exit_url)

    @app.get("/healthz")
    async def health(request: Request) -> HTTPResponse:
        return json({"status": "ok"}, headers={"Cache-Control": "no-store"})

    register_staff_routes(app, settings, store)
    return app
