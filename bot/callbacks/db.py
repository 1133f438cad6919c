"""Database schema and engine for callback requests.

SQLite is the default (one file under var/) and PostgreSQL is supported by URL. The SQLite file holds
names and phone numbers of people who may be at risk, so it is created readable by its owner only.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import declarative_base
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base",
    "CallbackRequest",
    "NotificationOutbox",
    "make_engine",
    "migrate",
    "utcnow",
    "MIGRATIONS_DIR",
]

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Always hands back timezone-aware UTC datetimes.

    SQLite has no timezone type and silently drops tzinfo; storing naive UTC there and re-attaching
    UTC on the way out keeps comparisons (retention, ordering) correct on both back ends.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


Base = declarative_base()


class CallbackRequest(Base):
    __tablename__ = "callback_requests"

    id = Column(Integer, primary_key=True)
    reference = Column(String(16), nullable=False, unique=True)
    idempotency_key = Column(String(128), nullable=False, unique=True)
    # Personal fields are nullable because purge() erases them while keeping the row for statistics.
    name = Column(String(200))
    phone = Column(String(32))
    safe_to_identify = Column(Boolean)
    best_time = Column(String(200))
    role = Column(String(32))
    note = Column(Text)
    status = Column(String(16), nullable=False, default="new", index=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
    in_progress_at = Column(UTCDateTime)
    done_at = Column(UTCDateTime)
    purged_at = Column(UTCDateTime)


class NotificationOutbox(Base):
    __tablename__ = "notification_outbox"

    id = Column(Integer, primary_key=True)
    reference = Column(
        String(16), ForeignKey("callback_requests.reference"), nullable=False, index=True
    )
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    attempts = Column(Integer, nullable=False, default=0)
    last_attempt_at = Column(UTCDateTime)
    # Exception class name only: SMTP error text can echo addresses or message content.
    last_error = Column(String(100))
    sent_at = Column(UTCDateTime, index=True)


def _prepare_sqlite_file(database: str) -> None:
    path = Path(database).expanduser()
    missing = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for directory in reversed(missing):
        directory.mkdir()
        os.chmod(directory, 0o700)  # explicit chmod: mkdir's mode is reduced by the umask
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
    # Tighten a file left too open by an older install or a copy; SQLite's -wal and -shm files
    # take their permissions from this one.
    os.chmod(path, 0o600)


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own implicit transactions
    # start too late to protect a read-then-write).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA secure_delete=ON")  # purged personal data is overwritten on disk
    finally:
        cursor.close()


def _sqlite_on_begin(connection) -> None:
    # IMMEDIATE takes the write lock up front, so concurrent writers queue on busy_timeout instead
    # of failing with "database is locked" when upgrading a read transaction.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(database_url: str) -> Engine:
    """Engine for a SQLite file (created 0600 in a 0700 directory) or any other SQLAlchemy URL."""
    url = make_url(database_url)
    # hide_parameters keeps names and phone numbers out of SQLAlchemy's exception text, which would
    # otherwise quote every bound value of a failed INSERT into whatever logs the error.
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            _prepare_sqlite_file(database)
        engine = create_engine(url, future=True, hide_parameters=True, connect_args={"timeout": 10})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(url, future=True, hide_parameters=True, pool_pre_ping=True)


def alembic_config(connection=None):
    """Alembic configuration built in code, so running the app needs no alembic.ini."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migrate(database_url_or_engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is already there."""
    from alembic import command

    if isinstance(database_url_or_engine, Engine):
        engine, owned = database_url_or_engine, False
    else:
        engine, owned = make_engine(database_url_or_engine), True
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
    finally:
        if owned:
            engine.dispose()
