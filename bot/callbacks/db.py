"""Database schema and engine for callback requests.

SQLite is the default (one file under var/) and PostgreSQL is supported by URL. The SQLite file holds
names and phone numbers of people who may be at risk, so it is created readable by its owner only.

Only an explicit step creates the database or changes its schema (`migrate`: `make run`, `rg-staff migrate`).
Everything else opens it with `make_engine(url, create=False)` and `check_sqlite_file`/`require_current_schema`,
which refuse a missing, read-only or out-of-date database instead of quietly starting an empty one: a request
confirmed into a stand-in file would be lost to the staff who read the real one.
"""
from __future__ import annotations

import functools
import logging
import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import FrozenSet, Optional
from urllib.parse import quote

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import declarative_base
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base",
    "CallbackRequest",
    "NotificationOutbox",
    "AnswerVotes",
    "UnansweredQuestion",
    "claim_scheduled_run",
    "release_scheduled_run",
    "DatabaseNotReady",
    "make_engine",
    "migrate",
    "sqlite_file_path",
    "check_sqlite_file",
    "require_current_schema",
    "utcnow",
    "MIGRATIONS_DIR",
    "BUSY_TIMEOUT_S",
]

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# How long a write waits for another writer to finish. Writes here take milliseconds, so a longer wait means
# something holds the database (a backup, a stuck process); the visitor is better told "not saved, please try
# again" within seconds than left looking at a spinner.
BUSY_TIMEOUT_S = 3.0


class DatabaseNotReady(Exception):
    """The database is there in no usable form: missing, read-only or not migrated. The message says why."""


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
    # When the next automatic attempt may be made (NULL: now); failed_at: automatic attempts stopped.
    next_attempt_at = Column(UTCDateTime)
    failed_at = Column(UTCDateTime)


class AnswerVotes(Base):
    """Visitors' "was this helpful?" votes, counted per answer and day: no text, no visitor, no time of day."""

    __tablename__ = "answer_votes"

    answer = Column(String(80), primary_key=True)
    day = Column(Date, primary_key=True)
    helpful = Column(Integer, nullable=False, default=0)
    unhelpful = Column(Integer, nullable=False, default=0)


class UnansweredQuestion(Base):
    """A visitor's message the assistant did not answer well, kept only after redaction (bot/learning/).

    No visitor id and only the day, so a kept question cannot be tied back to a conversation.
    """

    __tablename__ = "unanswered_questions"

    id = Column(Integer, primary_key=True)
    text = Column(String(1000), nullable=False)
    # Why it was kept: "not_understood", "did_you_mean" or "unhelpful".
    reason = Column(String(16), nullable=False)
    # What the visitor was given: an answer id ("faq/...") for an unhelpful vote, else the reason's reply.
    answer = Column(String(80))
    kept_on = Column(Date, nullable=False, index=True)
    # The id of the first question of its group of similar questions (bot/learning/grouping.py); NULL: not
    # grouped yet.
    group_id = Column(Integer, index=True)


class ScheduledRun(Base):
    __tablename__ = "scheduled_runs"

    name = Column(String(40), primary_key=True)
    last_started_at = Column(UTCDateTime)


def claim_scheduled_run(engine: Engine, name: str, every: timedelta, now: Optional[datetime] = None) -> bool:
    """True for exactly one caller once `every` has passed since the job last started, whichever replica asks.

    One conditional UPDATE (or the first INSERT) decides: the database, not a clock in each process, so two
    website apps never both run the daily purge.
    """
    from sqlalchemy import insert, or_, update
    from sqlalchemy.exc import IntegrityError

    now = now or utcnow()
    with engine.begin() as connection:
        claimed = connection.execute(
            update(ScheduledRun)
            .where(ScheduledRun.name == name,
                   or_(ScheduledRun.last_started_at.is_(None), ScheduledRun.last_started_at <= now - every))
            .values(last_started_at=now)
        ).rowcount
        if claimed:
            return True
        exists = connection.execute(
            ScheduledRun.__table__.select().where(ScheduledRun.name == name)
        ).first()
        if exists:
            return False
        try:
            with connection.begin_nested():
                connection.execute(insert(ScheduledRun).values(name=name, last_started_at=now))
        except IntegrityError:  # another replica inserted it first: theirs
            return False
        return True


def release_scheduled_run(engine: Engine, name: str) -> None:
    """After a failed run: due again at once, so the next look (by any replica) tries again."""
    from sqlalchemy import update

    with engine.begin() as connection:
        connection.execute(update(ScheduledRun).where(ScheduledRun.name == name).values(last_started_at=None))


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


