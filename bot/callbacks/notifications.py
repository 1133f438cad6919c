"""Staff email notifications, delivered from the outbox that CallbackStore.submit() fills.

An email only says that a request is waiting and gives its reference: email is copied to phones,
forwarded and kept for years, so the details stay in the database behind the staff sign-in.
Delivery is at least once per outbox row. A failed attempt is tried again after a wait that doubles each time
(1 minute, 2, 4 ... never more than an hour); after MAX_ATTEMPTS the row is marked failed and left alone, and
staff are told (a banner on the staff list, a warning from `rg-staff list`) until `rg-staff notify` sends it.
The request itself is safe in the database whatever happens to its email.
"""
from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Callable, Optional, Sequence, Union

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.callbacks.db import NotificationOutbox, claim_scheduled_run, release_scheduled_run, utcnow
from bot.callbacks.store import CallbackStore, StoreUnavailable
from bot.settings import SmtpSettings

__all__ = [
    "DeliveryReport",
    "Notifier",
    "run_outbox_worker",
    "build_message",
    "DISABLED_MESSAGE",
    "MAX_ATTEMPTS",
    "retry_delay",
    "count_undeliverable",
    "undeliverable_warning",
]

log = logging.getLogger(__name__)

DISABLED_MESSAGE = "Staff email notifications are disabled (RG_SMTP_HOST not set)"
SMTP_TIMEOUT_S = 10.0
# A row being sent is marked in flight so that a second worker (the web server and a staff member
# running `notify` at once) does not email it twice; a crash mid-send frees it after this long.
IN_FLIGHT = "InFlight"
IN_FLIGHT_LEASE = timedelta(minutes=5)
PURGE_EVERY_S = 24 * 60 * 60
# With these, a row is tried at 0, 1, 3, 7, 15, 31, 63 and 123 minutes: a mail server restart or a short
# outage is ridden out, while wrong mail settings are reported to staff within about two hours instead of
# being retried in silence for ever.
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the attempts-th failed attempt: 1 minute, then twice as long each time, up to an hour."""
    doublings = min(max(attempts - 1, 0), 20)  # bounded: 2**20 minutes is already far past the cap
    return min(FIRST_RETRY * 2**doublings, LONGEST_WAIT)


def undeliverable_warning(count: int) -> str:
    """What staff are told while emails have stopped being retried (the staff list page and `rg-staff list`)."""
    emails = "notification email" if count == 1 else "notification emails"
    return (
        f"{count} {emails} could not be sent: check the mail settings. The requests themselves are safe "
        "in the list. Once mail works again, `rg-staff notify` sends them."
    )


def _engine_of(store_or_engine: Union[CallbackStore, Engine]) -> Engine:
    if isinstance(store_or_engine, Engine):
        return store_or_engine
    return store_or_engine.engine  # raises StoreUnavailable itself


def count_undeliverable(store_or_engine: Union[CallbackStore, Engine]) -> int:
    """How many notification emails are no longer tried automatically (see undeliverable_warning)."""
    try:
        with Session(_engine_of(store_or_engine), future=True) as session:
            return session.execute(
                select(func.count(NotificationOutbox.id)).where(
                    NotificationOutbox.sent_at.is_(None), NotificationOutbox.failed_at.is_not(None)
                )
            ).scalar_one()
    except SQLAlchemyError as exc:
        raise StoreUnavailable(f"The outbox could not be read ({type(exc).__name__}).") from None


@dataclass(frozen=True)
class DeliveryReport:
    sent: int
    failed: int  # attempts that failed in this run
    pending: int  # still to be tried automatically
    enabled: bool = True
    undeliverable: int = 0  # no longer tried automatically; `rg-staff notify` tries them


def build_message(reference: str, smtp: SmtpSettings, staff_url: Optional[str] = None) -> EmailMessage:
    where = f"sign in to the staff page ({staff_url})" if staff_url else "sign in to the staff page"
    message = EmailMessage()
    message["Subject"] = f"New callback request {reference}"
    message["From"] = smtp.sender
    message["To"] = smtp.recipient
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        "A new callback request is waiting.\n"
        "\n"
        f"Reference: {reference}\n"
        "\n"
        f"To see the details, {where} or run:\n"
        "\n"
        f"    python -m bot.callbacks.cli show {reference}\n"
        "\n"
        "This email contains no personal details on purpose; please do not reply with any.\n"
    )
    return message


class _Connection:
    """One SMTP session opened on first use, so an empty outbox never touches the mail server."""

    def __init__(self, smtp: SmtpSettings, timeout: float) -> None:
        self._settings = smtp
        self._timeout = timeout
        self._client: Optional[smtplib.SMTP] = None

    def send(self, message: EmailMessage) -> None:
        if self._client is None:
            self._client = self._open()
        self._client.send_message(message)

    def _open(self) -> smtplib.SMTP:
        s = self._settings
        if s.port == 465:  # implicit TLS ("SMTPS"); STARTTLS does not apply
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                s.host, s.port, timeout=self._timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=self._timeout)
        try:
            client.ehlo()
            if s.starttls and s.port != 465:
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if s.username:
                client.login(s.username, s.password or "")
        except BaseException:
            client.close()
            raise
        return client

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.quit()
            except (smtplib.SMTPException, OSError):
                self._client.close()
            self._client = None


class Notifier:
    def __init__(
        self,
        store_or_engine: Union[CallbackStore, Engine],
        smtp: Optional[SmtpSettings],
        *,
        staff_url: Optional[str] = None,
        timeout: float = SMTP_TIMEOUT_S,
        batch_size: int = 50,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._source = store_or_engine
        self.smtp = smtp
        self.staff_url = staff_url
        self.timeout = timeout
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        if smtp is None:
            log.info(DISABLED_MESSAGE)

    @property
    def enabled(self) -> bool:
        return self.smtp is not None

    def _engine(self) -> Engine:
        return _engine_of(self._source)

    def database(self) -> Engine:
        """The outbox's database (raises StoreUnavailable when it cannot be opened)."""
        return self._engine()

    def pending_count(self) -> int:
        """Emails still to be tried automatically (those given up on are count_undeliverable's)."""
        try:
            with Session(self._engine(), future=True) as session:
                return session.execute(
                    select(func.count(NotificationOutbox.id)).where(
                        NotificationOutbox.sent_at.is_(None), NotificationOutbox.failed_at.is_(None)
                    )
                ).scalar_one()
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"The outbox could not be read ({type(exc).__name__}).") from None

    def _report(self, sent: int, failed: int, enabled: bool = True) -> DeliveryReport:
        return DeliveryReport(
            sent=sent,
            failed=failed,
            pending=self.pending_count(),
            enabled=enabled,
            undeliverable=count_undeliverable(self._source),
        )

    def deliver_pending(self, now: Optional[datetime] = None, *, on_demand: bool = False) -> DeliveryReport:
        """Sends the emails that are due at `now` (default: the current time).

        on_demand (a member of staff asked, `rg-staff notify`): every unsent email is tried now, including
        those waiting out a retry delay and those no longer tried automatically.
        """
        if self.smtp is None:
            return self._report(sent=0, failed=0, enabled=False)
        now = now or utcnow()
        engine = self._engine()
        sent = failed = 0
        error_names = set()
        connection = _Connection(self.smtp, self.timeout)
        try:
            for row_id, reference in self._candidates(engine, now, on_demand):
                if not self._claim(engine, row_id, now, on_demand):
                    continue
                try:
                    connection.send(build_message(reference, self.smtp, self.staff_url))
                except Exception as exc:  # any failure: the row waits for its next attempt
                    self._failed(engine, row_id, reference, type(exc).__name__, now)
                    error_names.add(type(exc).__name__)
                    failed += 1
                    connection.close()
                    # The server is most likely down for every row; stop and leave the rest for
                    # the next run rather than counting the same outage once per request.
                    break
                self._sent(engine, row_id, now)
                sent += 1
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"The outbox could not be updated ({type(exc).__name__}).") from None
        finally:
            connection.close()
        report = self._report(sent=sent, failed=failed)
        if sent:
            log.info("Sent %d staff notification email(s)", sent)
        if failed:
            log.warning(
                "Could not send a staff notification email (%s); %d waiting to be tried again",
                ", ".join(sorted(error_names)),
                report.pending,
            )
        return report

    def _due(self, now: datetime, on_demand: bool):
        conditions = [NotificationOutbox.sent_at.is_(None)]
        if not on_demand:
            conditions += [
                NotificationOutbox.failed_at.is_(None),
                or_(NotificationOutbox.next_attempt_at.is_(None), NotificationOutbox.next_attempt_at <= now),
            ]
        return conditions

    def _candidates(self, engine: Engine, now: datetime, on_demand: bool):
        with Session(engine, future=True) as session:
            return session.execute(
                select(NotificationOutbox.id, NotificationOutbox.reference)
                .where(*self._due(now, on_demand))
                .order_by(NotificationOutbox.id)
                .limit(self.batch_size)
            ).all()

    def _claim(self, engine: Engine, row_id: int, now: datetime, on_demand: bool) -> bool:
        with Session(engine, future=True) as session, session.begin():
            if engine.dialect.name == "postgresql":
                # Another website app replica claiming this row right now holds its lock: skip it, do not wait.
                free = session.execute(
                    select(NotificationOutbox.id).where(NotificationOutbox.id == row_id)
                    .with_for_update(skip_locked=True)
                ).first()
                if free is None:
                    return False
            result = session.execute(
                update(NotificationOutbox)
                .where(
                    NotificationOutbox.id == row_id,
                    *self._due(now, on_demand),
                    or_(
                        NotificationOutbox.last_error.is_(None),
                        NotificationOutbox.last_error != IN_FLIGHT,
                        and_(
                            NotificationOutbox.last_error == IN_FLIGHT,
                            NotificationOutbox.last_attempt_at < now - IN_FLIGHT_LEASE,
                        ),
                    ),
                )
                .values(
                    attempts=NotificationOutbox.attempts + 1,
                    last_attempt_at=now,
                    last_error=IN_FLIGHT,
                )
                .execution_options(synchronize_session=False)
            )
            return result.rowcount == 1

    @staticmethod
    def _sent(engine: Engine, row_id: int, now: datetime) -> None:
        with Session(engine, future=True) as session, session.begin():
            session.execute(
                update(NotificationOutbox)
                .where(NotificationOutbox.id == row_id)
                .values(last_error=None, sent_at=now, next_attempt_at=None, failed_at=None)
                .execution_options(synchronize_session=False)
            )

    def _failed(self, engine: Engine, row_id: int, reference: str, error: str, now: datetime) -> None:
        with Session(engine, future=True) as session, session.begin():
            row = session.get(NotificationOutbox, row_id)
            if row is None:
                return
            attempts = row.attempts
            gave_up = attempts >= self.max_attempts
            row.last_error = error[:100]
            row.failed_at = now if gave_up else None
            row.next_attempt_at = None if gave_up else now + retry_delay(attempts)
        if gave_up:
            log.error(
                "The staff notification email for %s could not be sent after %d attempts (%s); it is no "
                "longer retried automatically: check the mail settings, then run `rg-staff notify`",
                reference,
                attempts,
                error,
            )


