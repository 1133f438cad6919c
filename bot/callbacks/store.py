"""Callback requests: storing them safely, letting staff work through them, and forgetting them.

Every public method is synchronous; async callers run them in a thread. Database failures surface as
StoreUnavailable with a message that names only the error class, because SQLAlchemy errors can carry
SQL and values that would put someone's name or number into a log.

A store never creates a database unless asked to (`create=True`, or `CallbackStore.create_or_upgrade`); the
running services open theirs with `from_settings`, which refuses a missing, read-only, locked or
not-migrated database with StoreNotReady or StoreUnavailable, so nobody is given a reference for a request
kept where staff will never look.

Text typed by the public never carries control or invisible format characters into the database
(`visible_text` shows any that an older row holds), so an export or a terminal cannot be broken or
steered by a request.
"""
from __future__ import annotations

import csv
import enum
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator, List, Optional, TextIO

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from bot.callbacks.db import (
    CallbackRequest,
    DatabaseNotReady,
    NotificationOutbox,
    check_sqlite_file,
    make_engine,
    migrate,
    require_current_schema,
    sqlite_file_path,
    utcnow,
)
from bot.callbacks.references import ReferenceFormatError, new_reference, normalise_reference

__all__ = [
    "Status",
    "ROLES",
    "CallbackDetails",
    "CallbackRecord",
    "StoreUnavailable",
    "StoreNotReady",
    "UnknownReference",
    "CallbackStore",
    "NOTE_MAX_LENGTH",
    "has_hidden_characters",
    "without_hidden_characters",
    "visible_text",
]

log = logging.getLogger(__name__)

NOTE_MAX_LENGTH = 500
_SHORT_TEXT_MAX_LENGTH = 200
_KEY_MAX_LENGTH = 128
_REFERENCE_ATTEMPTS = 8
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")

# Control characters (C0, DEL, C1), invisible format characters (zero-width and joining characters,
# bidirectional overrides, tags, the byte-order mark, the soft hyphen), lone surrogates and the Unicode line
# and paragraph separators. None belongs in a name, a time or a note; some break CSV writers (NUL), steer a
# terminal (ESC sequences), reorder what staff read (bidi overrides) or cannot even be encoded (surrogates).
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _is_hidden(character: str) -> bool:
    return unicodedata.category(character) in _HIDDEN_CATEGORIES


def has_hidden_characters(text: str, *, newlines: bool = False) -> bool:
    """Whether text holds any control or invisible format character (newline allowed when newlines=True)."""
    return any(_is_hidden(c) and not (newlines and c == "\n") for c in text)


def without_hidden_characters(text: str) -> str:
    """Text as a person meant it: tabs and line breaks become spaces, other hidden characters go."""
    return "".join(" " if c.isspace() else "" if _is_hidden(c) else c for c in text)


def visible_text(text: Optional[str], *, newlines: bool = False) -> str:
    """Text safe to print or export: each hidden character written out as an escape (ESC as \\x1b).

    For rows stored before hidden characters were refused, or written into the database by other means.
    """
    if not text:
        return ""
    return "".join(
        c.encode("unicode_escape").decode("ascii") if _is_hidden(c) and not (newlines and c == "\n") else c
        for c in text
    )


class Status(str, enum.Enum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    DONE = "done"

    @property
    def label(self) -> str:
        """How staff see the status, on the staff pages and at the command line."""
        return _STATUS_LABELS[self]


_STATUS_LABELS = {Status.NEW: "New", Status.IN_PROGRESS: "In progress", Status.DONE: "Done"}


ROLES = {
    "person_harmed": "Person harmed",
    "person_responsible": "Person responsible",
    "family_member": "Family member or friend",
    "professional": "Professional",
    "other": "Other",
}


@dataclass(frozen=True)
class CallbackDetails:
    name: str
    phone: str
    safe_to_identify: bool
    best_time: str
    role: Optional[str] = None
    note: Optional[str] = None

    def __repr__(self) -> str:
        # Dataclass reprs end up in tracebacks and debug logs; show the shape, not the person.
        return f"CallbackDetails(role={self.role!r}, <personal fields hidden>)"


@dataclass(frozen=True)
class CallbackRecord:
    reference: str
    status: Status
    created_at: datetime
    updated_at: datetime
    name: Optional[str]
    phone: Optional[str]
    safe_to_identify: Optional[bool]
    best_time: Optional[str]
    role: Optional[str]
    note: Optional[str]
    purged: bool
    in_progress_at: Optional[datetime] = None
    done_at: Optional[datetime] = None
    purged_at: Optional[datetime] = None

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role or "", "")

    def __repr__(self) -> str:
        return f"CallbackRecord(reference={self.reference!r}, status={self.status.value!r}, <personal fields hidden>)"


