"""A caller simulator: plays each persona of callers.yml through a whole callback request.

It answers whatever the form asks, by the slot the form requested, in the persona's own words; plays the
persona's events (a question, a correction, a cancellation, an emergency) at the point the persona says;
and at the end compares what the callback store holds with what the persona expects.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional

from bench.evaluation.client import Visitor
from bench.evaluation.replies import missing, reply_text

FIELDS = {
    "callback_consent": "consent",
    "callback_name": "name",
    "callback_phone": "phone",
    "callback_safe_to_identify": "voicemail_safe",
    "callback_time": "time",
    "callback_role": "role",
    "callback_note": "note",
    "callback_confirmed": "confirm",
}
FORM = "callback_form"
MAX_TURNS = 30
# Asked a fourth time for the same thing, a person gives up: the conversation is a stall.
STALL_ASKS = 4


@dataclass
class Turn:
    said: str
    reply: str
    asked: Optional[str]  # the field the form asked for after this reply


@dataclass
class CallerResult:
    id: str
    description: str
    finished: bool = False
    problem: str = ""
    turns: List[Turn] = field(default_factory=list)
    repeated_questions: int = 0  # answers the form asked for a third time or more


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def volunteered(persona: dict) -> set:
    """Fields the opening message already gives (the persona's name or number written in it)."""
    opening = persona["opening"].lower()
    given = set()
    details = persona.get("details") or {}
    if details.get("name") and details["name"].lower() in opening:
        given.add("name")
    if details.get("phone") and _digits(details["phone"]) and _digits(details["phone"]) in _digits(opening):
        given.add("phone")
    return given


def _answer(answers: Dict[str, object], name: str, times_asked: int) -> str:
    value = answers[name]
    if isinstance(value, list):
        return str(value[min(times_asked, len(value) - 1)])
    return str(value)


def play(persona: dict, visitor: Visitor, rows_for: Callable[[], list]) -> CallerResult:
    result = CallerResult(persona["id"], persona["description"])
    answers = dict(persona["answers"])
    events = list(persona.get("events") or [])
    before = {row.reference for row in rows_for()}

    def say(text: str):
        messages = visitor.say(text)
        state = visitor.state()
        result.turns.append(Turn(text, reply_text(messages), FIELDS.get(state.requested_slot or "")))
        return messages, state

    _, state = say(persona["opening"])
    if state.active_loop != FORM:
        result.problem = "the opening did not start the callback form"
        return result
    given = volunteered(persona)
    asked: Counter = Counter()
    stopped = False
    while len(result.turns) < MAX_TURNS and state.active_loop == FORM:
        name = FIELDS.get(state.requested_slot or "")
        due = next((e for e in events if (e["after"] == "summary" and name == "confirm") or e["after"] in given), None)
        if due is not None:
            events.remove(due)
            messages, after = say(due["say"])
            lacking = missing(due.get("expect") or [], messages, after.active_loop == FORM)
            if lacking:
                result.problem = f"the reply to {due['kind']} {due['say']!r} lacks {lacking}"
                return result
            if due["kind"] in {"cancel", "emergency"}:
                stopped = True
                if due["kind"] == "cancel" and after.active_loop == FORM:
                    result.problem = "the form carried on after the person cancelled"
                    return result
                break
            if due["kind"] == "correction":
                answers.update(due.get("update") or {})
            elif after.active_loop != FORM or after.requested_slot != state.requested_slot:
                result.problem = f"after the {due['kind']} the form did not carry on where it was"
                return result
            state = after
            continue
        if name is None:
            result.problem = "the form is active but asks nothing"
            return result
        if asked[name] + 1 >= STALL_ASKS:
            result.problem = f"stalled: asked for {name} {asked[name] + 1} times"
            return result
        if asked[name] >= 2 and not isinstance(answers[name], list):
            result.repeated_questions += 1
        _, state = say(_answer(answers, name, asked[name]))
        asked[name] += 1
        given.add(name)
    if len(result.turns) >= MAX_TURNS:
        result.problem = "no end after 30 messages"
        return result
    new_rows = [row for row in rows_for() if row.reference not in before]
    result.problem = _compare_end(persona["end"], new_rows, stopped)
    result.finished = not result.problem
    return result


def _compare_end(end: dict, rows: list, stopped: bool) -> str:
    if not end.get("saved"):
        return "" if not rows else f"{len(rows)} request(s) saved where nothing should be"
    if stopped:
        return "the conversation stopped before anything was saved"
    if len(rows) != 1:
        return f"{len(rows)} requests saved instead of one"
    row = rows[0]
    if row.phone != end["phone_e164"]:
        return f"saved the number {row.phone} instead of {end['phone_e164']}"
    if bool(row.safe_to_identify) != bool(end["safe_to_leave_message"]):
        return f"saved voicemail-safe {row.safe_to_identify} instead of {end['safe_to_leave_message']}"
    return ""


def figures(results: List[CallerResult]) -> dict:
    return {
        "finished": {"hits": sum(r.finished for r in results), "total": len(results),
                     "share": round(sum(r.finished for r in results) / len(results), 3) if results else 0.0},
        "repeated_questions": sum(r.repeated_questions for r in results),
        "failures": [asdict(r) for r in results if not r.finished],
    }
