import csv
import io
import logging
import os
import sqlite3
import stat
import threading
from datetime import timedelta

import pytest
from sqlalchemy import inspect, text

import bot.callbacks.store as callbacks
from bot.callbacks.db import make_engine, migrate, utcnow
from bot.callbacks.store import (
    CallbackDetails,
    CallbackStore,
    Status,
    StoreUnavailable,
    UnknownReference,
)
from support import BEST_TIME, DETAILS, NAME, NOTE, PHONE, assert_no_personal_data


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "var" / "callbacks.sqlite3"


@pytest.fixture
def store(db_path):
    s = CallbackStore(f"sqlite:///{db_path}", retention_days=30)
    yield s
    s.close()


def rows(db_path, sql):
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql).fetchall()


def all_log_text(caplog) -> str:
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def test_submit_stores_and_returns_reference(store, db_path):
    reference = store.submit("conversation-1", DETAILS)
    assert reference.startswith("RG-") and len(reference) == 9
    record = store.get(reference)
    assert record.name == NAME
    assert record.phone == PHONE
    assert record.safe_to_identify is False
    assert record.best_time == BEST_TIME
    assert record.role == "person_harmed"
    assert record.note == NOTE
    assert record.status is Status.NEW
    assert record.created_at.tzinfo is not None and record.created_at.utcoffset() == timedelta(0)
    assert not record.purged
    assert rows(db_path, "SELECT reference, attempts, sent_at FROM notification_outbox") == [(reference, 0, None)]


def test_same_key_twice_gives_one_row_and_same_reference(store, db_path):
    first = store.submit("conversation-1", DETAILS)
    second = store.submit("conversation-1", DETAILS)
    assert first == second
    assert rows(db_path, "SELECT count(*) FROM callback_requests") == [(1,)]
    assert rows(db_path, "SELECT count(*) FROM notification_outbox") == [(1,)]


def test_different_keys_give_different_references(store):
    assert store.submit("a", DETAILS) != store.submit("b", DETAILS)


def test_concurrent_submits_with_same_key_store_one_row(store, db_path):
    results, errors = [], []
    barrier = threading.Barrier(8)

    def submit():
        barrier.wait()
        try:
            results.append(store.submit("same-key", DETAILS))
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(results)) == 1 and len(results) == 8
    assert rows(db_path, "SELECT count(*) FROM callback_requests") == [(1,)]
    assert rows(db_path, "SELECT count(*) FROM notification_outbox") == [(1,)]


def test_concurrent_submits_from_two_stores_on_one_file(db_path):
    stores = [CallbackStore(f"sqlite:///{db_path}") for _ in range(2)]
    results = []
    barrier = threading.Barrier(6)

    def submit(i):
        barrier.wait()
        results.append(stores[i % 2].submit("shared", DETAILS))

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    assert rows(db_path, "SELECT count(*) FROM callback_requests") == [(1,)]


def test_reference_collision_is_retried(store, monkeypatch):
    draws = iter(["RG-AAAAAA", "RG-AAAAAA", "RG-CCCCCC"])
    monkeypatch.setattr(callbacks, "new_reference", lambda: next(draws))
    assert store.submit("one", DETAILS) == "RG-AAAAAA"
    assert store.submit("two", DETAILS) == "RG-CCCCCC"
    assert [r.reference for r in store.list()] == ["RG-CCCCCC", "RG-AAAAAA"]


def test_unreachable_postgresql_raises_store_unavailable(caplog):
    caplog.set_level(logging.DEBUG)
    store = CallbackStore("postgresql://u:p@127.0.0.1:1/x")
    with pytest.raises(StoreUnavailable) as caught:
        store.submit("k", DETAILS)
    assert "OperationalError" in str(caught.value)
    assert_no_personal_data(str(caught.value))
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert_no_personal_data(all_log_text(caplog))
    for call in (store.list, lambda: store.get("RG-AAAAAA"), store.purge):
        with pytest.raises(StoreUnavailable):
            call()
    store.close()