class StoreUnavailable(Exception):
    """Nothing was stored: the database could not be reached or written."""


class StoreNotReady(StoreUnavailable):
    """The database is missing, read-only or not migrated: someone has to act before anything can be stored."""


class UnknownReference(KeyError):
    """No callback request has this reference."""

    def __str__(self) -> str:  # KeyError's default str() quotes the repr, which reads oddly
        return self.args[0] if self.args else "unknown reference"


CSV_COLUMNS = (
    "reference",
    "status",
    "created_at",
    "updated_at",
    "in_progress_at",
    "done_at",
    "name",
    "phone",
    "safe_to_identify",
    "best_time",
    "role",
    "note",
    "purged_at",
)


def _csv_text(value: Optional[str], *, newlines: bool = False) -> str:
    # Text typed by the public is opened by staff in spreadsheets; a leading =, +, - or @ would be
    # run as a formula, so it is neutralised with a leading apostrophe (OWASP CSV injection advice).
    # Hidden characters are written out first: a NUL stops Python's CSV writer for every row after it.
    value = visible_text(value, newlines=newlines)
    if not value:
        return ""
    if value[0] in "=+-@\t\r":
        return "'" + value
    return value


def _csv_phone(value: Optional[str]) -> str:
    # E.164 is "+" and digits only, which a spreadsheet reads as a number, not code; anything else in
    # the column did not come through the form and is treated like any other text.
    if value and _E164.fullmatch(value):
        return value
    return _csv_text(value)


def _iso(value: Optional[datetime]) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def _yes_no(value: Optional[bool]) -> str:
    return "" if value is None else ("yes" if value else "no")


