"""What several test modules share: one caller's details, a real SMTP server on loopback, free ports,
the real web app on a loopback port and a stand-in for Rasa's REST channel.

`NAME`, `PHONE`, `NOTE`, `BEST_TIME`, `DETAILS` are one caller's details; `PERSONAL` lists every form of them
that must never reach a log, an email or a list view (`assert_no_personal_data`).
`SmtpServer` is aiosmtpd's real server on a free loopback port, collecting what it receives.
`serve_app(settings, store)` runs bot.web.app.create_app in a background thread with its own event loop, on
settings.web_host:settings.web_port, and stops it (listeners included) when the block ends.
`RasaStandIn` is a small real HTTP server answering like Rasa's REST webhook with scripted replies.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import os
import subprocess
import threading
import time
import urllib.request
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Dict, Iterator, List, Optional
from unittest import mock

from aiosmtpd.controller import Controller
from sanic import Sanic

from bot.callbacks import cli as staff_cli
from bot.callbacks.store import CallbackDetails, CallbackStore
from bot.launcher import free_port
from bot.settings import Settings, SmtpSettings, load_settings

__all__ = ["free_port"]  # re-exported: tests import every shared helper from here

# Several apps are built and started in one test process; Sanic allows that in its test mode only.
Sanic.test_mode = True

NAME = "Bethany Quellwright"
PHONE = "+447400123456"
NOTE = "Please ask for Beth, partner is often home"
BEST_TIME = "Weekday mornings"
DETAILS = CallbackDetails(
    name=NAME, phone=PHONE, safe_to_identify=False, best_time=BEST_TIME, role="person_harmed", note=NOTE
)
PERSONAL = (NAME, "Quellwright", PHONE, "7400123456", "7400 123456", NOTE, "partner is often home")


def run_staff_cli(db_url, *args, extra_env=None):
    """The command line run in this process (as `rg-staff` runs it) with only the given RG_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RG_")}
    env["RG_DATABASE_URL"] = db_url
    env.update(extra_env or {})
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, env, clear=True), contextlib.redirect_stderr(err):
        try:
            code = staff_cli.run(list(args), out=out, err=err)
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code
    return subprocess.CompletedProcess(["rg-staff", *args], code, out.getvalue(), err.getvalue())


# The callback form's questions, as a person sees them.
FORM_QUESTIONS = {
    "consent": "Is that OK?",
    "name": "What name should the team ask for",
    "phone": "Which UK phone number",
    "voicemail": "is it safe to leave a voicemail",
    "time": "When is a good time to call",
    "role": "tell us who you are",
    "note": "Anything short you'd like the team to know",
    "summary": "Shall I send this to the team?",
}


def stored_references(database_url: str) -> set:
    """The references of every request in the database, read as staff would."""
    store = CallbackStore(database_url)
    try:
        return {record.reference for record in store.list()}
    finally:
        store.close()


def assert_no_personal_data(text: str) -> None:
    for secret in PERSONAL:
        assert secret not in text


class SmtpCollector:
    """aiosmtpd handler keeping every message it accepts, parsed, with its envelope."""

    def __init__(self):
        self.messages = []
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port=None, **kwargs):
        self.port = port or free_port()
        self.handler = SmtpCollector()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    def start(self):
        self.controller.start()

    def stop(self):
        self.controller.stop()

    @property
    def messages(self):
        return self.handler.messages


