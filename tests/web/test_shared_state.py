"""The website app's state in a real Redis, shared by replicas: chat limits, staff sessions, the sign-in
throttle and the learning's notes; and what happens when Redis is away."""
from __future__ import annotations

import secrets
import time
import uuid

import pytest

from bot.web.shared_state import (
    SharedLoginThrottle,
    SharedNotes,
    SharedRateLimit,
    SharedSessionStore,
    connect,
)

SECRET = secrets.token_bytes(32)


@pytest.fixture
def client(redis_url):
    redis_client = connect(redis_url)
    redis_client.flushdb()
    yield redis_client
    redis_client.close()


def test_two_replicas_share_one_token_bucket(client):
    first, second = (SharedRateLimit(client, SECRET, "sender", per_minute=30) for _ in range(2))
    visitor = str(uuid.uuid4())
    # 30 a minute with 20 seconds' worth at once: 10 messages, then a wait of about 2 s, whichever replica.
    waits = [(first if n % 2 else second).take(visitor) for n in range(11)]
    assert waits[:10] == [0.0] * 10
    assert 1.5 < waits[10] <= 2.0
    assert first.take(str(uuid.uuid4())) == 0.0  # another visitor has their own bucket


def test_keys_name_nobody_and_expire(client):
    limit = SharedRateLimit(client, SECRET, "address", per_minute=60)
    limit.take("203.0.113.7")
    [key] = client.keys("*")
    assert "203.0.113.7" not in key and 0 < client.ttl(key) <= 21


def test_a_limit_lets_messages_through_when_redis_is_away():
    limit = SharedRateLimit(connect("redis://127.0.0.1:9/0"), SECRET, "sender", per_minute=1)
    assert [limit.take("v") for _ in range(3)] == [0.0, 0.0, 0.0]


def test_a_session_made_on_one_replica_is_known_to_the_other_until_signed_out(client):
    one, other = SharedSessionStore(client, SECRET), SharedSessionStore(client, SECRET)
    session = one.create()
    found = other.lookup(one.cookie_value(session))
    assert found is not None and found.csrf_token == session.csrf_token
    other.end(found)
    assert one.lookup(one.cookie_value(session)) is None
    assert one.lookup("forged-cookie") is None and one.lookup(None) is None


def gone_within(read, timeout_s: float = 5.0) -> bool:
    """Polls until `read()` finds nothing: Redis drops a key once its expiry has passed."""
    deadline = time.monotonic() + timeout_s
    while read() is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_an_idle_session_expires_in_redis(client):
    store = SharedSessionStore(client, SECRET, idle_limit_s=1)
    store.create()
    [key] = client.keys("rg:web:session:*")
    # Nobody uses it (a lookup would renew it): Redis drops it once the idle limit has passed.
    assert gone_within(lambda: client.get(key))


def test_no_staff_session_without_redis():
    store = SharedSessionStore(connect("redis://127.0.0.1:9/0"), SECRET)
    assert store.lookup(store.cookie_value(type("S", (), {"sid": "x"})())) is None


def test_wrong_passwords_are_counted_across_replicas(client):
    one, other = SharedLoginThrottle(client, SECRET, limit=3), SharedLoginThrottle(client, SECRET, limit=3)
    for throttle in (one, other, one):
        assert not throttle.blocked("198.51.100.4")
        throttle.failed("198.51.100.4")
    assert one.blocked("198.51.100.4") and other.blocked("198.51.100.4")
    assert not one.blocked("198.51.100.5")
    other.succeeded("198.51.100.4")
    assert not one.blocked("198.51.100.4")
    assert SharedLoginThrottle(connect("redis://127.0.0.1:9/0"), SECRET).blocked("x")  # fails closed


def test_notes_are_shared_and_expire(client):
    one, other = SharedNotes(client, SECRET, "rateable", ttl_s=1), SharedNotes(client, SECRET, "rateable", ttl_s=1)
    one.put("visitor", {"faq/cost": "is it free"})
    assert other.get("visitor") == {"faq/cost": "is it free"}
    assert gone_within(lambda: other.get("visitor"))