def _record(row: CallbackRequest) -> CallbackRecord:
    return CallbackRecord(
        reference=row.reference,
        status=Status(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        name=row.name,
        phone=row.phone,
        safe_to_identify=row.safe_to_identify,
        best_time=row.best_time,
        role=row.role,
        note=row.note,
        purged=row.purged_at is not None,
        in_progress_at=row.in_progress_at,
        done_at=row.done_at,
        purged_at=row.purged_at,
    )


def _check_details(idempotency_key: str, details: CallbackDetails) -> None:
    # Messages name the field, never its value.
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise ValueError("idempotency_key must be a non-empty string")
    if len(idempotency_key) > _KEY_MAX_LENGTH:
        raise ValueError(f"idempotency_key must be at most {_KEY_MAX_LENGTH} characters")
    if not isinstance(details.name, str) or not details.name.strip():
        raise ValueError("name must not be empty")
    if not isinstance(details.phone, str) or not _E164.fullmatch(details.phone):
        raise ValueError("phone must be in E.164 form (validate it with bot.callbacks.phone first)")
    if not isinstance(details.safe_to_identify, bool):
        raise ValueError("safe_to_identify must be True or False")
    if not isinstance(details.best_time, str):
        raise ValueError("best_time must be text")
    for field_name in ("name", "best_time"):
        if len(getattr(details, field_name)) > _SHORT_TEXT_MAX_LENGTH:
            raise ValueError(f"{field_name} must be at most {_SHORT_TEXT_MAX_LENGTH} characters")
    if details.role is not None and details.role not in ROLES:
        raise ValueError("role must be one of ROLES or None")
    if details.note is not None and not isinstance(details.note, str):
        raise ValueError("note must be text or None")
    if details.note is not None and len(details.note) > NOTE_MAX_LENGTH:
        raise ValueError(f"note must be at most {NOTE_MAX_LENGTH} characters")
    # The form removes these (bot.callbacks.form_rules); refusing them here keeps every other way in honest.
    for field_name in ("name", "best_time"):
        if has_hidden_characters(getattr(details, field_name)):
            raise ValueError(f"{field_name} must not contain control or invisible characters")
    if details.note is not None and has_hidden_characters(details.note, newlines=True):
        raise ValueError("note must not contain control or invisible characters other than line breaks")


class CallbackStore:
    """The callback requests in one database.

    create=True creates the database (a private SQLite file) and brings its schema to the newest revision
    when the store opens; tools and tests that set up their own database use it. Without it the database
    must already exist at the newest revision: that is how the running services open theirs
    (`from_settings`), so that a missing or replaced database is reported, never silently started afresh.
    Either way, once open the store keeps checking on every use that the SQLite file is still there and
    writable.
    """

    def __init__(self, database_url: str, retention_days: int = 90, *, create: bool = True) -> None:
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        self.retention_days = retention_days
        self._database_url = database_url
        self._sqlite_path = sqlite_file_path(database_url)
        self._create = create
        self._engine: Optional[Engine] = None
        self._schema_current = False
        try:
            self._ready()
        except StoreUnavailable:
            # A database that is down at start-up should not stop the assistant answering
            # questions; every operation retries and reports StoreUnavailable until it is back.
            log.warning("Callback database not available at start-up; will retry on first use")

    @classmethod
    def from_settings(cls, settings, *, create: bool = False) -> "CallbackStore":
        """The store the running services use: the configured database, which must already exist."""
        return cls(settings.database_url, settings.retention_days, create=create)

    @classmethod
    def create_or_upgrade(cls, database_url: str) -> None:
        """The explicit creation step: creates the database if needed and upgrades its schema.

        Raises StoreUnavailable (with the reason) when that cannot be done.
        """
        store = cls(database_url, create=True)
        try:
            store._ready()
        finally:
            store.close()

    @property
    def engine(self) -> Engine:
        return self._ready()

    def _ready(self) -> Engine:
        try:
            if self._create and not self._schema_current and self._sqlite_path is not None:
                migrate(self._database_url)  # its own engine: the only one allowed to create the file
                self._schema_current = True
            if self._engine is None:
                self._engine = make_engine(self._database_url, create=False)
            if self._create and not self._schema_current:
                migrate(self._engine)
                self._schema_current = True
            if self._sqlite_path is not None:
                check_sqlite_file(self._sqlite_path)
            if not self._schema_current:
                require_current_schema(self._engine)
                self._schema_current = True
        except DatabaseNotReady as exc:
            log.error("Callback database not ready: %s", exc)
            raise StoreNotReady(str(exc)) from None
        except (SQLAlchemyError, OSError) as exc:
            raise self._unavailable("be opened", exc) from None
        return self._engine

    @staticmethod
    def _unavailable(action: str, exc: BaseException) -> StoreUnavailable:
        name = type(exc).__name__
        log.error("Callback database could not %s (%s)", action, name)
        return StoreUnavailable(f"The callback database could not {action} ({name}).")

    # -- writing -------------------------------------------------------------------------------

    def submit(self, idempotency_key: str, details: CallbackDetails) -> str:
        _check_details(idempotency_key, details)
        engine = self._ready()
        try:
            for _ in range(_REFERENCE_ATTEMPTS):
                existing = self._reference_for_key(engine, idempotency_key)
                if existing is not None:
                    return existing
                reference = new_reference()
                try:
                    self._insert(engine, idempotency_key, reference, details)
                except IntegrityError:
                    # Either another submit with this key won the race (return its reference)
                    # or the random reference was already taken (draw another).
                    continue
                log.info("Callback request %s stored", reference)
                return reference
        except SQLAlchemyError as exc:
            raise self._unavailable("store the request", exc) from None
        existing = self._reference_for_key_safely(engine, idempotency_key)
        if existing is not None:
            return existing
        raise self._unavailable("store the request", RuntimeError())

    def _reference_for_key_safely(self, engine: Engine, key: str) -> Optional[str]:
        try:
            return self._reference_for_key(engine, key)
        except SQLAlchemyError as exc:
            raise self._unavailable("store the request", exc) from None

    @staticmethod
    def _reference_for_key(engine: Engine, key: str) -> Optional[str]:
        with Session(engine, future=True) as session:
            return session.execute(
                select(CallbackRequest.reference).where(CallbackRequest.idempotency_key == key)
            ).scalar_one_or_none()

    @staticmethod
    def _insert(engine: Engine, key: str, reference: str, details: CallbackDetails) -> None:
        now = utcnow()
        # One transaction for both rows: staff are told about exactly the requests that exist.
        with Session(engine, future=True) as session, session.begin():
            session.add(
                CallbackRequest(
                    reference=reference,
                    idempotency_key=key,
                    name=details.name.strip(),
                    phone=details.phone,
                    safe_to_identify=details.safe_to_identify,
                    best_time=details.best_time.strip(),
                    role=details.role,
                    note=(details.note.strip() or None) if details.note else None,
                    status=Status.NEW.value,
                    created_at=now,
                    updated_at=now,
                )
            )
            session.flush()  # the outbox row references this one
            session.add(NotificationOutbox(reference=reference, created_at=now, attempts=0))

    def set_status(self, reference: str, status: Status) -> CallbackRecord:
        status = Status(status)
        try:
            canonical = normalise_reference(reference)
        except ReferenceFormatError:
            raise UnknownReference("That is not a callback reference (they look like RG-K7M4QX).") from None
        engine = self._ready()
        try:
            with Session(engine, future=True) as session, session.begin():
                row = session.execute(
                    select(CallbackRequest).where(CallbackRequest.reference == canonical)
                ).scalar_one_or_none()
                if row is None:
                    raise UnknownReference(f"No callback request has the reference {canonical}.")
                now = utcnow()
                row.status = status.value
                row.updated_at = now
                if status is Status.NEW:
                    row.in_progress_at = None
                    row.done_at = None
                elif status is Status.IN_PROGRESS:
                    row.in_progress_at = now
                    row.done_at = None
                else:
                    row.done_at = now
                session.flush()
                record = _record(row)
        except SQLAlchemyError as exc:
            raise self._unavailable("update the request", exc) from None
        log.info("Callback request %s marked %s", canonical, status.value)
        return record

    def purge(self, now: Optional[datetime] = None) -> int:
        """Erase the personal fields of requests older than the retention period; returns how many.

        The row itself stays (reference, status, timestamps) so that staff can still answer "what
        happened to RG-..." and count requests, without holding anyone's details.
        """
        now = now or utcnow()
        cutoff = now - timedelta(days=self.retention_days)
        engine = self._ready()
        try:
            with Session(engine, future=True) as session, session.begin():
                result = session.execute(
                    update(CallbackRequest)
                    .where(CallbackRequest.created_at < cutoff, CallbackRequest.purged_at.is_(None))
                    .values(
                        name=None,
                        phone=None,
                        safe_to_identify=None,
                        best_time=None,
                        role=None,
                        note=None,
                        # The key may be derived from a chat session id, which links the request
                        # back to a conversation; the reference keeps it unique.
                        idempotency_key="purged:" + CallbackRequest.reference,
                        purged_at=now,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                count = result.rowcount or 0
        except SQLAlchemyError as exc:
            raise self._unavailable("purge old requests", exc) from None
        if count:
            self._checkpoint(engine)
        log.info("Purged personal details from %d callback request(s) older than %d days", count, self.retention_days)
        return count

    def checkpoint(self) -> None:
        """Folds SQLite's write-ahead log back into the file after personal data was erased."""
        self._checkpoint(self._ready())

    @staticmethod
    def _checkpoint(engine: Engine) -> None:
        # In WAL mode the erased values live on in the -wal file until a checkpoint; fold it back
        # now (secure_delete then leaves no copy) instead of whenever SQLite next gets round to it.
        if engine.dialect.name != "sqlite":
            return
        try:
            raw = engine.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
        except Exception as exc:  # best effort: SQLite checkpoints on its own later
            log.warning("Could not checkpoint the callback database after purge (%s)", type(exc).__name__)

    def count_purgeable(self, now: Optional[datetime] = None) -> int:
        """How many requests purge() would erase now (for a dry run)."""
        cutoff = (now or utcnow()) - timedelta(days=self.retention_days)
        engine = self._ready()
        try:
            with Session(engine, future=True) as session:
                return session.execute(
                    select(func.count(CallbackRequest.id)).where(
                        CallbackRequest.created_at < cutoff, CallbackRequest.purged_at.is_(None)
                    )
                ).scalar_one()
        except SQLAlchemyError as exc:
            raise self._unavailable("read requests", exc) from None

    # -- reading -------------------------------------------------------------------------------

    def _select(self, status: Optional[Status]) -> Iterator[CallbackRecord]:
        query = select(CallbackRequest).order_by(
            CallbackRequest.created_at.desc(), CallbackRequest.id.desc()
        )
        if status is not None:
            query = query.where(CallbackRequest.status == Status(status).value)
        engine = self._ready()
        try:
            with Session(engine, future=True) as session:
                records = [_record(row) for row in session.execute(query).scalars()]
        except SQLAlchemyError as exc:
            raise self._unavailable("read requests", exc) from None
        return iter(records)

    def list(self, status: Optional[Status] = None) -> List[CallbackRecord]:
        return list(self._select(status))

    def get(self, reference: str) -> Optional[CallbackRecord]:
        try:
            canonical = normalise_reference(reference)
        except ReferenceFormatError:
            return None
        engine = self._ready()
        try:
            with Session(engine, future=True) as session:
                row = session.execute(
                    select(CallbackRequest).where(CallbackRequest.reference == canonical)
                ).scalar_one_or_none()
                return _record(row) if row is not None else None
        except SQLAlchemyError as exc:
            raise self._unavailable("read requests", exc) from None

    def export_csv(self, stream: TextIO, status: Optional[Status] = None) -> int:
        writer = csv.writer(stream)
        writer.writerow(CSV_COLUMNS)
        rows = 0
        for record in self._select(status):
            writer.writerow(
                [
                    _csv_text(record.reference),
                    record.status.value,
                    _iso(record.created_at),
                    _iso(record.updated_at),
                    _iso(record.in_progress_at),
                    _iso(record.done_at),
                    _csv_text(record.name),
                    _csv_phone(record.phone),
                    _yes_no(record.safe_to_identify),
                    _csv_text(record.best_time),
                    record.role_label,
                    _csv_text(record.note, newlines=True),
                    _iso(record.purged_at),
                ]
            )
            rows += 1
        return rows

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
