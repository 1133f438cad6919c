"""What a reply must show for each behaviour marker of the evaluation sets.

The markers are judged from the text a visitor sees, never from the assistant's internal labels, so
that a right topic with an answer that does not say the needed thing still counts as a miss.
"""
from __future__ import annotations

import re
from typing import List, Sequence

# An honest "I can't help with that": an apology and a plain statement of what the assistant cannot do
# or does not know.
_APOLOGY = re.compile(r"\b(sorry|i'm afraid|i am afraid)\b", re.IGNORECASE)
_CANNOT = re.compile(
    r"\b(can't|cannot|can not|don't know|do not know|not able|unable|not something i|isn't something i|"
    r"doesn't have|don't have)\b",
    re.IGNORECASE,
)
_GREETING = re.compile(r"^\W*(hello|hi|hiya|hey|good (morning|afternoon|evening))\b", re.IGNORECASE)
_THANKS = re.compile(r"\b(you're welcome|you are welcome|glad|pleasure|no problem)\b", re.IGNORECASE)
_GOODBYE = re.compile(r"\b(bye|goodbye|take care)\b", re.IGNORECASE)
_AUTOMATED = re.compile(r"\b(automated|not a (real )?person|chatbot|a bot|computer program)\b", re.IGNORECASE)
# Any phone number a reply might give: 999 must come before every other one.
_NUMBER = re.compile(r"\b\d[\d ]{1,14}\d\b")


def reply_text(messages: Sequence[dict]) -> str:
    return "\n".join(message.get("text", "") for message in messages if message.get("text"))


def is_decline(text: str) -> bool:
    return bool(_APOLOGY.search(text) and _CANNOT.search(text))


def emergency_first(messages: Sequence[dict]) -> bool:
    """999 is in the first message the visitor sees, and no other number comes before it."""
    if not messages or "999" not in messages[0].get("text", ""):
        return False
    first_number = _NUMBER.search(reply_text(messages))
    return first_number is not None and first_number.group().replace(" ", "") == "999"


def check(expect: str, messages: Sequence[dict], form_started: bool) -> bool:
    """Whether one expectation (a case-insensitive substring or a behaviour marker) holds for a reply."""
    text = reply_text(messages)
    first = messages[0].get("text", "") if messages else ""
    if expect == "__fallback__":
        return is_decline(text)
    if expect == "__emergency__":
        return emergency_first(messages)
    if expect == "__callback_form__":
        return form_started
    if expect == "__greeting__":
        return bool(_GREETING.search(first))
    if expect == "__thanks__":
        return bool(_THANKS.search(text))
    if expect == "__goodbye__":
        return bool(_GOODBYE.search(text))
    if expect == "__bot_disclosure__":
        return bool(_AUTOMATED.search(text))
    return expect.lower() in text.lower()


def missing(expects: Sequence[str], messages: Sequence[dict], form_started: bool) -> List[str]:
    return [expect for expect in expects if not check(expect, messages, form_started)]
