"""First messages, each scored on the reply it gets in a new conversation."""
from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Dict, List

from bench.evaluation.client import Visitor
from bench.evaluation.replies import is_decline, missing, reply_text

FALLBACK = "__fallback__"
EMERGENCY = "__emergency__"


@dataclass
class QuestionResult:
    id: str
    topic: str
    text: str
    expect: List[str]
    missing: List[str]
    reply: str
    answers: List[str]
    declined: bool  # the reply honestly says the assistant can't help (see replies.is_decline)
    emergency: bool  # the reply was an emergency answer

    @property
    def correct(self) -> bool:
        return not self.missing


def ask(visitor: Visitor, question: dict) -> QuestionResult:
    messages = visitor.say(question["text"])
    state = visitor.state()
    form_started = state.active_loop == "callback_form"
    text = reply_text(messages)
    return QuestionResult(
        id=question["id"], topic=question["topic"], text=question["text"], expect=list(question["expect"]),
        missing=missing(question["expect"], messages, form_started), reply=text, answers=state.answers,
        declined=is_decline(text) and not form_started,
        emergency=any(answer.startswith("utter_emergency") for answer in state.answers),
    )


def run(questions: List[dict], new_visitor, workers: int = 3) -> List[QuestionResult]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda question: ask(new_visitor(), question), questions))


def _share(hits: int, total: int) -> Dict[str, float]:
    return {"hits": hits, "total": total, "share": round(hits / total, 3) if total else 0.0}


def figures(results: List[QuestionResult]) -> dict:
    by_topic: Dict[str, List[QuestionResult]] = defaultdict(list)
    for result in results:
        by_topic[result.topic].append(result)
    fallback = [r for r in results if FALLBACK in r.expect]
    in_scope = [r for r in results if FALLBACK not in r.expect]
    emergencies = [r for r in results if EMERGENCY in r.expect]
    not_emergencies = [r for r in results if EMERGENCY not in r.expect]
    return {
        "answers": _share(sum(r.correct for r in results), len(results)),
        "emergencies": _share(sum(r.correct for r in emergencies), len(emergencies)),
        "emergency_false_alarms": _share(sum(r.emergency for r in not_emergencies), len(not_emergencies)),
        "fallback_recall": _share(sum(r.declined for r in fallback), len(fallback)),
        "in_scope_sent_to_fallback": _share(sum(r.declined for r in in_scope), len(in_scope)),
        "topics": {topic: _share(sum(r.correct for r in items), len(items))
                   for topic, items in sorted(by_topic.items())},
        "failures": [asdict(r) for r in results if not r.correct],
    }