def sqlite_file_path(database_url: str) -> Optional[Path]:
    """The file behind a SQLite URL (None for other databases, in-memory ones and SQLite URI filenames)."""
    url = make_url(database_url)
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(os.path.abspath(Path(database).expanduser()))


def check_sqlite_file(path: Path) -> None:
    """Refuses a SQLite file that is missing or read-only, and tightens one left readable by others.

    The write bit is read from the mode as well as asked of os.access: a file made read-only on purpose
    stays read-only for root too, which os.access alone would not report.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DatabaseNotReady(
            f"The callback database {path} does not exist. Create it with `rg-staff migrate` (or `make run`)."
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise DatabaseNotReady(f"The callback database {path} is not a file.")
    if not info.st_mode & stat.S_IWUSR or not os.access(path, os.R_OK | os.W_OK):
        raise DatabaseNotReady(f"The callback database {path} is read-only, so nothing can be saved in it.")
    if stat.S_IMODE(info.st_mode) & 0o077:
        try:
            # Owner bits are kept as they are: only the access others should never have is taken away.
            os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)
        except OSError:
            log.warning("The callback database file is readable by other users and could not be tightened")


def _sqlite_on_connect(dbapi_connection, _record, *, set_wal: bool = True) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own implicit transactions
    # start too late to protect a read-then-write).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        if set_wal:  # WAL is a property of the file: set once when creating, kept from then on
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA secure_delete=ON")  # purged personal data is overwritten on disk
    finally:
        cursor.close()


def _sqlite_on_connect_existing(dbapi_connection, record) -> None:
    _sqlite_on_connect(dbapi_connection, record, set_wal=False)


_READ_ONLY = "rg_read_only"  # execution option: this connection only reads


def _sqlite_on_begin(connection) -> None:
    # IMMEDIATE takes the write lock up front, so concurrent writers queue on busy_timeout instead
    # of failing with "database is locked" when upgrading a read transaction. A connection that only
    # reads needs no lock in WAL mode, so it is not kept waiting behind a writer.
    read_only = connection.get_execution_options().get(_READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(database_url: str, *, create: bool = True) -> Engine:
    """Engine for a SQLite file or any other SQLAlchemy URL.

    create=True (migrations only) makes a missing SQLite file, 0600 in a 0700 directory. create=False opens an
    existing file for reading and writing and never makes one, even if it disappears while the engine is in use.
    """
    url = make_url(database_url)
    # hide_parameters keeps names and phone numbers out of SQLAlchemy's exception text, which would
    # otherwise quote every bound value of a failed INSERT into whatever logs the error.
    if url.get_backend_name() == "sqlite":
        path = sqlite_file_path(database_url)
        on_connect = _sqlite_on_connect
        if path is not None and create:
            _prepare_sqlite_file(str(path))
        elif path is not None:
            # SQLite's URI mode=rw opens a file only if it exists: a file moved away between the check and
            # the connection is an error, not a new empty database (mode rwc, sqlite3's default).
            url = URL.create("sqlite", database="file:" + quote(str(path)), query={"mode": "rw", "uri": "true"})
            on_connect = _sqlite_on_connect_existing
        # NullPool for a file (one connection per use, as SQLAlchemy 1.4 does anyway, kept if that default
        # changes): a pooled connection would go on writing into a file that has been moved or replaced.
        pool = {"poolclass": NullPool} if path is not None else {}
        engine = create_engine(
            url, future=True, hide_parameters=True, connect_args={"timeout": BUSY_TIMEOUT_S}, **pool
        )
        event.listen(engine, "connect", on_connect)
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


@functools.lru_cache(maxsize=1)
def head_revisions() -> FrozenSet[str]:
    """The newest schema revision(s) the code expects, from the migration scripts."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def require_current_schema(engine: Engine) -> None:
    """Refuses a database whose schema is not at the newest revision (including one with no schema at all)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        connection.execution_options(**{_READ_ONLY: True})
        current = frozenset(MigrationContext.configure(connection).get_current_heads())
    if current != head_revisions():
        found = ", ".join(sorted(current)) or "none"
        raise DatabaseNotReady(
            f"The callback database's schema is not up to date (revision {found}, expected "
            f"{', '.join(sorted(head_revisions()))}). Upgrade it with `rg-staff migrate`."
        )


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
