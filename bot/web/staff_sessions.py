"""Staff sessions, sign-in throttling, CSRF tokens and the cookies that carry them.

Sessions live in this process's memory behind a signed cookie, so signing out or restarting really ends them; a
cookie copied elsewhere is useless once its session is gone. With several replicas they live in Redis instead
(bot/web/shared_state.py).
"""
from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Deque, Dict, Optional

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sanic.request import Request
from sanic.response import HTTPResponse

# The sign-in throttle counts by the same address as the chat's limits, proxies and IPv6 included.
from bot.web.security import client_address  # noqa: F401  (the staff pages import it from here)

SESSION_COOKIE = "rg_staff"
LOGIN_COOKIE = "rg_staff_login"
IDLE_LIMIT_S = 8 * 60 * 60
LOGIN_FAILURE_LIMIT = 5
LOGIN_WINDOW_S = 15 * 60
LOGIN_MAX_CLIENTS = 10_000


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

    def _sid(self, cookie: Optional[str]) -> Optional[str]:
        """The session id a cookie carries, if this server signed it."""
        if not cookie:
            return None
        try:
            sid = self._cookie.loads(cookie, max_age=self.idle_limit_s)
        except BadSignature:
            return None
        return sid if isinstance(sid, str) else None

    def lookup(self, cookie: Optional[str]) -> Optional[StaffSession]:
        sid = self._sid(cookie)
        session = self._sessions.get(sid) if sid else None
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
    """Wrong passwords per client address (see bot.web.security.client_address, which knows about proxies)."""

    def __init__(self, limit: int = LOGIN_FAILURE_LIMIT, window_s: float = LOGIN_WINDOW_S,
                 max_clients: int = LOGIN_MAX_CLIENTS):
        self.limit = limit
        self.window_s = window_s
        self.max_clients = max_clients
        # In order of each client's latest failure: those whose failures have all aged out are at the front.
        self._failures: "OrderedDict[str, Deque[float]]" = OrderedDict()

    def _recent(self, client: str) -> Deque[float]:
        now = time.monotonic()
        failures = self._failures.get(client) or deque()
        while failures and now - failures[0] > self.window_s:
            failures.popleft()
        return failures

    def blocked(self, client: str) -> bool:
        return len(self._recent(client)) >= self.limit

    def failed(self, client: str) -> None:
        failures = self._recent(client)
        failures.append(time.monotonic())
        self._failures.pop(client, None)
        self._failures[client] = failures
        self._forget_old()

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)

    def _forget_old(self) -> None:
        # Bounds the memory a flood of addresses can take; past the cap the longest-quiet client is forgotten.
        now = time.monotonic()
        while self._failures:
            oldest = next(iter(self._failures.values()))
            if len(self._failures) <= self.max_clients and oldest and now - oldest[-1] <= self.window_s:
                break
            self._failures.popitem(last=False)


def form_token_matches(request: Request, session: StaffSession) -> bool:
    token = request.form.get("csrf_token") if request.form else None
    return bool(token) and hmac.compare_digest(token, session.csrf_token)


def set_cookie(response: HTTPResponse, name: str, value: str, *, secure: bool, max_age: int) -> None:
    response.cookies[name] = value
    cookie = response.cookies[name]
    cookie["path"] = "/staff"
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["max-age"] = max_age
    if secure:
        cookie["secure"] = True


def clear_cookie(response: HTTPResponse, name: str, *, secure: bool) -> None:
    set_cookie(response, name, "", secure=secure, max_age=0)