async def until(condition: Callable[[], object], timeout_s: float = 10.0, interval_s: float = 0.02) -> None:
    """Waits for `condition()` to be true, polling; a test never rests on a fixed sleep being long enough."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"still not true after {timeout_s} s: {condition}"
        await asyncio.sleep(interval_s)


def smtp_settings(port, **overrides) -> SmtpSettings:
    values = dict(
        host="127.0.0.1",
        port=port,
        username=None,
        password=None,
        starttls=False,
        sender="assistant@restorativegloucestershire.test",
        recipient="staff@restorativegloucestershire.test",
    )
    values.update(overrides)
    return SmtpSettings(**values)


INJECTION_TEXT = (
    'Here: <img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> '
    "[click me](javascript:window.__pwned=3) javascript:window.__pwned=4 and https://example.org/info."
)


EXIT_PAGE = "<!doctype html><html lang='en'><title>Weather</title><h1>Weather forecast</h1></html>"


def make_settings(database_path, rasa_url: str = "http://127.0.0.1:9", **overrides) -> Settings:
    port = overrides.pop("web_port", None) or free_port()
    env = {"RG_DATABASE_URL": f"sqlite:///{database_path}", "RG_WEB_PORT": str(port), "RG_RASA_URL": rasa_url}
    settings = load_settings(env)
    origins = overrides.pop("extra_origins", ())
    settings = dataclasses.replace(settings, allowed_origins=settings.allowed_origins + tuple(origins))
    return dataclasses.replace(settings, **overrides)


class RunningApp:
    def __init__(self, app, settings: Settings):
        self.app = app
        self.settings = settings
        self.url = f"http://{settings.web_host}:{settings.web_port}"
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop: Optional[asyncio.Event] = None
        self._ready = threading.Event()
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name="rg-web-test-server", daemon=True)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to the test thread
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await self.app.create_server(
            host=self.settings.web_host, port=self.settings.web_port, return_asyncio_server=True, access_log=False
        )
        await server.startup()
        await server.before_start()
        await server.after_start()
        self._ready.set()
        await self._stop.wait()
        await server.before_stop()
        server.close()
        await server.wait_closed()
        # As Sanic's own runner does: let idle keep-alive connections go, then cut any that linger.
        for connection in list(server.connections):
            connection.close_if_idle()
        deadline = time.monotonic() + 2.0
        while server.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for connection in list(server.connections):
            connection.abort()
        await server.after_stop()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def start(self, timeout: float = 20.0) -> "RunningApp":
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the web app did not start in time")
        if self._error:
            raise RuntimeError(f"the web app failed to start: {self._error!r}") from self._error
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self, timeout: float = 20.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)


@contextlib.contextmanager
def serve_app(settings: Settings, store=None) -> Iterator[RunningApp]:
    from bot.web.app import create_app

    running = RunningApp(create_app(settings, store), settings).start()
    try:
        yield running
    finally:
        running.stop()


def default_reply(message: str) -> List[dict]:
    if message == "/greet":
        return [
            {"recipient_id": "x", "text": "Hello. I can answer questions about restorative justice."},
            {
                "recipient_id": "x",
                "text": "What would you like to know?",
                "buttons": [
                    {"title": "What is it?", "payload": "/ask_what_is_rj"},
                    {"title": "Is it confidential?", "payload": "/ask_confidential"},
                ],
            },
        ]
    if message == "/ask_what_is_rj":
        text = "It lets people harmed by a crime communicate with the person responsible."
        return [{"recipient_id": "x", "text": text}]
    if message == "/ask_confidential":
        return [{"recipient_id": "x", "text": "What you tell us is kept confidential.\nThere are a few limits."}]
    if "inject" in message:
        return [{"recipient_id": "x", "text": INJECTION_TEXT}]
    if "custom" in message:
        return [{"recipient_id": "x", "custom": {"secret": "dropped"}, "image": "https://example.org/x.png"},
                {"recipient_id": "x", "text": "Only text survives."}]
    return [{"recipient_id": "x", "text": f"Thanks. You wrote {len(message)} characters.\nSecond line."}]


class RasaStandIn:
    """Answers POST /webhooks/rest/webhook like Rasa's REST channel; GET /exit is a neutral page."""

    def __init__(self, reply: Callable[[str], List[dict]] = default_reply):
        self.reply = reply
        self.received: List[Dict[str, str]] = []
        self.status = 200
        self.delay_s = 0.0
        # Extra pages on this origin, e.g. a partner site embedding the widget from the web app.
        self.pages: Dict[str, str] = {}
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                if self.path != "/webhooks/rest/webhook":
                    return self._send(404, b"{}", "application/json")
                data = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                stand_in.received.append(data)
                if stand_in.delay_s:
                    time.sleep(stand_in.delay_s)
                if stand_in.status != 200:
                    return self._send(stand_in.status, b'{"error": "boom"}', "application/json")
                body = json.dumps(stand_in.reply(data.get("message", ""))).encode()
                self._send(200, body, "application/json")

            def do_GET(self) -> None:
                page = stand_in.pages.get(self.path.split("?")[0], EXIT_PAGE)
                self._send(200, page.encode("utf-8"), "text/html; charset=utf-8")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "RasaStandIn":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
