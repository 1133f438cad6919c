"""What several website app replicas must share, kept in Redis when RG_REDIS_URL is set: the chat rate limits,
staff sessions, the sign-in throttle, and the little the learning keeps about a conversation.

Without RG_REDIS_URL (one machine, `make run`) each of these lives in the process, as before. With it, a visitor
or a member of staff may reach any replica behind the load balancer and be treated the same.

Keys never hold what they are about in the clear: a visitor id, a client address or a session id is stored as a
keyed hash (HMAC with RG_SECRET_KEY), and every key expires on its own. The Redis client is synchronous, on
purpose: each call is one round trip of well under a millisecond on a private network, and a short socket
timeout bounds the wait if Redis is away. When Redis cannot be reached, the chat limits let messages through
(the capacity limit still protects Rasa) and staff sign-in fails closed.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from typing import Callable, Dict, Optional

from bot.web.staff_sessions import (
    IDLE_LIMIT_S,
    LOGIN_FAILURE_LIMIT,
    LOGIN_WINDOW_S,
    LoginThrottle,
    SessionStore,
    StaffSession,
)

log = logging.getLogger(__name__)

SOCKET_TIMEOUT_S = 0.5
PREFIX = "rg:web:"

# A token bucket in one atomic step, on Redis's own clock so that every replica agrees on the time.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(bucket[1]), tonumber(bucket[2])
if tokens == nil then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(wait)
"""


def connect(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S,
                                decode_responses=True)


class _Keys:
    def __init__(self, secret: bytes, kind: str) -> None:
        self._secret = secret
        self._prefix = PREFIX + kind + ":"

    def __call__(self, value: str) -> str:
        return self._prefix + hmac.new(self._secret, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


class SharedRateLimit:
    """chat_proxy.RateLimit's token buckets, shared by every replica."""

    def __init__(self, client, secret: bytes, kind: str, per_minute: int) -> None:
        from bot.web.chat_proxy import BURST_S

        self.rate = per_minute / 60.0
        self.burst = max(1.0, self.rate * BURST_S)
        self._client = client
        self._key = _Keys(secret, "limit:" + kind)
        self._take = client.register_script(_TAKE)

    def take(self, key: str) -> float:
        try:
            return float(self._take(keys=[self._key(key)], args=[self.rate, self.burst]))
        except Exception as exc:  # noqa: BLE001  (a Redis outage must not stop the chat)
            log.warning("Chat limit not checked: Redis unavailable (%s)", type(exc).__name__)
            return 0.0


class SharedSessionStore(SessionStore):
    """Staff sessions in Redis: signing out on one replica signs out on all; idle sessions expire there."""

    def __init__(self, client, secret: bytes, idle_limit_s: float = IDLE_LIMIT_S) -> None:
        super().__init__(secret, idle_limit_s)
        self._client = client
        self._key = _Keys(secret, "session")

    def create(self) -> StaffSession:
        session = StaffSession(sid=secrets.token_urlsafe(32), csrf_token=secrets.token_urlsafe(32))
        self._client.set(self._key(session.sid), session.csrf_token, ex=int(self.idle_limit_s))
        return session

    def lookup(self, cookie: Optional[str]) -> Optional[StaffSession]:
        sid = self._sid(cookie)
        if sid is None:
            return None
        try:
            csrf_token = self._client.getex(self._key(sid), ex=int(self.idle_limit_s))
        except Exception as exc:  # noqa: BLE001  (fails closed: no session without Redis)
            log.warning("Staff session not checked: Redis unavailable (%s)", type(exc).__name__)
            return None
        return StaffSession(sid=sid, csrf_token=csrf_token) if csrf_token else None

    def end(self, session: StaffSession) -> None:
        self._client.delete(self._key(session.sid))


class SharedLoginThrottle(LoginThrottle):
    """Wrong passwords per client address within the window, counted across replicas."""

    def __init__(self, client, secret: bytes, limit: int = LOGIN_FAILURE_LIMIT,
                 window_s: float = LOGIN_WINDOW_S) -> None:
        super().__init__(limit, window_s)
        self._client = client
        self._key = _Keys(secret, "login")

    def _count(self, client: str, add: bool) -> int:
        key, now = self._key(client), time.time()
        pipe = self._client.pipeline()
        pipe.zremrangebyscore(key, 0, now - self.window_s)
        if add:
            pipe.zadd(key, {secrets.token_hex(8): now})
            pipe.expire(key, int(self.window_s) + 1)
        pipe.zcard(key)
        return int(pipe.execute()[-1])

    def blocked(self, client: str) -> bool:
        try:
            return self._count(client, add=False) >= self.limit
        except Exception as exc:  # noqa: BLE001  (fails closed: no sign-in without the throttle)
            log.warning("Sign-in throttle not checked: Redis unavailable (%s)", type(exc).__name__)
            return True

    def failed(self, client: str) -> None:
        self._count(client, add=True)

    def succeeded(self, client: str) -> None:
        self._client.delete(self._key(client))


class SharedNotes:
    """Short-lived notes about a visitor (bot/learning/chat_observer.py), each a JSON value with its own expiry."""

    def __init__(self, client, secret: bytes, kind: str, ttl_s: float) -> None:
        self._client = client
        self._key = _Keys(secret, "note:" + kind)
        self.ttl_s = int(ttl_s)

    def get(self, visitor: str) -> Optional[object]:
        try:
            raw = self._client.get(self._key(visitor))
        except Exception as exc:  # noqa: BLE001
            log.warning("Learning note not read: Redis unavailable (%s)", type(exc).__name__)
            return None
        return json.loads(raw) if raw else None

    def put(self, visitor: str, value: object) -> None:
        try:
            self._client.set(self._key(visitor), json.dumps(value), ex=self.ttl_s)
        except Exception as exc:  # noqa: BLE001
            log.warning("Learning note not kept: Redis unavailable (%s)", type(exc).__name__)


class LocalNotes:
    """The same notes in this process, for one machine."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        from bot.web.chat_proxy import RecentKeys

        self._items: "RecentKeys[object]" = RecentKeys(idle_s=ttl_s)
        self._clock = clock

    def get(self, visitor: str) -> Optional[object]:
        found = self._items.get(visitor, self._clock())
        return found[1] if found else None

    def put(self, visitor: str, value: object) -> None:
        self._items.put(visitor, value, self._clock())


Notes = Dict[str, object]
