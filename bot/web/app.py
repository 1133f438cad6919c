"""The project's public web server: the chat proxy in front of Rasa, the widget files, demo pages and staff pages.

Rasa listens on loopback only; browsers talk to this app, which passes on nothing but the sender id and text.
"""
from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
from dataclasses import dataclass
from typing import Dict, Optional

from sanic import Sanic
from sanic.exceptions import InvalidUsage, PayloadTooLarge, SanicException
from sanic.request import Request
from sanic.response import HTTPResponse, empty, json, raw, text

from bot.callbacks.store import StoreUnavailable
from bot.learning.answers import faq_answers
from bot.learning.chat_observer import ChatObserver
from bot.learning.records import LearningRecords
from bot.settings import CONTACT_EMAIL, DEFAULT_QUICK_EXIT_URL
from bot.web import chat_proxy
from bot.web.rendering import STATIC_DIR, render, render_html
from bot.web.security import (
    CORS_PATHS,
    OriginPolicy,
    apply_cors,
    apply_security_headers,
    client_address,
    configure_proxies,
)
from bot.web.staff_pages import add_staff_pages

log = logging.getLogger(__name__)

_STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Short enough that a fixed widget reaches visitors the same day, long enough to spare repeat downloads.
STATIC_CACHE = "public, max-age=3600"
# Sent when Rasa cannot be reached, and shown by the widget when this server cannot be reached either.
UNAVAILABLE_MESSAGE = (
    f"Sorry, I can't connect right now. You can email {CONTACT_EMAIL}. If you are in danger, call 999."
)
_UNAVAILABLE = {"error": "unavailable", "message": UNAVAILABLE_MESSAGE}
_ERROR_TEXTS = {
    400: "Sorry, that request could not be understood.",
    404: "Sorry, there is no page at this address.",
    405: "Sorry, this address does not take that kind of request.",
    408: "Sorry, that took too long to arrive. Please try again.",
}
_SERVER_ERROR_TEXT = "Sorry, something went wrong on our side. Please try again in a moment."
_app_numbers = itertools.count(1)


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str
    etag: str


