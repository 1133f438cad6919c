import asyncio
import logging
import sqlite3
from datetime import timedelta

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.callbacks.db import NotificationOutbox, utcnow
from bot.callbacks.notifications import (
    DISABLED_MESSAGE,
    MAX_ATTEMPTS,
    DeliveryReport,
    Notifier,
    count_undeliverable,
    retry_delay,
    run_outbox_worker,
    undeliverable_warning,
)
from bot.callbacks.store import CallbackStore
from support import BEST_TIME, DETAILS, PERSONAL, SmtpServer, free_port, smtp_settings, until

# An email may be read on a shared phone: it says a request waits, nothing about who or when to call.
NOT_IN_EMAIL = PERSONAL + (BEST_TIME, "Person harmed")


@pytest.fixture
def server():
    s = SmtpServer()
    s.start()
    yield s
    s.stop()


def outbox(db_path):
    with sqlite3.connect(db_path) as conn:
        return conn.execute(
            "SELECT reference, attempts, last_error, sent_at IS NOT NULL FROM notification_outbox ORDER BY id"
        ).fetchall()


def body_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_one_email_per_request_with_reference_and_no_personal_data(store, server, db_path, caplog):
    caplog.set_level(logging.DEBUG)
    first = store.submit("a", DETAILS)
    second = store.submit("b", DETAILS)
    store.submit("a", DETAILS)  # a repeated submit is not a new request
    notifier = Notifier(store, smtp_settings(server.port), staff_url="https://example.test/staff")

    report = notifier.deliver_pending()
    assert report == DeliveryReport(sent=2, failed=0, pending=0)
    assert [m["Subject"] for m in server.messages] == [
        f"New callback request {first}",
        f"New callback request {second}",
    ]
    for message, reference in zip(server.messages, (first, second)):
        body = body_of(message)
        assert reference in body
        assert f"python -m bot.callbacks.cli show {reference}" in body
        assert "https://example.test/staff" in body
        assert message["To"] == "staff@restorativegloucestershire.test"
        raw = message.as_string()
        for secret in NOT_IN_EMAIL:
            assert secret not in raw
    assert server.handler.envelopes[0] == (
        "assistant@restorativegloucestershire.test",
        ["staff@restorativegloucestershire.test"],
    )
    assert [row[1:] for row in outbox(db_path)] == [(1, None, 1), (1, None, 1)]

    assert notifier.deliver_pending() == DeliveryReport(sent=0, failed=0, pending=0)
    assert len(server.messages) == 2
    log_text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in NOT_IN_EMAIL:
        assert secret not in log_text


def test_server_down_then_up_delivers_exactly_once(store, db_path, caplog):
    caplog.set_level(logging.DEBUG)
    port = free_port()
    reference = store.submit("a", DETAILS)
    notifier = Notifier(store, smtp_settings(port))

    now = utcnow()
    report = notifier.deliver_pending(now)
    assert report == DeliveryReport(sent=0, failed=1, pending=1)
    assert outbox(db_path) == [(reference, 1, "ConnectionRefusedError", 0)]
    warning = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warning and "ConnectionRefusedError" in warning[-1].getMessage()

    server = SmtpServer(port=port)
    server.start()
    try:
        later = now + timedelta(minutes=1)
        assert notifier.deliver_pending(later) == DeliveryReport(sent=1, failed=0, pending=0)
        assert notifier.deliver_pending(later) == DeliveryReport(sent=0, failed=0, pending=0)
        assert len(server.messages) == 1
        assert server.messages[0]["Subject"] == f"New callback request {reference}"
    finally:
        server.stop()
    assert outbox(db_path) == [(reference, 2, None, 1)]
    log_text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in NOT_IN_EMAIL:
        assert secret not in log_text


def test_disabled_when_smtp_is_none(store, db_path, caplog):
    caplog.set_level(logging.INFO)
    store.submit("a", DETAILS)
    notifier = Notifier(store, None)
    assert notifier.enabled is False
    assert [r.getMessage() for r in caplog.records if r.name == "bot.callbacks.notifications"] == [DISABLED_MESSAGE]
    report = notifier.deliver_pending()
    assert report == DeliveryReport(sent=0, failed=0, pending=1, enabled=False)
    assert outbox(db_path)[0][1:] == (0, None, 0)


def test_login_when_username_is_set(store):
    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((mechanism, auth_data.login, auth_data.password))
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)

    server = SmtpServer(authenticator=authenticator, auth_require_tls=False)
    server.start()
    try:
        store.submit("a", DETAILS)
        ok = Notifier(store, smtp_settings(server.port, username="bot", password="s3cret"))
        assert ok.deliver_pending().sent == 1
        assert seen and seen[0][1] == b"bot"

        store.submit("b", DETAILS)
        wrong = Notifier(store, smtp_settings(server.port, username="bot", password="nope"))
        report = wrong.deliver_pending()
        assert (report.sent, report.failed, report.pending) == (0, 1, 1)
    finally:
        server.stop()


def test_notifier_accepts_an_engine(store, server):
    store.submit("a", DETAILS)
    assert Notifier(store.engine, smtp_settings(server.port)).deliver_pending().sent == 1


class Clock:
    """The worker's idea of the time, moved on by the test; counts how often the worker asked."""

    def __init__(self):
        self.now = utcnow()
        self.reads = 0

    def __call__(self):
        self.reads += 1
        return self.now


