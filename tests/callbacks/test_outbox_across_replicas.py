"""Several website app replicas on one database: each staff email is sent once, and the daily purge runs once
between them, on SQLite and on a real PostgreSQL (where the outbox is claimed with FOR UPDATE SKIP LOCKED)."""
from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from bot.callbacks.db import claim_scheduled_run, release_scheduled_run
from bot.callbacks.notifications import Notifier, run_outbox_worker
from bot.callbacks.store import CallbackStore
from support import DETAILS, SmtpServer, free_port, smtp_settings, until

DAY = timedelta(days=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'callbacks.sqlite3'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(database_url):
    CallbackStore.create_or_upgrade(database_url)
    opened = CallbackStore(database_url, create=False)
    yield opened
    opened.close()


def test_a_daily_job_is_claimed_by_exactly_one_replica_once_a_day(store):
    now = datetime(2026, 12, 2, 3, tzinfo=timezone.utc)
    with ThreadPoolExecutor(8) as pool:  # eight replicas asking at the same moment, the first time ever
        claims = list(pool.map(lambda _: claim_scheduled_run(store.engine, "purge", DAY, now), range(8)))
    assert claims.count(True) == 1
    assert not claim_scheduled_run(store.engine, "purge", DAY, now + timedelta(hours=23))
    with ThreadPoolExecutor(8) as pool:
        claims = list(pool.map(lambda _: claim_scheduled_run(store.engine, "purge", DAY, now + DAY), range(8)))
    assert claims.count(True) == 1
    # A run that failed is due again at once.
    release_scheduled_run(store.engine, "purge")
    assert claim_scheduled_run(store.engine, "purge", DAY, now + DAY + timedelta(minutes=1))
    assert claim_scheduled_run(store.engine, "another job", DAY, now)  # each job on its own


async def test_two_workers_purge_once_between_them(store, caplog):
    caplog.set_level(logging.INFO)
    runs = []
    lock = threading.Lock()

    def purge() -> int:
        with lock:
            runs.append(1)
        return 0

    notifier = Notifier(store, None)
    tasks = [asyncio.create_task(run_outbox_worker(notifier, interval_s=0.02, purges=(purge,))) for _ in range(2)]
    try:
        await asyncio.sleep(0.5)  # many rounds of both workers
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert len(runs) == 1


def test_two_replicas_delivering_at_once_send_each_email_once(store):
    references = [store.submit(f"replica-test-{n}", DETAILS) for n in range(20)]
    server = SmtpServer(port=free_port())
    server.start()
    try:
        notifiers = [Notifier(store, smtp_settings(server.port), batch_size=50) for _ in range(2)]
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda notifier: notifier.deliver_pending(), notifiers))
        asyncio.run(until(lambda: len(server.messages) >= len(references), timeout_s=20))
        subjects = [message["Subject"] for message in server.messages]
    finally:
        server.stop()
    for reference in references:
        assert sum(reference in subject for subject in subjects) == 1
    assert len(subjects) == len(references)
