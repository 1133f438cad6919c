"""The store never creates or uses a stand-in database: missing, read-only, locked and not-migrated databases
are refused, against real SQLite files (and a real PostgreSQL server when one is installed)."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy.exc import OperationalError

from bot.callbacks import cli
from bot.callbacks.db import BUSY_TIMEOUT_S, alembic_config, head_revisions, make_engine
from bot.callbacks.store import CallbackDetails, CallbackStore, StoreNotReady, StoreUnavailable
from support import DETAILS, NAME, PHONE, assert_no_personal_data


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "var" / "callbacks.sqlite3"


@pytest.fixture
def url(db_path) -> str:
    return f"sqlite:///{db_path}"


@pytest.fixture
def created(url, db_path) -> Path:
    CallbackStore.create_or_upgrade(url)
    return db_path


def as_the_services_open_it(url: str) -> CallbackStore:
    return CallbackStore(url, create=False)


def stored_references(path: Path) -> list:
    # Read-only, so that looking cannot create or change anything.
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return [row[0] for row in conn.execute("SELECT reference FROM callback_requests ORDER BY id")]


def side_files(path: Path) -> list:
    return [p for p in (path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal")) if p.exists()]


def log_text(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


def test_a_missing_database_is_refused_and_nothing_is_created(url, db_path, caplog):
    caplog.set_level(logging.DEBUG)
    store = as_the_services_open_it(url)
    with pytest.raises(StoreNotReady) as caught:
        store.submit("a", DETAILS)
    assert "does not exist" in str(caught.value) and "rg-staff migrate" in str(caught.value)
    for call in (store.list, lambda: store.get("RG-AAAAAA"), store.purge, lambda: store.engine):
        with pytest.raises(StoreNotReady):
            call()
    store.close()
    assert not db_path.exists() and not db_path.parent.exists()
    assert_no_personal_data(log_text(caplog))


@pytest.mark.parametrize("create", [False, True], ids=["opened-by-a-service", "opened-with-create"])
def test_a_database_moved_away_at_submit_is_refused_and_not_recreated(url, created, tmp_path, create):
    store = CallbackStore(url, create=create)
    first = store.submit("first", DETAILS)
    moved = tmp_path / "moved.sqlite3"
    created.rename(moved)

    with pytest.raises(StoreNotReady):
        store.submit("second", DETAILS)
    with pytest.raises(StoreNotReady):
        store.list()
    assert not created.exists() and side_files(created) == []
    assert stored_references(moved) == [first]

    moved.rename(created)  # put back: the same store carries on in the real file
    second = store.submit("second", DETAILS)
    assert stored_references(created) == [first, second]
    store.close()


def test_a_read_only_database_is_refused_honestly_and_left_read_only(url, created):
    store = as_the_services_open_it(url)
    first = store.submit("first", DETAILS)
    os.chmod(created, 0o400)

    with pytest.raises(StoreNotReady) as caught:
        store.submit("second", DETAILS)
    assert "read-only" in str(caught.value)
    assert stat.S_IMODE(os.stat(created).st_mode) == 0o400
    assert stored_references(created) == [first]

    reopened = as_the_services_open_it(url)  # opened while read-only: refused the same way
    with pytest.raises(StoreNotReady):
        reopened.submit("second", DETAILS)
    reopened.close()

    os.chmod(created, 0o600)
    second = store.submit("second", DETAILS)
    assert stored_references(created) == [first, second]
    store.close()


def test_a_locked_database_is_refused_within_seconds_and_works_once_released(url, created):
    store = as_the_services_open_it(url)
    first = store.submit("first", DETAILS)
    locker = sqlite3.connect(created, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            store.submit("second", DETAILS)
        waited = time.monotonic() - started
        assert waited < BUSY_TIMEOUT_S + 3, f"refused only after {waited:.1f} s"
        assert "OperationalError" in str(caught.value)
        assert_no_personal_data(str(caught.value))
        locker.execute("ROLLBACK")
    finally:
        locker.close()
    second = store.submit("second", DETAILS)
    assert stored_references(created) == [first, second]
    store.close()


def test_an_empty_file_is_not_a_database_and_is_left_alone(url, db_path):
    db_path.parent.mkdir()
    db_path.touch(mode=0o600)
    store = as_the_services_open_it(url)
    with pytest.raises(StoreNotReady) as caught:
        store.submit("a", DETAILS)
    assert "not up to date" in str(caught.value) and "rg-staff migrate" in str(caught.value)
    assert db_path.stat().st_size == 0
    store.close()


def at_revision(url: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
    finally:
        engine.dispose()


def staff(url: str, *args: str) -> subprocess.CompletedProcess:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["--database-url", url, *args], out=out, err=err)
    return subprocess.CompletedProcess(["rg-staff", *args], code, out.getvalue(), err.getvalue())


def test_a_database_at_an_older_revision_is_refused_until_migrated(url, db_path):
    at_revision(url, "0001")
    store = as_the_services_open_it(url)
    with pytest.raises(StoreNotReady) as caught:
        store.submit("a", DETAILS)
    assert "revision 0001" in str(caught.value)
    assert stored_references(db_path) == []

    result = staff(url, "list")
    assert result.returncode == cli.EXIT_UNAVAILABLE and "rg-staff migrate" in result.stderr
    assert "Traceback" not in result.stderr

    assert staff(url, "migrate").returncode == 0
    reference = store.submit("a", DETAILS)  # the same store, no restart needed
    assert store.get(reference).name == NAME
    store.close()


def test_migrating_from_the_first_revision_keeps_waiting_emails_due(url, db_path):
    at_revision(url, "0001")
    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute(
            "INSERT INTO callback_requests (reference, idempotency_key, status, created_at, updated_at) "
            "VALUES ('RG-AAAAAA', 'k', 'new', '2025-01-01 10:00:00', '2025-01-01 10:00:00')"
        )
        conn.execute(
            "INSERT INTO notification_outbox (reference, created_at, attempts, last_error) "
            "VALUES ('RG-AAAAAA', '2025-01-01 10:00:00', 12, 'ConnectionRefusedError')"
        )
    CallbackStore.create_or_upgrade(url)
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (max(head_revisions()),)
        ]
        assert conn.execute("SELECT attempts, next_attempt_at, failed_at FROM notification_outbox").fetchall() == [
            (12, None, None)
        ]


def test_rg_staff_migrate_creates_the_database_privately_and_other_commands_do_not(url, db_path):
    result = staff(url, "list")
    assert result.returncode == cli.EXIT_UNAVAILABLE
    assert "does not exist" in result.stderr and "rg-staff migrate" in result.stderr
    assert not db_path.exists() and not db_path.parent.exists()

    result = staff(url, "migrate")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(db_path.parent).st_mode) == 0o700
    assert "No callback requests." in staff(url, "list").stdout


def test_an_engine_for_an_existing_database_cannot_create_one_even_without_the_store_checks(url, db_path):
    engine = make_engine(url, create=False)
    try:
        with pytest.raises(OperationalError):
            engine.connect().close()
    finally:
        engine.dispose()
    assert not db_path.exists() and not db_path.parent.exists()


def test_a_service_keeps_the_file_private(url, created):
    os.chmod(created, 0o644)  # e.g. restored from a backup with the wrong mode
    store = as_the_services_open_it(url)
    store.submit("a", DETAILS)
    assert stat.S_IMODE(os.stat(created).st_mode) == 0o600
    store.close()


def test_a_service_opening_a_database_never_writes_outside_it(url, created):
    store = as_the_services_open_it(url)
    store.submit("a", DETAILS)
    store.close()
    assert sorted(p.name for p in created.parent.iterdir() if p.name.startswith("callbacks")) == [
        "callbacks.sqlite3"
    ]


# --- PostgreSQL: the same rule, on a real server when one is installed ------------------------------------


def test_postgresql_must_already_be_migrated(pg_url):
    store = as_the_services_open_it(pg_url)
    with pytest.raises(StoreNotReady) as caught:
        store.submit("a", DETAILS)
    assert "revision none" in str(caught.value)
    with contextlib.closing(make_engine(pg_url).raw_connection()) as conn:
        tables = conn.cursor()
        tables.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
        assert tables.fetchone() == (0,)  # refusing created nothing

    at_revision(pg_url, "0001")
    with pytest.raises(StoreNotReady):
        store.submit("a", DETAILS)

    CallbackStore.create_or_upgrade(pg_url)
    reference = store.submit("a", CallbackDetails(NAME, PHONE, True, "Any time"))
    assert store.get(reference).phone == PHONE
    store.close()