async def run_outbox_worker(
    notifier: Notifier,
    interval_s: float = 60.0,
    purges: Sequence[Callable[[], int]] = (),
    purge_every_s: float = PURGE_EVERY_S,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Deliver the outbox every interval_s and run the purges (expired personal data) once a day, until cancelled.

    Errors are logged by class name and the loop carries on: a mail or database outage must not
    silently stop notifications for the rest of the process's life. `clock` says what time it is for
    the retry delays (tests move it on instead of waiting).
    """
    every = timedelta(seconds=purge_every_s)
    while True:
        if notifier.enabled:
            try:
                await asyncio.to_thread(notifier.deliver_pending, clock())
            except Exception as exc:
                log.error("Staff notification run failed (%s)", type(exc).__name__)
        if purges:
            await _purge_if_due(notifier, purges, every)
        await asyncio.sleep(interval_s)


async def _purge_if_due(notifier: Notifier, purges: Sequence[Callable[[], int]], every: timedelta) -> None:
    """Runs the purges if they are due, in whichever website app replica asks first (the database decides)."""
    try:
        engine = notifier.database()
        if not await asyncio.to_thread(claim_scheduled_run, engine, "purge", every):
            return
    except Exception as exc:
        log.error("Could not tell whether the purge is due (%s)", type(exc).__name__)
        return
    failed = False
    for purge in purges:
        try:
            await asyncio.to_thread(purge)
        except Exception as exc:
            failed = True
            log.error("Purge of expired personal data failed (%s)", type(exc).__name__)
    if failed:
        try:
            await asyncio.to_thread(release_scheduled_run, engine, "purge")
        except Exception as exc:
            log.error("Could not mark the purge as due again (%s)", type(exc).__name__)
