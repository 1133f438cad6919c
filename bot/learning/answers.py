"""The FAQ answers visitors can rate, read from the responses the assistant is trained with (data/responses/).

The same files Rasa merges into its domain, so an answer's id and title are never written twice: the widget's
votes name an answer by id, staff read its title.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import yaml

from bot.settings import PROJECT_ROOT

RESPONSES_DIR = PROJECT_ROOT / "data" / "responses"
ANSWER_ID = re.compile(r"^faq/[a-z0-9_]{1,60}$")
# What staff see as "the answer given" for questions the assistant did not answer.
NOT_UNDERSTOOD = "not_understood"
DID_YOU_MEAN = "did_you_mean"
REPLY_LABELS = {
    NOT_UNDERSTOOD: "“Sorry, I didn't understand that”",
    DID_YOU_MEAN: "“Did you mean one of these?”",
}


@dataclass(frozen=True)
class Answer:
    id: str  # "faq/what_is_rj": the retrieval intent's response key
    title: str
    text: str


@functools.lru_cache(maxsize=4)
def faq_answers(directory: Path = RESPONSES_DIR) -> Dict[str, Answer]:
    answers: Dict[str, Answer] = {}
    for path in sorted(directory.glob("*.yml")):
        responses = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses") or {}
        for name, variations in responses.items():
            answer_id = name[len("utter_"):]
            if not name.startswith("utter_faq/") or not ANSWER_ID.match(answer_id) or not variations:
                continue
            first = variations[0]
            title = (first.get("metadata") or {}).get("title") or answer_id
            answers[answer_id] = Answer(answer_id, title, first.get("text") or "")
    return answers


def answer_label(answer: Optional[str]) -> str:
    """How staff see what a visitor was given: an answer's title, or what the assistant said instead."""
    if not answer:
        return ""
    if answer in REPLY_LABELS:
        return REPLY_LABELS[answer]
    known = faq_answers().get(answer)
    return known.title if known else answer
