"""Staff email notifications, delivered from the outbox that CallbackStore.submit() fills.

An email only says that a request is waiting and gives its reference: email is copied to phones,
forwarded and kept for years, so the details stay in the database behind the staff sign-in.
Delivery is at least once per outbox row, retried until the mail server accepts it.
"""
from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
import time
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Optional, Union

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.callbacks.db import NotificationOutbox, utcnow
from bot.callbacks.store import CallbackStore, StoreUnavailable
from bot.settings import SmtpSettings

__all__ = ["DeliveryReport", "Notifier", "run_outbox_worker", "build_message", "DISABLED_MESSAGE"]

log = logging.getLogger(__name__)

DISABLED_MESSAGE = "Staff email notifications are disabled (RG_SMTP_HOST not set)"
SMTP_TIMEOUT_S = 10.0
# A row being sent is marked in flight so that a second worker (the web server and a staff member
# running `notify` at once) does not email it twice; a crash mid-send frees it after this long.
IN_FLIGHT = "InFlight"
IN_FLIGHT_LEASE = timedelta(minutes=5)
PURGE_EVERY_S = 24 * 60 * 60


@dataclass(frozen=True)
class DeliveryReport:
    sent: int
    failed: int
    pending: int
    enabled: bool = True


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
    ) -> None:
        self._source = store_or_engine
        self.smtp = smtp
        self.staff_url = staff_url
        self.timeout = timeout
        self.batch_size = batch_size
        if smtp is None:
            log.info(DISABLED_MESSAGE)

    @property
    def enabled(self) -> bool:
        return self.smtp is not None

    def _engine(self) -> Engine:
        if isinstance(self._source, Engine):
            return self._source
        return self._source.engine  # raises StoreUnavailable itself

    def pending_count(self) -> int:
        try:
            with Session(self._engine(), future=True) as session:
                return session.execute(
                    select(func.count(NotificationOutbox.id)).where(NotificationOutbox.sent_at.is_(None))
                ).scalar_one()
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"The outbox could not be read ({type(exc).__name__}).") from None

    def deliver_pending(self) -> DeliveryReport:
        if self.smtp is None:
            return DeliveryReport(sent=0, failed=0, pending=self.pending_count(), enabled=False)
        engine = self._engine()
        sent = failed = 0
        error_names = set()
        connection = _Connection(self.smtp, self.timeout)
        try:
            for row_id, reference in self._candidates(engine):
                if not self._claim(engine, row_id):
                    continue
                try:
                    connection.send(build_message(reference, self.smtp, self.staff_url))
                except Exception as exc:  # any failure: keep the row pending and try again later
                    self._finish(engine, row_id, error=type(exc).__name__)
                    error_names.add(type(exc).__name__)
                    failed += 1
                    connection.close()
                    # The server is most likely down for every row; stop and leave the rest for
                    # the next run rather than counting the same outage once per request.
                    break
                self._finish(engine, row_id, error=None)
                sent += 1
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"The outbox could not be updated ({type(exc).__name__}).") from None
        finally:
            connection.close()
        pending = self.pending_count()
        if sent:
            log.info("Sent %d staff notification email(s)", sent)
        if failed:
            log.warning(
                "Could not send a staff notification email (%s); %d waiting, will retry",
                ", ".join(sorted(error_names)),
                pending,
            )
        return DeliveryReport(sent=sent, failed=failed, pending=pending)

    def _candidates(self, engine: Engine):
        with Session(engine, future=True) as session:
            return session.execute(
                select(NotificationOutbox.id, NotificationOutbox.reference)
                .where(NotificationOutbox.sent_at.is_(None))
                .order_by(NotificationOutbox.id)
                .limit(self.batch_size)
            ).all()

    @staticmethod
    def _claim(engine: Engine, row_id: int) -> bool:
        now = utcnow()
        with Session(engine, future=True) as session, session.begin():
            result = session.execute(
                update(NotificationOutbox)
                .where(
                    NotificationOutbox.id == row_id,
                    NotificationOutbox.sent_at.is_(None),
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
    def _finish(engine: Engine, row_id: int, error: Optional[str]) -> None:
        values = {"last_error": error[:100]} if error else {"last_error": None, "sent_at": utcnow()}
        with Session(engine, future=True) as session, session.begin():
            session.execute(
                update(NotificationOutbox)
                .where(NotificationOutbox.id == row_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )


async def run_outbox_worker(
    notifier: Notifier,
    interval_s: float = 60.0,
    purge_store: Optional[CallbackStore] = None,
    purge_every_s: float = PURGE_EVERY_S,
) -> None:
    """Deliver the outbox every interval_s and purge expired details once a day, until cancelled.

    Errors are logged by class name and the loop carries on: a mail or database outage must not
    silently stop notifications for the rest of the process's life.
    """
    last_purge: Optional[float] = None
    while True:
        if notifier.enabled:
            try:
                await asyncio.to_thread(notifier.deliver_pending)
            except Exception as exc:
                log.error("Staff notification run failed (%s)", type(exc).__name__)
        if purge_store is not None and (
            last_purge is None or time.monotonic() - last_purge >= purge_every_s
        ):
            try:
                await asyncio.to_thread(purge_store.purge)
                last_purge = time.monotonic()
            except Exception as exc:
                log.error("Purge of expired callback details failed (%s)", type(exc).__name__)
        await asyncio.sleep(interval_s)