def _static_file(body: bytes, content_type: str) -> StaticFile:
    return StaticFile(body, content_type, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')


def _load_static() -> Dict[str, StaticFile]:
    widget = render("widget.js", unavailable_message=UNAVAILABLE_MESSAGE, default_exit_url=DEFAULT_QUICK_EXIT_URL)
    files = {"/widget.js": _static_file(widget.encode("utf-8"), _STATIC_TYPES[".js"])}
    for name in ("widget.css", "site.css"):
        path = STATIC_DIR / name
        files["/" + name] = _static_file(path.read_bytes(), _STATIC_TYPES[path.suffix])
    return files


def _route_name(kind: str, path: str) -> str:
    # Sanic joins route names with dots (app.route), so a name keeps to letters, digits and underscores.
    return kind + path.replace("/", "_").replace(".", "_")


def create_app(settings, store=None, *, outbox_interval_s: float = 30.0,
               group_every_s: Optional[float] = None) -> Sanic:
    """The app; with a store it also delivers staff emails, purges old data once a day and, with group_every_s,
    groups newly kept questions that often (in a short-lived process of its own: bot/learning/grouping.py)."""
    # Each app needs its own name in Sanic's registry; tests build several in one process.
    app = Sanic(f"rg_web_{next(_app_numbers)}")
    # Enough for a 1000-character message even if every character is escaped as \uXXXX twice over.
    app.config.REQUEST_MAX_SIZE = 64 * 1024
    app.config.REQUEST_TIMEOUT = 30
    app.config.RESPONSE_TIMEOUT = 45
    app.config.KEEP_ALIVE_TIMEOUT = 15
    configure_proxies(app.config, proxies_count=settings.proxies_count, real_ip_header=settings.real_ip_header,
                      forwarded_secret=settings.forwarded_secret)
    app.ctx.settings = settings
    app.ctx.store = store
    app.ctx.rasa = chat_proxy.RasaClient(settings.rasa_url)
    app.ctx.turns = chat_proxy.SenderTurns()
    app.ctx.rasa_capacity = chat_proxy.RasaCapacity(settings.chat_max_in_flight)
    app.ctx.learning_records = LearningRecords(store, settings.learning_days) if store is not None else None
    app.ctx.redis = None
    if settings.redis_url:  # several replicas: what they must agree on lives in Redis
        from bot.web import shared_state

        app.ctx.redis = redis = shared_state.connect(settings.redis_url)
        secret = (settings.secret_key or "").encode("utf-8")
        app.ctx.sender_limit = shared_state.SharedRateLimit(redis, secret, "sender", settings.chat_limit_per_sender)
        app.ctx.address_limit = shared_state.SharedRateLimit(redis, secret, "address",
                                                             settings.chat_limit_per_address)
        notes = {kind: shared_state.SharedNotes(redis, secret, kind, chat_proxy.CONVERSATION_IDLE_S)
                 for kind in ("in_callback", "rateable")}
    else:
        app.ctx.sender_limit = chat_proxy.RateLimit(settings.chat_limit_per_sender)
        app.ctx.address_limit = chat_proxy.RateLimit(settings.chat_limit_per_address)
        notes = {}
    app.ctx.learning = ChatObserver(app.ctx.learning_records, settings.learning, **notes)
    policy = OriginPolicy(settings.allowed_origins)
    static = _load_static()

    def page(template: str, **context) -> HTTPResponse:
        return render_html(template, exit_url=settings.quick_exit_url, **context)

    @app.listener("before_server_start")
    async def start_clients(app: Sanic, loop) -> None:
        await app.ctx.rasa.start()

    @app.listener("after_server_start")
    async def start_outbox(app: Sanic, loop) -> None:
        app.ctx.outbox_task = None
        if store is None:
            return
        from bot.callbacks.notifications import Notifier, run_outbox_worker
        from bot.learning.grouping import run_grouping_worker

        notifier = Notifier(store, settings.smtp)
        app.ctx.outbox_task = loop.create_task(
            run_outbox_worker(notifier, interval_s=outbox_interval_s,
                              purges=(store.purge, app.ctx.learning_records.purge))
        )
        app.ctx.grouping_task = None
        if group_every_s and settings.learning:
            app.ctx.grouping_task = loop.create_task(
                run_grouping_worker(app.ctx.learning_records, settings.database_url, every_s=group_every_s)
            )

    @app.listener("before_server_stop")
    async def stop_outbox(app: Sanic, loop) -> None:
        for task in (getattr(app.ctx, "outbox_task", None), getattr(app.ctx, "grouping_task", None)):
            if task is None:
                continue
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
        apply_security_headers(request.path, response.headers, production=settings.production)
        if request.path in CORS_PATHS:
            apply_cors(policy, request.headers.get("origin"), response.headers)

    @app.exception(PayloadTooLarge)
    async def too_large(request: Request, exc) -> HTTPResponse:
        return json(
            {"error": "message_too_long", "message": "That message is a little long for me. Please make it shorter."},
            status=413,
        )

    # Every other error gets a short answer of our own. Sanic's own error pages choose their format from the
    # Accept header and fail on one they cannot parse (answering 500 to "Accept: 0"), carry inline styles the
    # pages' CSP blocks, and would answer the chat widget in HTML.
    @app.exception(Exception)
    async def error_answer(request: Request, exc: Exception) -> HTTPResponse:
        status = exc.status_code if isinstance(exc, SanicException) else 500
        if status >= 500 and status != 503:
            # The type only: an exception's text may quote what a visitor sent.
            log.error("Unexpected %s while answering a request", type(exc).__name__)
        extra = getattr(exc, "headers", None)
        headers = dict(extra) if isinstance(extra, dict) else {}
        headers["Cache-Control"] = "no-store"
        if request is not None and request.path == "/chat":
            if status >= 500:
                return json(_UNAVAILABLE, status=status, headers=headers)
            body = {"error": "bad_request", "message": "Sorry, something went wrong sending that. Please try again."}
            return json(body, status=status, headers=headers)
        message = _ERROR_TEXTS.get(status) or (_SERVER_ERROR_TEXT if status >= 500 else _ERROR_TEXTS[400])
        return text(message + "\n", status=status, headers=headers)

    async def preflight(request: Request) -> HTTPResponse:
        response = empty(status=204)
        apply_cors(policy, request.headers.get("origin"), response.headers, preflight=True)
        return response

    for path in CORS_PATHS:
        app.add_route(preflight, path, methods=["OPTIONS"], name=_route_name("preflight", path))

    def refuse(exc: chat_proxy.ChatError) -> HTTPResponse:
        headers = {"Cache-Control": "no-store"}
        if isinstance(exc, (chat_proxy.TooFast, chat_proxy.Busy)):
            headers["Retry-After"] = exc.retry_after
        return json(exc.body(), status=exc.status, headers=headers)

    def at_the_door(request: Request) -> Optional[HTTPResponse]:
        """The refusal for a POST from a site that may not use the chat, or from an address sending too much."""
        if not policy.may_post(request.headers.get("origin"), request.headers.get("host")):
            return json({"error": "forbidden_origin", "message": "This site may not use the chat."}, status=403)
        # Every request counts against its address, well-formed or not, so a flood is cut before any work.
        wait_s = app.ctx.address_limit.take(client_address(request))
        return refuse(chat_proxy.TooFast(wait_s)) if wait_s else None

    @app.post("/chat")
    async def chat(request: Request) -> HTTPResponse:
        refused = at_the_door(request)
        if refused is not None:
            return refused
        try:
            body = request.json
        except InvalidUsage:
            body = None
        try:
            sender, message = chat_proxy.validate(body)
            wait_s = app.ctx.sender_limit.take(sender)
            if wait_s:
                raise chat_proxy.TooFast(wait_s)
            async with app.ctx.turns.turn(sender), app.ctx.rasa_capacity.place():
                messages = await app.ctx.rasa.send(sender, message)
        except chat_proxy.ChatError as exc:
            return refuse(exc)
        except chat_proxy.Unavailable:
            return json(_UNAVAILABLE, status=503, headers={"Cache-Control": "no-store"})
        messages = await app.ctx.learning.relay(sender, message, messages)
        return json({"messages": messages}, headers={"Cache-Control": "no-store"})

    @app.post("/feedback")
    async def feedback(request: Request) -> HTTPResponse:
        """A "was this helpful?" vote from the widget: the answer's id and yes or no, counted per day."""
        refused = at_the_door(request)
        if refused is not None:
            return refused
        if not app.ctx.learning.active:
            return json({"error": "off", "message": "Answers are not being rated here."}, status=404,
                        headers={"Cache-Control": "no-store"})
        try:
            body = request.json
        except InvalidUsage:
            body = None
        sender = body.get("sender") if isinstance(body, dict) else None
        answer = body.get("answer") if isinstance(body, dict) else None
        helpful = body.get("helpful") if isinstance(body, dict) else None
        if (not isinstance(sender, str) or not chat_proxy.is_sender(sender) or not isinstance(answer, str)
                or answer not in faq_answers() or not isinstance(helpful, bool)):
            return json({"error": "bad_request", "message": "Sorry, that didn't send."}, status=400,
                        headers={"Cache-Control": "no-store"})
        wait_s = app.ctx.sender_limit.take(sender.lower())
        if wait_s:
            return refuse(chat_proxy.TooFast(wait_s))
        try:
            await app.ctx.learning.vote(sender.lower(), answer, helpful)
        except StoreUnavailable:
            return json({"error": "unavailable", "message": "Sorry, that didn't send."}, status=503,
                        headers={"Cache-Control": "no-store"})
        return empty(status=204, headers={"Cache-Control": "no-store"})

    def serve_static(request: Request) -> HTTPResponse:
        item = static[request.path]
        headers = {"Cache-Control": STATIC_CACHE, "ETag": item.etag}
        if request.headers.get("if-none-match") == item.etag:
            return HTTPResponse(status=304, headers=headers)
        return raw(item.body, content_type=item.content_type, headers=headers)

    for path in static:
        app.add_route(serve_static, path, methods=["GET", "HEAD"], name=_route_name("static", path))

    @app.route("/", methods=["GET", "HEAD"])
    async def home(request: Request) -> HTTPResponse:
        return page("home.html")

    @app.route("/about", methods=["GET", "HEAD"])
    async def about(request: Request) -> HTTPResponse:
        return page("about.html")

    @app.route("/embed", methods=["GET", "HEAD"])
    async def embed(request: Request) -> HTTPResponse:
        return page("embed.html", server_address=f"{request.scheme}://{request.host}")

    @app.route("/healthz", methods=["GET", "HEAD"])
    async def health(request: Request) -> HTTPResponse:
        return json({"status": "ok"}, headers={"Cache-Control": "no-store"})

    add_staff_pages(app)
    return app
