import asyncio
import logging
import sqlite3

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from bot.callbacks.notifications import DISABLED_MESSAGE, DeliveryReport, Notifier, run_outbox_worker
from bot.callbacks.store import CallbackStore
from support import BEST_TIME, DETAILS, PERSONAL, SmtpServer, free_port, smtp_settings, until

# An email may be read on a shared phone: it says a request waits, nothing about who or when to call.
NOT_IN_EMAIL = PERSONAL + (BEST_TIME, "Person harmed")


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "callbacks.sqlite3"


@pytest.fixture
def store(db_path):
    s = CallbackStore(f"sqlite:///{db_path}")
    yield s
    s.close()


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

    report = notifier.deliver_pending()
    assert report == DeliveryReport(sent=0, failed=1, pending=1)
    assert outbox(db_path) == [(reference, 1, "ConnectionRefusedError", 0)]
    warning = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warning and "ConnectionRefusedError" in warning[-1].getMessage()

    server = SmtpServer(port=port)
    server.start()
    try:
        assert notifier.deliver_pending() == DeliveryReport(sent=1, failed=0, pending=0)
        assert notifier.deliver_pending() == DeliveryReport(sent=0, failed=0, pending=0)
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


async def test_worker_delivers_and_purges_and_survives_errors(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    store = CallbackStore(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    port = free_port()
    store.submit("a", DETAILS)
    notifier = Notifier(store, smtp_settings(port))
    task = asyncio.create_task(run_outbox_worker(notifier, interval_s=0.05, purge_store=store))
    try:
        # Server down: the worker keeps trying instead of stopping.
        await until(lambda: outbox(tmp_path / 'w.sqlite3')[0][1] >= 2)
        assert not task.done()
        server = SmtpServer(port=port)
        server.start()
        try:
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
    task = asyncio.create_task(run_outbox_worker(notifier, interval_s=0.05, purge_store=store))
    await until(lambda: sum("StoreUnavailable" in r.getMessage() for r in caplog.records) >= 2)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert any("StoreUnavailable" in r.getMessage() for r in caplog.records)
