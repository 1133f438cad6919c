"""The staff pages: sign-in, the callback list, one request, status changes and the CSV export.

Sessions live in this process's memory (one worker) behind a signed cookie, so signing out or restarting
really ends them; a cookie copied elsewhere is useless once its session is gone.
"""
from __future__ import annotations

import asyncio
import hmac
import io
import logging
import secrets
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Deque, Dict, Optional

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, html, raw, redirect

from bot.web.passwords import hash_password, is_valid_hash, verify_password
from bot.web.templating import Markup, h, join, render

try:
    from zoneinfo import ZoneInfo

    _LOCAL_TZ = ZoneInfo("Europe/London")
except Exception:  # no time zone database on this machine: show UTC and say so
    _LOCAL_TZ = timezone.utc

log = logging.getLogger(__name__)

SESSION_COOKIE = "rg_staff"
LOGIN_COOKIE = "rg_staff_login"
IDLE_LIMIT_S = 8 * 60 * 60
LOGIN_FAILURE_LIMIT = 5
LOGIN_WINDOW_S = 15 * 60
STATUS_LABELS = {"new": "New", "in_progress": "In progress", "done": "Done"}
FILTERS = (("all", "All requests"), ("new", "New"), ("in_progress", "In progress"), ("done", "Done"))


@dataclass
class StaffSession:
    sid: str
    csrf_token: str
    last_seen: float = field(default_factory=time.monotonic)


class SessionStore:
    def __init__(self, secret: bytes, idle_limit_s: float = IDLE_LIMIT_S):
        self.idle_limit_s = idle_limit_s
        self._cookie = URLSafeTimedSerializer(secret, salt="rg-staff-session")
        self._login = URLSafeTimedSerializer(secret, salt="rg-staff-login-form")
        self._sessions: Dict[str, StaffSession] = {}

    def create(self) -> StaffSession:
        self._expire()
        session = StaffSession(sid=secrets.token_urlsafe(32), csrf_token=secrets.token_urlsafe(32))
        self._sessions[session.sid] = session
        return session

    def cookie_value(self, session: StaffSession) -> str:
        return self._cookie.dumps(session.sid)

    def lookup(self, cookie: Optional[str]) -> Optional[StaffSession]:
        if not cookie:
            return None
        try:
            sid = self._cookie.loads(cookie, max_age=self.idle_limit_s)
        except BadSignature:
            return None
        session = self._sessions.get(sid) if isinstance(sid, str) else None
        if session is None:
            return None
        now = time.monotonic()
        if now - session.last_seen > self.idle_limit_s:
            self._sessions.pop(sid, None)
            return None
        session.last_seen = now
        return session

    def end(self, session: StaffSession) -> None:
        self._sessions.pop(session.sid, None)

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [s for s, v in self._sessions.items() if now - v.last_seen > self.idle_limit_s]:
            self._sessions.pop(sid, None)

    # The sign-in form is protected too, so another site cannot sign a browser into a session it chose.
    def login_token(self) -> tuple[str, str]:
        token = secrets.token_urlsafe(32)
        return token, self._login.dumps(token)

    def check_login_token(self, form_token: Optional[str], cookie: Optional[str]) -> bool:
        if not form_token or not cookie:
            return False
        try:
            expected = self._login.loads(cookie, max_age=IDLE_LIMIT_S)
        except BadSignature:
            return False
        return isinstance(expected, str) and hmac.compare_digest(expected, form_token)


class LoginThrottle:
    def __init__(self, limit: int = LOGIN_FAILURE_LIMIT, window_s: float = LOGIN_WINDOW_S):
        self.limit = limit
        self.window_s = window_s
        self._failures: Dict[str, Deque[float]] = {}

    def _recent(self, client: str) -> Deque[float]:
        now = time.monotonic()
        failures = self._failures.setdefault(client, deque())
        while failures and now - failures[0] > self.window_s:
            failures.popleft()
        return failures

    def blocked(self, client: str) -> bool:
        return len(self._recent(client)) >= self.limit

    def failed(self, client: str) -> None:
        self._recent(client).append(time.monotonic())
        if len(self._failures) > 10_000:  # bound the memory a flood of addresses can take
            for key in [k for k, v in self._failures.items() if not v][:5_000]:
                self._failures.pop(key, None)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)


