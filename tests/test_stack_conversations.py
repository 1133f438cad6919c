"""Whole conversations through Rasa's REST channel with the real model, action server and database."""
from __future__ import annotations

import re

import pytest

from bot.callbacks import CallbackStore

pytestmark = pytest.mark.stack

REFERENCE = re.compile(r"\bRG-[A-Z0-9]{6}\b")


def test_answers_what_restorative_justice_is(conversation):
    reply = conversation.say_text("what is restorative justice?").lower()
    assert "restorative justice" in reply
    assert "harm" in reply


def test_says_it_is_free(conversation):
    reply = conversation.say_text("is it free?").lower()
    assert "free" in reply or "no cost" in reply


def test_meeting_is_not_compulsory(conversation):
    reply = conversation.say_text("do I have to meet him?").lower()
    assert any(phrase in reply for phrase in ("never have to", "don't have to", "do not have to", "voluntary"))
    assert "letter" in reply  # and the other ways of taking part are offered


def test_danger_gets_the_emergency_answer(conversation):
    assert "999" in conversation.say_text("he's outside my house right now")


def test_callback_request_is_stored_once_in_e164(conversation, stack_database):
    store = CallbackStore(stack_database)
    before = {record.reference for record in store.list()}

    consent = conversation.say_text("can someone ring me back please")
    assert "deleted after" in consent and "Is that OK?" in consent, consent
    steps = [
        ("yes that's ok", "name"),
        ("it's Jess", "number"),
        ("07400 900461", "voicemail"),
        ("/affirm", "good time"),
        ("evenings after 6", "who you are"),
        ("I was harmed", "anything short"),
        ("Skip", "Shall I send this"),
    ]
    for message, expected in steps:
        reply = conversation.say_text(message)
        assert expected.lower() in reply.lower(), f"after {message!r} the assistant said {reply!r}"
    final = conversation.say_text("/affirm")
    match = REFERENCE.search(final)
    assert match, final

    new = [record for record in store.list() if record.reference not in before]
    assert [record.reference for record in new] == [match.group(0)]
    assert new[0].phone == "+447400900461"
    assert new[0].name == "Jess"
    assert new[0].role == "person_harmed"
    assert new[0].safe_to_identify is True
    # The personal details are gone from the conversation once stored.
    assert "Jess" not in conversation.say_text("/request_callback")
    store.close()


def test_doubt_about_a_voicemail_is_stored_as_not_safe(conversation, stack_database):
    store = CallbackStore(stack_database)
    before = {record.reference for record in store.list()}
    for message in ("can someone call me", "yes", "Ann", "07400 900462"):
        reply = conversation.say_text(message)
    assert "voicemail" in reply.lower(), reply
    reply = conversation.say_text("I'm not sure, he sometimes checks my phone")
    assert "not safe" in reply and "good time" in reply.lower(), reply
    for message in ("any time", "Skip", "Skip"):
        reply = conversation.say_text(message)
    assert "Voicemail or saying who's calling: no" in reply, reply
    final = conversation.say_text("/affirm")
    assert REFERENCE.search(final), final
    new = [record for record in store.list() if record.reference not in before]
    assert len(new) == 1 and new[0].safe_to_identify is False


def test_nothing_typed_in_the_callback_reaches_the_logs(stack):
    # Runs after the callback conversation above, in the same stack.
    logs = "".join(path.read_text() for path in stack.log_dir.glob("*.log"))
    assert logs, "the stack wrote no logs to check"
    for typed in ("Jess", "07400 900461", "+447400900461", "447400900461", "evenings after 6"):
        assert typed not in logs
