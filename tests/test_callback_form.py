"""The callback form's answer rules (bot/callback_form.py)."""
from __future__ import annotations

import pytest

from bot import callback_form as form


@pytest.mark.parametrize(
    "text, entity, expected",
    [
        ("Sarah", None, "Sarah"),
        ("my name is Sarah", None, "Sarah"),
        ("it's Jess", None, "Jess"),
        ("  Mrs   Jones  ", None, "Mrs Jones"),
        ("ask for Tom please", None, "Tom"),
        ("Hi I'm Dave, call me on 07400 900123", "Dave", "Dave"),
        ("Siobhan O'Neill-Smith", None, "Siobhan O'Neill-Smith"),
        ("Zoë", None, "Zoë"),
    ],
)
def test_names_are_tidied(text, entity, expected):
    assert form.check_name(text, entity) == form.Checked(expected)


@pytest.mark.parametrize("text", ["", "   ", "07400 900123", "!!!", "x" * 61])
def test_unusable_names_get_a_kind_explanation(text):
    checked = form.check_name(text)
    assert checked.value is None
    assert checked.problem and "name" in checked.problem


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I was harmed", "person_harmed"),
        ("I was the victim", "person_harmed"),
        ("I caused harm", "person_responsible"),
        ("it was me who did it", "person_responsible"),
        ("I'm his mum", "family_member"),
        ("Family member or friend", "family_member"),
        ("I'm a teacher", "professional"),
        ("Professional", "professional"),
        ("Skip", form.SKIP),
        ("prefer not to say", form.SKIP),
        ("other", "other"),
    ],
)
def test_roles_are_understood(text, expected):
    assert form.check_role(text).value == expected


def test_an_unclear_role_is_asked_again():
    checked = form.check_role("banana")
    assert checked.value is None and "Skip" in checked.problem


def test_notes_are_optional_and_short():
    assert form.check_note("Skip").value == form.SKIP
    assert form.check_note("I work shifts").value == "I work shifts"
    too_long = form.check_note("a" * (form.NOTE_MAX + 1))
    assert too_long.value is None and str(form.NOTE_MAX + 1) in too_long.problem


def test_times_are_limited():
    assert form.check_time("after 6pm").value == "after 6pm"
    assert form.check_time("x" * (form.TIME_MAX + 1)).value is None


def test_summary_reads_back_every_detail_in_uk_format():
    slots = {
        "callback_name": "Jess",
        "callback_phone": "+447400900461",
        "callback_safe_to_identify": False,
        "callback_time": "evenings",
        "callback_role": "person_harmed",
        "callback_note": form.SKIP,
    }
    text = form.summary(slots)
    assert "Jess" in text
    assert "07400 900461" in text
    assert "no, please don't" in text
    assert "evenings" in text
    assert "Person harmed" in text
    assert "Note: none" in text


def test_details_leave_skipped_answers_empty():
    details = form.details_from_slots({
        "callback_name": "Jess", "callback_phone": "+447400900461", "callback_safe_to_identify": True,
        "callback_time": "any time", "callback_role": form.SKIP, "callback_note": form.SKIP,
    })
    assert details.role is None and details.note is None and details.safe_to_identify is True


@pytest.mark.parametrize(
    "intent, text, interrupts",
    [
        ("faq", "Robin", False),           # a name the classifier mistook for a question
        ("faq", "evenings", False),
        ("out_of_scope", "after the school run", False),
        ("faq", "is it free?", True),
        ("faq", "what happens at a meeting", True),
        ("out_of_scope", "will I go to prison", True),
        ("stop", "forget it", True),
        ("emergency_danger", "he's outside", True),
        ("inform", "can you call after 6", False),
        ("nlu_fallback", "Robin", False),
    ],
)
def test_answers_are_told_from_interruptions(intent, text, interrupts):
    assert form.is_interruption(intent, text) is interrupts


@pytest.mark.parametrize("intent, text", [("greet", "Morning"), ("thanks", "any time thanks")])
def test_greeting_words_given_as_answers_are_answers(intent, text):
    assert form.is_interruption(intent, text) is False