def _client(request: Request) -> str:
    return request.remote_addr or request.ip or "unknown"


def _when(value: Optional[datetime]) -> str:
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    local = value.astimezone(_LOCAL_TZ)
    suffix = "" if _LOCAL_TZ is not timezone.utc else " UTC"
    return local.strftime("%d %b %Y, %H:%M") + suffix


def _or_erased(record, value) -> str:
    if record.purged:
        return "Erased (retention period ended)"
    return value if value else "-"


def _set_cookie(response: HTTPResponse, name: str, value: str, secure: bool, max_age: int) -> None:
    response.cookies[name] = value
    cookie = response.cookies[name]
    cookie["path"] = "/staff"
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["max-age"] = max_age
    if secure:
        cookie["secure"] = True


def _clear_cookie(response: HTTPResponse, name: str, secure: bool) -> None:
    _set_cookie(response, name, "", secure, 0)


def register_staff_routes(app: Sanic, settings, store) -> None:
    secure = bool(settings.production)
    secret = (settings.secret_key or "").encode("utf-8") or secrets.token_bytes(32)
    if not settings.secret_key and settings.production:
        log.warning("RG_SECRET_KEY is not set: staff are signed out whenever the web server restarts")
    sessions = SessionStore(secret)
    throttle = LoginThrottle()
    app.ctx.staff_sessions = sessions
    app.ctx.login_throttle = throttle

    password_hash = settings.staff_password_hash
    refusal: Optional[str] = None
    if password_hash and not is_valid_hash(password_hash):
        refusal = (
            "RG_STAFF_PASSWORD_HASH is not a valid password hash. Create one with "
            "'python -m bot.web.passwords', set it, and restart the web server."
        )
        password_hash = None
    elif not password_hash and settings.production:
        refusal = (
            "Staff sign-in is switched off because no staff password is set. Create one with "
            "'python -m bot.web.passwords', put the result in RG_STAFF_PASSWORD_HASH, and restart the web server."
        )
    elif not password_hash:
        # Development only: a fresh password for each start, shown once on this console and never stored.
        one_time = secrets.token_urlsafe(12)
        password_hash = hash_password(one_time)
        print(
            f"Staff pages (development): sign in at /staff with the one-time password {one_time}\n"
            "  (set RG_STAFF_PASSWORD_HASH from 'python -m bot.web.passwords' to choose your own)",
            file=sys.stderr,
            flush=True,
        )
    if refusal:
        log.error(refusal)

    def page(title: str, body: Markup, session: Optional[StaffSession] = None, status: int = 200) -> HTTPResponse:
        nav = render("staff_nav.html", csrf_token=session.csrf_token) if session else Markup("")
        return html(render("staff_page.html", title=title, nav=nav, body=body), status=status)

    def message(title: str, text: str, status: int, session=None, extra: Markup = Markup("")) -> HTTPResponse:
        return page(title, render("staff_message.html", heading=title, message=text, extra=extra), session, status)

    def refused() -> HTTPResponse:
        return message("Staff sign-in unavailable", refusal or "", 503)

    def no_store() -> HTTPResponse:
        return message(
            "Callback list unavailable",
            "The callback database could not be reached. Please try again in a minute; if it keeps happening, "
            "tell whoever looks after the assistant.",
            503,
        )

    def current(request: Request) -> Optional[StaffSession]:
        return sessions.lookup(request.cookies.get(SESSION_COOKIE))

    def refresh(response: HTTPResponse, session: StaffSession) -> HTTPResponse:
        # Re-signing on every page makes the 8-hour limit an idle limit, not a fixed one.
        _set_cookie(response, SESSION_COOKIE, sessions.cookie_value(session), secure, IDLE_LIMIT_S)
        return response

    def csrf_ok(request: Request, session: StaffSession) -> bool:
        token = request.form.get("csrf_token") if request.form else None
        return bool(token) and hmac.compare_digest(token, session.csrf_token)

    async def run(fn, *args):
        return await asyncio.to_thread(fn, *args)

    def login_page(notice: str = "", status: int = 200) -> HTTPResponse:
        token, cookie = sessions.login_token()
        notice_html = Markup(f'<p class="error" role="alert">{h(notice)}</p>') if notice else Markup("")
        response = page("Sign in", render("staff_login.html", csrf_token=token, notice=notice_html), status=status)
        _set_cookie(response, LOGIN_COOKIE, cookie, secure, LOGIN_WINDOW_S * 4)
        return response

    @app.get("/staff/login")
    async def staff_login_form(request: Request):
        if refusal:
            return refused()
        if current(request):
            return redirect("/staff")
        return login_page()

    @app.post("/staff/login")
    async def staff_login(request: Request):
        if refusal:
            return refused()
        client = _client(request)
        if throttle.blocked(client):
            return message(
                "Too many attempts",
                "Sign-in is paused after several wrong passwords. Please wait 15 minutes and try again.",
                429,
            )
        form = request.form or {}
        if not sessions.check_login_token(form.get("csrf_token"), request.cookies.get(LOGIN_COOKIE)):
            return login_page("The sign-in form had expired. Please enter your password again.", status=400)
        password = form.get("password") or ""
        if not await run(verify_password, password, password_hash):
            throttle.failed(client)
            log.info("Staff sign-in failed")
            return login_page("That password was not right. Please try again.", status=401)
        throttle.succeeded(client)
        session = sessions.create()
        log.info("Staff signed in")
        response = redirect("/staff", status=303)
        _clear_cookie(response, LOGIN_COOKIE, secure)
        return refresh(response, session)

    def guarded(csv: bool = False):
        def decorator(handler):
            async def wrapper(request: Request, *args, **kwargs):
                if refusal:
                    return refused() if not csv else raw(b"", status=503)
                session = current(request)
                if session is None:
                    if csv:
                        return raw(b"Sign in first.\n", status=401, content_type="text/plain; charset=utf-8")
                    return redirect("/staff/login")
                if store is None:
                    return no_store()
                from bot.callbacks.store import StoreUnavailable

                try:
                    response = await handler(request, session, *args, **kwargs)
                except StoreUnavailable:
                    response = no_store()
                return refresh(response, session)

            wrapper.__name__ = handler.__name__
            return wrapper

        return decorator

    def parse_filter(request: Request):
        from bot.callbacks.store import Status

        value = request.args.get("status", "all")
        if value not in dict(FILTERS):
            value = "all"
        return value, (None if value == "all" else Status(value))

    @app.get("/staff")
    @guarded()
    async def staff_list(request: Request, session: StaffSession):
        value, status = parse_filter(request)
        records = await run(store.list, status)
        options = join(
            Markup(f'<option value="{h(key)}"{" selected" if key == value else ""}>{h(label)}</option>')
            for key, label in FILTERS
        )
        if records:
            rows = join(
                Markup(
                    "<tr>"
                    f'<th scope="row"><a href="/staff/requests/{h(r.reference)}">{h(r.reference)}</a></th>'
                    f"<td>{h(_when(r.created_at))}</td>"
                    f'<td><span class="status status-{h(r.status.value)}">{h(STATUS_LABELS[r.status.value])}</span></td>'
                    f"<td>{h(r.role_label or '-')}</td>"
                    "</tr>"
                )
                for r in records
            )
            table = Markup(
                '<table class="data"><caption>'
                f"{h(len(records))} request{'s' if len(records) != 1 else ''}"
                '</caption><thead><tr><th scope="col">Reference</th><th scope="col">Received</th>'
                '<th scope="col">Status</th><th scope="col">Role</th></tr></thead>'
                f"<tbody>{rows}</tbody></table>"
            )
        else:
            table = Markup('<p class="empty">No requests to show.</p>')
        return page("Callback requests", render("staff_list.html", options=options, status=value, table=table), session)

    @app.get("/staff/requests/<reference>")
    @guarded()
    async def staff_detail(request: Request, session: StaffSession, reference: str):
        record = await run(store.get, reference)
        if record is None:
            return message("Not found", "There is no callback request with that reference.", 404, session)
        if record.purged:
            safety = Markup('<p class="safety">Personal details were erased at the end of the retention period.</p>')
        elif record.safe_to_identify:
            safety = Markup(
                '<div class="safety safe"><p><strong>Safe to identify:</strong> '
                "yes. You may say you are calling from Restorative Gloucestershire and leave a message.</p></div>"
            )
        else:
            safety = Markup(
                '<div class="safety unsafe"><p><strong>Not safe to identify.</strong> '
                "Do not say who is calling unless you are sure you are speaking to this person, "
                "and do not leave a voicemail or message.</p></div>"
            )
        next_steps = {"new": (("in_progress", "Mark in progress"), ("done", "Mark done")),
                      "in_progress": (("done", "Mark done"), ("new", "Move back to new")),
                      "done": (("in_progress", "Reopen"),)}[record.status.value]
        buttons = join(
            render("staff_status_button.html", reference=record.reference, csrf_token=session.csrf_token,
                   status=target, label=label)
            for target, label in next_steps
        )
        body = render(
            "staff_detail.html",
            reference=record.reference,
            safety=safety,
            name=_or_erased(record, record.name),
            phone=_or_erased(record, record.phone),
            best_time=_or_erased(record, record.best_time),
            role=record.role_label or "-",
            note=_or_erased(record, record.note),
            status=STATUS_LABELS[record.status.value],
            created=_when(record.created_at),
            updated=_when(record.updated_at),
            buttons=buttons,
        )
        return page(f"Request {record.reference}", body, session)

    @app.post("/staff/requests/<reference>/status")
    @guarded()
    async def staff_set_status(request: Request, session: StaffSession, reference: str):
        from bot.callbacks.store import Status, UnknownReference

        if not csrf_ok(request, session):
            return message("Please try again", "That form had expired. Go back, reload the page and try again.",
                           403, session)
        try:
            status = Status((request.form or {}).get("status", ""))
        except ValueError:
            return message("Please try again", "That status is not one the list knows.", 400, session)
        try:
            record = await run(store.set_status, reference, status)
        except UnknownReference:
            return message("Not found", "There is no callback request with that reference.", 404, session)
        return redirect(f"/staff/requests/{record.reference}", status=303)

    @app.get("/staff/export.csv")
    @guarded(csv=True)
    async def staff_export(request: Request, session: StaffSession):
        value, status = parse_filter(request)
        buffer = io.StringIO()
        await run(store.export_csv, buffer, status)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
        return raw(
            buffer.getvalue().encode("utf-8"),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="callbacks-{value}-{stamp}.csv"'},
        )

    @app.get("/staff/logout")
    async def staff_logout_form(request: Request):
        session = current(request)
        if session is None:
            return redirect("/staff/login")
        return refresh(message("Sign out", "Sign out of the callback list on this device?", 200, session), session)

    @app.post("/staff/logout")
    async def staff_logout(request: Request):
        session = current(request)
        response = redirect("/staff/login", status=303)
        if session is not None:
            if not csrf_ok(request, session):
                return refresh(message("Please try again", "That form had expired. Reload the page and sign out again.",
                                       403, session), session)
            sessions.end(session)
            log.info("Staff signed out")
        _clear_cookie(response, SESSION_COOKIE, secure)
        return response
