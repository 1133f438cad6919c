"""Where votes and redacted unanswered questions are kept: the callback database, next to the requests.

The same database (and the same migrations, purge loop and staff sign-in) as the callback requests, so a
deployment has one thing to back up, secure and configure. Nothing here holds a visitor id or a time of day.
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Dict, Iterable, List, Mapping, Optional, TextIO

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.callbacks.db import AnswerVotes, UnansweredQuestion, utcnow
from bot.callbacks.staff_time import STAFF_TIME_ZONE
from bot.callbacks.store import CallbackStore, StoreUnavailable, without_hidden_characters
from bot.learning.answers import ANSWER_ID, DID_YOU_MEAN, NOT_UNDERSTOOD, answer_label
from bot.learning.redaction import PLACEHOLDERS, redact

log = logging.getLogger(__name__)

REASONS = (NOT_UNDERSTOOD, DID_YOU_MEAN, "unhelpful")
MAX_TEXT = 1000
# The intent name the export gives every group: `rasa data validate` refuses it until the team replaces it
# with a real one, so an unlabelled export cannot be trained by mistake.
TO_LABEL = "to_label"
_PLACEHOLDER = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))
_WORDS = re.compile(r"[^\W_]")


def today() -> date:
    # Staff read days in UK time; a vote at 00:30 BST belongs to that day, not to the day before in UTC.
    return utcnow().astimezone(STAFF_TIME_ZONE).date()


@dataclass
class QuestionGroup:
    id: Optional[int]  # None: kept since the last grouping, not grouped yet
    texts: List[str]
    answers: Counter = field(default_factory=Counter)
    first_day: Optional[date] = None
    last_day: Optional[date] = None

    @property
    def count(self) -> int:
        return len(self.texts)

    @property
    def example(self) -> str:
        return self.texts[0]

    def answer_labels(self) -> List[str]:
        return [f"{answer_label(answer)} ({n})" for answer, n in self.answers.most_common()]


@dataclass(frozen=True)
class AnswerVotesSummary:
    answer: str
    helpful: int
    unhelpful: int
    weeks: List[tuple]  # (Monday of the week, helpful, unhelpful), oldest first

    @property
    def title(self) -> str:
        return answer_label(self.answer)


class LearningRecords:
    def __init__(self, store: CallbackStore, keep_days: int) -> None:
        if keep_days < 1:
            raise ValueError("keep_days must be at least 1")
        self.store = store
        self.keep_days = keep_days

    def _session(self) -> Session:
        return Session(self.store.engine, future=True)

    @staticmethod
    def _unavailable(action: str, exc: BaseException) -> StoreUnavailable:
        log.error("Learning records could not %s (%s)", action, type(exc).__name__)
        return StoreUnavailable(f"The database could not {action} ({type(exc).__name__}).")

    # -- writing -------------------------------------------------------------------------------

    def count_vote(self, answer: str, helpful: bool, day: Optional[date] = None) -> None:
        if not ANSWER_ID.match(answer):
            raise ValueError("not an answer id")
        day = day or today()
        column = "helpful" if helpful else "unhelpful"
        # One statement that adds or increments, so two replicas counting at once cannot lose a vote. The project
        # runs on SQLite and PostgreSQL, which spell it the same way.
        dialect = postgresql if self.store.engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(AnswerVotes).values(answer=answer, day=day, helpful=int(helpful),
                                                    unhelpful=int(not helpful))
        try:
            with self._session() as session, session.begin():
                session.execute(insert.on_conflict_do_update(
                    index_elements=["answer", "day"], set_={column: getattr(AnswerVotes, column) + 1}
                ))
        except SQLAlchemyError as exc:
            raise self._unavailable("count a vote", exc) from None

    def keep_question(self, text: str, reason: str, answer: Optional[str] = None, *, names: Iterable[str] = (),
                      day: Optional[date] = None) -> Optional[int]:
        """Keeps the message after redaction; returns its id, or None when nothing worth keeping is left."""
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        # Hidden characters carry nothing a reader can see, and would break the YAML export and staff's terminal.
        kept = " ".join(redact(without_hidden_characters(text), names).split())[:MAX_TEXT]
        if not _WORDS.search(_PLACEHOLDER.sub(" ", kept)):
            return None
        try:
            with self._session() as session, session.begin():
                row = UnansweredQuestion(text=kept, reason=reason, answer=answer, kept_on=day or today())
                session.add(row)
                session.flush()
                return row.id
        except SQLAlchemyError as exc:
            raise self._unavailable("keep a question", exc) from None

    def purge(self, now: Optional[datetime] = None) -> int:
        """Deletes questions kept longer than keep_days; returns how many. Votes hold nothing personal and stay."""
        cutoff = (now or utcnow()).astimezone(STAFF_TIME_ZONE).date() - timedelta(days=self.keep_days)
        try:
            with self._session() as session, session.begin():
                result = session.execute(delete(UnansweredQuestion).where(UnansweredQuestion.kept_on < cutoff))
                count = result.rowcount or 0
        except SQLAlchemyError as exc:
            raise self._unavailable("delete old questions", exc) from None
        if count:
            self.store.checkpoint()
        log.info("Deleted %d unanswered question(s) older than %d days", count, self.keep_days)
        return count

    def set_groups(self, groups: Mapping[int, int]) -> None:
        """Question id -> group id (the id of the first question of its group)."""
        try:
            with self._session() as session, session.begin():
                for question_id, group_id in groups.items():
                    session.execute(
                        update(UnansweredQuestion).where(UnansweredQuestion.id == question_id).values(group_id=group_id)
                    )
        except SQLAlchemyError as exc:
            raise self._unavailable("save the groups", exc) from None

    # -- reading -------------------------------------------------------------------------------

    def questions(self) -> List[UnansweredQuestion]:
        try:
            with self._session() as session:
                rows = session.execute(select(UnansweredQuestion).order_by(UnansweredQuestion.id)).scalars().all()
                session.expunge_all()
                return list(rows)
        except SQLAlchemyError as exc:
            raise self._unavailable("read the questions", exc) from None

    def ungrouped_count(self) -> int:
        try:
            with self._session() as session:
                return session.execute(
                    select(func.count()).select_from(UnansweredQuestion).where(UnansweredQuestion.group_id.is_(None))
                ).scalar_one()
        except SQLAlchemyError as exc:
            raise self._unavailable("count the questions", exc) from None

    def groups(self) -> List[QuestionGroup]:
        """Groups of similar questions, largest first; questions not grouped yet come as one group at the end."""
        grouped: Dict[Optional[int], QuestionGroup] = {}
        for row in self.questions():
            group = grouped.setdefault(row.group_id, QuestionGroup(row.group_id, []))
            group.texts.append(row.text)
            group.answers[row.answer or row.reason] += 1
            group.first_day = min(filter(None, (group.first_day, row.kept_on)))
            group.last_day = max(filter(None, (group.last_day, row.kept_on)))
        waiting = grouped.pop(None, None)
        ordered = sorted(grouped.values(), key=lambda g: (-g.count, -(g.last_day or date.min).toordinal(), g.id))
        return ordered + ([waiting] if waiting else [])

    def votes(self, weeks: int = 8, now: Optional[datetime] = None) -> List[AnswerVotesSummary]:
        """Every rated answer's totals and its last `weeks` weeks, most unhelpful first."""
        this_monday = (now or utcnow()).astimezone(STAFF_TIME_ZONE).date()
        this_monday -= timedelta(days=this_monday.weekday())
        mondays = [this_monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
        try:
            with self._session() as session:
                rows = session.execute(select(AnswerVotes)).scalars().all()
        except SQLAlchemyError as exc:
            raise self._unavailable("read the votes", exc) from None
        totals: Dict[str, List[int]] = {}
        weekly: Dict[str, Dict[date, List[int]]] = {}
        for row in rows:
            totals.setdefault(row.answer, [0, 0])
            totals[row.answer][0] += row.helpful
            totals[row.answer][1] += row.unhelpful
            monday = row.day - timedelta(days=row.day.weekday())
            week = weekly.setdefault(row.answer, {}).setdefault(monday, [0, 0])
            week[0] += row.helpful
            week[1] += row.unhelpful
        summaries = [
            AnswerVotesSummary(answer, helpful, unhelpful,
                               [(m, *weekly[answer].get(m, [0, 0])) for m in mondays])
            for answer, (helpful, unhelpful) in totals.items()
        ]
        return sorted(summaries, key=lambda s: (-s.unhelpful, -(s.helpful + s.unhelpful), s.answer))

    def export_nlu(self, stream: TextIO) -> int:
        """Writes every group as Rasa NLU training data (YAML) for the team to label; returns how many groups."""
        groups = self.groups()
        blocks = []
        for group in groups:
            examples = "".join(f"- {_example(text)}\n" for text in dict.fromkeys(group.texts))
            what = "Not grouped yet" if group.id is None else f"Group {group.id}"
            blocks.append(
                f"# {what}: asked {group.count} time(s); given: {'; '.join(group.answer_labels())}\n"
                f"- intent: {TO_LABEL}\n  examples: |\n" + _indent(examples, "    ")
            )
        stream.write(
            'version: "3.1"\n'
            "# Unanswered questions, redacted, from the chat. Replace each `to_label` with the intent it should\n"
            "# have been (for example faq/what_is_rj), delete groups that are not questions for the assistant,\n"
            "# and copy the rest into data/nlu/. Placeholders such as [NAME] stand for what was removed.\n"
            "nlu:\n" + "\n".join(blocks)
        )
        return len(groups)


def _example(text: str) -> str:
    # Square brackets are Rasa's entity markup; placeholders are written so that Rasa reads them as words.
    one_line = " ".join(text.split())
    return one_line.replace("][", "] [")


def _indent(text: str, prefix: str) -> str:
    return "".join(prefix + line + "\n" for line in text.splitlines())