def test_unusable_sqlite_path_raises_store_unavailable(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    store = CallbackStore(f"sqlite:///{blocker / 'callbacks.sqlite3'}")
    with pytest.raises(StoreUnavailable):
        store.submit("k", DETAILS)


def test_failed_write_leaves_nothing_partial(store, db_path, caplog):
    caplog.set_level(logging.DEBUG)
    store.submit("first", DETAILS)
    # Break the second insert of the transaction: the request row must not survive on its own.
    with sqlite3.connect(db_path) as conn:
        conn.execute("ALTER TABLE notification_outbox RENAME TO notification_outbox_gone")
    with pytest.raises(StoreUnavailable) as caught:
        store.submit("second", DETAILS)
    assert rows(db_path, "SELECT count(*) FROM callback_requests") == [(1,)]
    assert_no_personal_data(str(caught.value))
    assert_no_personal_data(all_log_text(caplog))


def test_invalid_details_are_refused_without_echoing_them(store):
    with pytest.raises(ValueError) as caught:
        store.submit("k", CallbackDetails(NAME, PHONE, True, BEST_TIME, role="landlord"))
    assert_no_personal_data(str(caught.value))
    with pytest.raises(ValueError):
        store.submit("k", CallbackDetails(NAME, PHONE, True, BEST_TIME, note="x" * 501))
    with pytest.raises(ValueError):
        store.submit("", DETAILS)
    assert store.list() == []


def test_reprs_hide_personal_data(store):
    reference = store.submit("k", DETAILS)
    assert_no_personal_data(repr(DETAILS))
    assert_no_personal_data(repr(store.get(reference)))


def test_list_get_and_set_status(store):
    older = store.submit("a", DETAILS)
    newer = store.submit("b", CallbackDetails("Sam", "+441452426900", True, "Any time"))
    assert [r.reference for r in store.list()] == [newer, older]

    started = store.set_status(older, Status.IN_PROGRESS)
    assert started.status is Status.IN_PROGRESS and started.in_progress_at is not None
    assert started.updated_at >= started.created_at
    assert [r.reference for r in store.list(Status.IN_PROGRESS)] == [older]
    assert [r.reference for r in store.list(Status.NEW)] == [newer]

    done = store.set_status(older.lower().replace("-", " "), Status.DONE)
    assert done.status is Status.DONE and done.done_at >= done.in_progress_at

    reopened = store.set_status(older, Status.NEW)
    assert reopened.status is Status.NEW and reopened.done_at is None and reopened.in_progress_at is None

    assert store.get(older[3:].lower()).reference == older
    assert store.get("RG-AAAAAA") is None
    assert store.get("not a reference") is None
    with pytest.raises(UnknownReference) as caught:
        store.set_status("RG-AAAAAA", Status.DONE)
    assert "RG-AAAAAA" in str(caught.value)
    with pytest.raises(UnknownReference):
        store.set_status("nonsense", Status.DONE)


def test_purge_erases_only_old_rows_and_keeps_reference_and_status(store, db_path, caplog):
    caplog.set_level(logging.DEBUG)
    old = store.submit("old", DETAILS)
    store.set_status(old, Status.DONE)
    now = utcnow() + timedelta(days=20)
    recent = store.submit("recent", DETAILS)
    # Make the second request look 10 days old and the first 40 days old at `now`.
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "UPDATE callback_requests SET created_at = ? WHERE reference = ?",
            ((now - timedelta(days=40)).replace(tzinfo=None).isoformat(sep=" "), old),
        )
        conn.execute(
            "UPDATE callback_requests SET created_at = ? WHERE reference = ?",
            ((now - timedelta(days=10)).replace(tzinfo=None).isoformat(sep=" "), recent),
        )

    assert store.count_purgeable(now) == 1
    assert store.purge(now) == 1
    assert store.purge(now) == 0  # idempotent

    purged = store.get(old)
    assert purged.purged and purged.purged_at == now.replace(microsecond=purged.purged_at.microsecond)
    assert purged.status is Status.DONE and purged.reference == old
    assert (purged.name, purged.phone, purged.safe_to_identify, purged.best_time, purged.role, purged.note) == (
        None,
        None,
        None,
        None,
        None,
        None,
    )
    kept = store.get(recent)
    assert not kept.purged and kept.name == NAME and kept.phone == PHONE
    # The conversation key is unlinked too; the same key now starts a fresh request.
    assert rows(db_path, f"SELECT idempotency_key FROM callback_requests WHERE reference = '{old}'") == [
        (f"purged:{old}",)
    ]
    raw = db_path.read_bytes()
    assert NAME.encode() in raw  # the recent row still holds it
    assert_no_personal_data(all_log_text(caplog))