async def test_worker_delivers_and_purges_and_survives_errors(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "w.sqlite3"
    store = CallbackStore(f"sqlite:///{path}")
    port = free_port()
    store.submit("a", DETAILS)
    notifier = Notifier(store, smtp_settings(port))
    clock = Clock()
    task = asyncio.create_task(run_outbox_worker(notifier, interval_s=0.02, purges=(store.purge,), clock=clock))
    try:
        # Server down: the worker tries once, then waits out the retry delay however often it runs...
        await until(lambda: outbox(path)[0][1] == 1)
        reads = clock.reads
        await until(lambda: clock.reads >= reads + 3)
        assert outbox(path)[0][1] == 1
        # ...and tries again once the delay has passed, instead of stopping.
        clock.now += timedelta(minutes=1)
        await until(lambda: outbox(path)[0][1] == 2)
        assert not task.done()
        server = SmtpServer(port=port)
        server.start()
        try:
            clock.now += timedelta(minutes=2)
            await until(lambda: server.messages)
            assert len(server.messages) == 1
        finally:
            server.stop()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        store.close()
    assert any("Purged personal details" in r.getMessage() for r in caplog.records)
    log_text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in NOT_IN_EMAIL:
        assert secret not in log_text


async def test_worker_survives_database_errors(caplog):
    caplog.set_level(logging.DEBUG)
    store = CallbackStore("postgresql://u:p@127.0.0.1:1/x")
    notifier = Notifier(store, smtp_settings(free_port()))
    task = asyncio.create_task(run_outbox_worker(notifier, interval_s=0.05, purges=(store.purge,)))
    await until(lambda: sum("StoreUnavailable" in r.getMessage() for r in caplog.records) >= 2)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert any("StoreUnavailable" in r.getMessage() for r in caplog.records)


def outbox_rows(store):
    with Session(store.engine, future=True) as session:
        return session.execute(select(NotificationOutbox).order_by(NotificationOutbox.id)).scalars().all()


def test_retry_delays_double_from_a_minute_up_to_an_hour():
    assert [retry_delay(n) for n in range(1, 10)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60, 60)
    ]
    assert retry_delay(10_000) == timedelta(hours=1)


def test_failures_back_off_then_stop_and_staff_can_send_them_on_demand(store, caplog):
    caplog.set_level(logging.DEBUG)
    port = free_port()  # nothing listens here until the server is started below
    reference = store.submit("a", DETAILS)
    notifier = Notifier(store, smtp_settings(port))
    now = utcnow()
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = notifier.deliver_pending(now)
        assert (report.sent, report.failed) == (0, 1)
        [row] = outbox_rows(store)
        assert row.attempts == attempt and row.last_error == "ConnectionRefusedError"
        if attempt == MAX_ATTEMPTS:
            break
        assert row.failed_at is None and report.pending == 1 and report.undeliverable == 0
        waits.append(row.next_attempt_at - now)
        # Not a moment before its time, however often the worker runs.
        early = notifier.deliver_pending(row.next_attempt_at - timedelta(seconds=1))
        assert early == DeliveryReport(sent=0, failed=0, pending=1)
        now = row.next_attempt_at
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60)]

    # Given up: marked failed, no longer tried automatically, and counted for the staff warning.
    [row] = outbox_rows(store)
    assert row.failed_at is not None and row.next_attempt_at is None and row.sent_at is None
    assert (report.pending, report.undeliverable) == (0, 1)
    assert count_undeliverable(store) == 1
    assert any(reference in r.getMessage() and "rg-staff notify" in r.getMessage()
               for r in caplog.records if r.levelno >= logging.ERROR)
    much_later = now + timedelta(days=30)
    assert notifier.deliver_pending(much_later) == DeliveryReport(sent=0, failed=0, pending=0, undeliverable=1)
    assert outbox_rows(store)[0].attempts == MAX_ATTEMPTS

    server = SmtpServer(port=port)
    server.start()
    try:
        # Mail works again: still nothing automatic, until a member of staff asks.
        assert notifier.deliver_pending(much_later).sent == 0
        report = notifier.deliver_pending(much_later, on_demand=True)
        assert report == DeliveryReport(sent=1, failed=0, pending=0, undeliverable=0)
        assert notifier.deliver_pending(much_later, on_demand=True).sent == 0
        assert [m["Subject"] for m in server.messages] == [f"New callback request {reference}"]
    finally:
        server.stop()
    [row] = outbox_rows(store)
    assert row.sent_at is not None and row.failed_at is None
    assert count_undeliverable(store) == 0
    log_text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in NOT_IN_EMAIL:
        assert secret not in log_text


def test_sending_on_demand_that_fails_again_stays_failed(store):
    port = free_port()
    store.submit("a", DETAILS)
    notifier = Notifier(store, smtp_settings(port), max_attempts=1)
    assert notifier.deliver_pending().undeliverable == 1
    report = notifier.deliver_pending(on_demand=True)
    assert (report.sent, report.failed, report.pending, report.undeliverable) == (0, 1, 0, 1)
    assert outbox_rows(store)[0].attempts == 2


def test_on_demand_also_sends_those_waiting_out_a_delay(store, server):
    port = free_port()
    first = store.submit("a", DETAILS)
    Notifier(store, smtp_settings(port)).deliver_pending()
    assert outbox_rows(store)[0].next_attempt_at is not None
    second = store.submit("b", DETAILS)
    notifier = Notifier(store, smtp_settings(server.port))
    assert notifier.deliver_pending().sent == 1  # only the one that is due
    assert notifier.deliver_pending(on_demand=True).sent == 1
    assert sorted(m["Subject"] for m in server.messages) == sorted(
        f"New callback request {r}" for r in (first, second)
    )


def test_the_warning_reads_naturally():
    assert undeliverable_warning(1).startswith("1 notification email could not be sent: check the mail settings.")
    assert undeliverable_warning(3).startswith("3 notification emails could not be sent")
    assert "the requests themselves are safe" in undeliverable_warning(2).lower()
