"""make eval's own parts (bench/evaluation): how replies are judged, and the caller simulator on the real stack."""
from __future__ import annotations

import pytest

from bench.evaluation import callers, questions
from bench.evaluation.client import Visitor
from bench.evaluation.replies import check, emergency_first, is_decline


def said(*texts):
    return [{"text": text} for text in texts]


@pytest.mark.parametrize(
    "expect, messages, form_started, holds",
    [
        ("free", said("It's FREE to use."), False, True),
        ("free", said("It costs nothing."), False, False),
        ("__emergency__", said("If you're in danger call 999. Or 0808 2000 247."), False, True),
        ("__emergency__", said("Call 0808 2000 247 or 999."), False, False),
        ("__emergency__", said("Samaritans are there.", "Call 999."), False, False),
        ("__fallback__", said("Sorry, I can't help with that."), False, True),
        ("__fallback__", said("Sorry, I don't know the opening hours."), False, True),
        ("__fallback__", said("It's free."), False, False),
        ("__greeting__", said("Hello, I'm the assistant."), False, True),
        ("__greeting__", said("I'm the assistant. Hello!"), False, False),
        ("__bot_disclosure__", said("I'm an automated assistant."), False, True),
        ("__callback_form__", said("Is that OK?"), True, True),
        ("__callback_form__", said("Is that OK?"), False, False),
        ("__thanks__", said("You're welcome."), False, True),
        ("__goodbye__", said("Take care."), False, True),
    ],
)
def test_each_expectation_is_judged_on_what_a_visitor_sees(expect, messages, form_started, holds):
    assert check(expect, messages, form_started) is holds


def test_an_answer_is_not_a_decline_and_no_reply_is_not_an_emergency():
    assert not is_decline("Facilitators are impartial and don't take sides.")
    assert not emergency_first([])


def test_fields_given_in_the_opening_count_as_given():
    persona = {"opening": "Hi it's Kim Lee, ring me on 0113-496-0123", "details": {"name": "Kim Lee",
                                                                               "phone": "0113 496 0123"}}
    assert callers.volunteered(persona) == {"name", "phone"}


@pytest.mark.stack
def test_the_simulator_plays_a_persona_through_the_real_form(stack, stack_database):
    from bot.callbacks.store import CallbackStore

    persona = {
        "id": "t1", "description": "asks a question mid-form and corrects the number at the read-back",
        "opening": "could somebody give me a call about the break-in at my flat",
        "details": {"name": "Ola", "phone": "0113 496 0170"},
        "answers": {"consent": "go on", "name": "Ola", "phone": "0113 496 0107", "voicemail_safe": "no, please don't",
                    "time": "mornings", "role": "it was my flat", "note": "nope", "confirm": "yes that's it"},
        "events": [{"after": "name", "kind": "question", "say": "hang on, is this confidential?",
                    "expect": ["confidential"]},
                   {"after": "summary", "kind": "correction", "say": "oops the number should end 0170 not 0107",
                    "expect": [], "update": {"phone": "0113 496 0170"}}],
        "end": {"saved": True, "phone_e164": "+441134960170", "safe_to_leave_message": False},
    }
    store = CallbackStore(stack_database)
    visitor = Visitor(stack.web_url, stack.rasa_url, stack.api_token)
    result = callers.play(persona, visitor, store.list)
    store.close()
    assert result.finished, (result.problem, [(t.said, t.reply) for t in result.turns])


@pytest.mark.stack
def test_questions_are_scored_on_the_real_stack(stack):
    asked = [{"id": "t1", "text": "does it cost anything to take part", "expect": ["free"], "topic": "cost"},
             {"id": "t2", "text": "can you book me a taxi", "expect": ["__fallback__"], "topic": "out_of_scope"}]
    results = questions.run(asked, lambda: Visitor(stack.web_url, stack.rasa_url, stack.api_token))
    figures = questions.figures(results)
    assert figures["answers"]["hits"] == 2, figures["failures"]
    assert figures["fallback_recall"]["hits"] == 1