def test_purged_details_are_overwritten_on_disk(store, db_path):
    store.submit("old", DETAILS)
    store.purge(utcnow() + timedelta(days=31))
    data = db_path.read_bytes()
    wal = db_path.with_name(db_path.name + "-wal")
    if wal.exists():
        data += wal.read_bytes()
    assert NAME.encode() not in data
    assert NOTE.encode() not in data


def test_export_csv(store):
    first = store.submit("a", DETAILS)
    second = store.submit(
        "b", CallbackDetails("=HYPERLINK(1)", "+441452426900", True, "Any time", role="professional")
    )
    store.set_status(first, Status.DONE)

    stream = io.StringIO()
    assert store.export_csv(stream) == 2
    table = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert [row["reference"] for row in table] == [second, first]
    by_ref = {row["reference"]: row for row in table}
    assert by_ref[first]["name"] == NAME
    assert by_ref[first]["phone"] == PHONE
    assert by_ref[first]["role"] == "Person harmed"
    assert by_ref[first]["status"] == "done"
    assert by_ref[first]["safe_to_identify"] == "no"
    assert by_ref[first]["note"] == NOTE
    assert by_ref[first]["created_at"].endswith("+00:00") and "T" in by_ref[first]["created_at"]
    assert by_ref[first]["done_at"]
    assert by_ref[second]["name"] == "'=HYPERLINK(1)"  # not run as a formula by a spreadsheet
    assert by_ref[second]["role"] == "Professional"

    only_done = io.StringIO()
    assert store.export_csv(only_done, Status.DONE) == 1
    assert only_done.getvalue().splitlines()[0].startswith("reference,status,created_at")


def test_file_and_directory_permissions(store, db_path):
    store.submit("a", DETAILS)
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(db_path.parent).st_mode) == 0o700
    for suffix in ("-wal", "-shm"):
        side = db_path.with_name(db_path.name + suffix)
        if side.exists():
            assert stat.S_IMODE(os.stat(side).st_mode) & 0o077 == 0


def test_existing_loose_file_is_tightened(tmp_path):
    path = tmp_path / "loose.sqlite3"
    path.write_bytes(b"")
    os.chmod(path, 0o644)
    CallbackStore(f"sqlite:///{path}").close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_no_personal_data_in_logs_at_any_level(store, caplog):
    caplog.set_level(logging.DEBUG)
    reference = store.submit("a", DETAILS)
    store.submit("a", DETAILS)
    store.set_status(reference, Status.IN_PROGRESS)
    store.export_csv(io.StringIO())
    store.purge(utcnow() + timedelta(days=31))
    assert any(reference in r.getMessage() for r in caplog.records)
    assert_no_personal_data(all_log_text(caplog))


def test_migration_creates_schema_and_is_a_no_op_the_second_time(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    migrate(url)
    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        assert {"callback_requests", "notification_outbox", "alembic_version"} <= set(inspector.get_table_names())
        columns = {c["name"] for c in inspector.get_columns("callback_requests")}
        assert {"reference", "idempotency_key", "purged_at", "in_progress_at", "done_at"} <= columns
        with engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            schema_before = conn.execute(text("SELECT sql FROM sqlite_master ORDER BY name")).all()
        migrate(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == version
            assert conn.execute(text("SELECT sql FROM sqlite_master ORDER BY name")).all() == schema_before
    finally:
        engine.dispose()


def test_store_keeps_data_across_reopen(db_path):
    first = CallbackStore(f"sqlite:///{db_path}")
    reference = first.submit("a", DETAILS)
    first.close()
    second = CallbackStore(f"sqlite:///{db_path}")
    assert second.get(reference).name == NAME
    second.close()
