"""Whole conversations through Rasa's REST channel with the real model, action server and database.

The messages are written the way people type on a phone, in words of our own (never the shared evaluation
sets' sentences): answers that fit the question, danger caught in everyday words, honest "I don't know"s, and
callback requests finished in natural replies.
"""
from __future__ import annotations

import re
from typing import List, Tuple

import pytest

from bot.callbacks.store import CallbackStore
from support import FORM_QUESTIONS

pytestmark = pytest.mark.stack

REFERENCE = re.compile(r"\bRG-[A-Z0-9]{6}\b")
ASKS = FORM_QUESTIONS


def talk(conversation, steps: List[Tuple[str, str]]) -> str:
    """Sends each message and checks that the reply asks what it should; returns the last reply."""
    reply = ""
    for message, asks in steps:
        reply = conversation.say_text(message)
        assert ASKS[asks].lower() in reply.lower(), f"after {message!r} expected the {asks} question, got {reply!r}"
    return reply


def new_requests(store: CallbackStore, before: set) -> list:
    return [record for record in store.list() if record.reference not in before]


@pytest.mark.parametrize(
    "message, starts, contains",
    [
        ("is taking part optional", "Yes", "voluntary"),
        ("do I really have to go through with it", "No", "voluntary"),
        ("can I back out after I've said yes", "Yes", "any time"),
        ("could my husband sit in with me", "Usually, yes", "supporter"),
        ("are you lot on facebook or anything", "", "@RJGlos"),
        ("what do you actually keep about me", "", "deleted after"),
        ("wat does restorative justice even mean", "", "harm"),
    ],
)
def test_answers_fit_the_question_asked(conversation, message, starts, contains):
    reply = conversation.say_text(message)
    assert reply.startswith(starts), reply
    assert contains.lower() in reply.lower(), reply


@pytest.mark.parametrize(
    "message, helpline",
    [
        ("sorry i was going to ask about rj but hes round my place again and he wont go", "0808 2000 247"),
        ("my ex just turned up outside the flat", "999"),
        ("i cant keep going any more, everyone would be better off without me", "116 123"),
    ],
)
def test_danger_and_suicidal_feelings_in_everyday_words_get_999_first(conversation, message, helpline):
    reply = conversation.say_text(message)
    assert "999" in reply.split(".")[0], reply
    assert helpline in reply


@pytest.mark.parametrize(
    "message",
    ["where's your office, can I just turn up", "can we do the meeting on zoom", "how many weeks does it all take"],
)
def test_what_the_fact_sheet_does_not_say_is_honestly_not_known(conversation, message):
    reply = conversation.say_text(message)
    assert reply.startswith("Sorry, I don't"), reply
    assert "contactus@restorativegloucestershire.co.uk" in reply


@pytest.mark.parametrize(
    "message", ["can you restore my old sofa", "I need a mediator for my divorce", "when is the recycling collected"]
)
def test_questions_that_only_share_words_with_ours_are_declined(conversation, message):
    assert conversation.say_text(message).startswith("Sorry, I can't"), message


@pytest.mark.parametrize(
    "message, contains",
    [("where can I get some support after being burgled", "08 08 16 89 111"),
     ("how do I report some graffiti, it's not urgent", "101")],
)
def test_signposting_to_the_right_service(conversation, message, contains):
    assert contains in conversation.say_text(message)


def test_a_callback_in_natural_words_with_a_correction_is_stored_once(conversation, stack_database):
    store = CallbackStore(stack_database)
    before = {record.reference for record in store.list()}
    summary = talk(conversation, [
        ("hiya, I'm Priya, could someone ring me on 0113 496 0101 please", "consent"),
        ("yeah go ahead", "voicemail"),  # the name and number given first are not asked for again
        ("yes you can leave a message, nobody else uses this phone", "time"),
        ("weekdays after 5", "role"),
        ("it was my car that got smashed up", "note"),
        ("no thanks", "summary"),
    ])
    assert "Priya" in summary and "0113 496 0101" in summary
    corrected = talk(conversation, [("oh the number's wrong, it's 0113 496 0110 not 0101", "summary")])
    assert "0113 496 0110" in corrected
    final = conversation.say_text("that all looks right now, send it")
    match = REFERENCE.search(final)
    assert match, final
    [record] = new_requests(store, before)
    assert record.reference == match.group(0)
    assert (record.name, record.phone, record.safe_to_identify, record.role) == (
        "Priya", "+441134960110", True, "person_harmed")
    # The details are gone from the conversation once stored.
    assert "Priya" not in conversation.say_text("/request_callback")
    store.close()


def test_a_voicemail_that_is_not_safe_said_with_a_reason_is_stored_as_not_safe(conversation, stack_database):
    store = CallbackStore(stack_database)
    before = {record.reference for record in store.list()}
    talk(conversation, [
        ("can somebody phone me about what happened", "consent"),
        ("that's fine", "name"),
        ("Jo", "phone"),
        ("my number is 020 7946 0102", "voicemail"),
        ("no don't leave anything, he goes through my phone", "time"),
        ("between 10 and 2 when he's at work", "role"),
        ("rather not say", "note"),
        ("please withhold your number", "summary"),
    ])
    assert REFERENCE.search(conversation.say_text("yep that's right"))
    [record] = new_requests(store, before)
    assert record.safe_to_identify is False and record.note == "please withhold your number"
    store.close()


def test_a_question_during_the_form_is_answered_and_the_form_carries_on(conversation):
    talk(conversation, [("I'd like a phone call please", "consent")])
    reply = conversation.say_text("sorry, quick question first, does it cost anything?")
    assert "free" in reply.lower() and ASKS["consent"] in reply, reply
    talk(conversation, [("ok go on", "name")])
    reply = conversation.say_text("do I have to meet him face to face?")
    assert "letters" in reply.lower() and ASKS["name"].lower() in reply.lower(), reply


def test_cancelling_in_natural_words_keeps_nothing_and_offers_the_email(conversation, stack_database):
    store = CallbackStore(stack_database)
    before = {record.reference for record in store.list()}
    talk(conversation, [("can u call me", "consent"), ("ok", "name"), ("Lee", "phone")])
    reply = conversation.say_text("actually no forget it, I'm not ready to talk to anyone yet")
    assert "nothing you typed for the callback has been saved" in reply, reply
    assert "contactus@restorativegloucestershire.co.uk" in reply
    assert new_requests(store, before) == []
    store.close()


def test_danger_during_the_form_is_answered_first_and_the_form_waits(conversation, stack_database):
    store = CallbackStore(stack_database)
    before = {record.reference for record in store.list()}
    talk(conversation, [("could someone call me back", "consent"), ("yes", "name")])
    reply = conversation.say_text("hang on hes banging on the back door again")
    assert reply.startswith("If you're in danger right now, please call 999"), reply
    assert "can wait" in reply and ASKS["name"].lower() in reply.lower(), reply
    reply = conversation.say_text("please stop")
    assert "nothing you typed for the callback has been saved" in reply, reply
    assert new_requests(store, before) == []
    store.close()


def test_nothing_typed_in_a_callback_reaches_the_logs(stack, conversation):
    talk(conversation, [("can someone phone me", "consent"), ("yes", "name"), ("Marguerite", "phone"),
                        ("0113 496 0199", "voicemail"), ("no", "time"), ("after teatime", "role"),
                        ("Skip", "note"), ("my neighbour keeps parking on my drive", "summary")])
    assert REFERENCE.search(conversation.say_text("/affirm"))
    logs = "".join(path.read_text() for path in stack.log_dir.glob("*.log"))
    assert logs, "the stack wrote no logs to check"
    for typed in ("Marguerite", "0113 496 0199", "+441134960199", "441134960199", "after teatime", "parking"):
        assert typed not in logs


def test_visitors_can_rate_answers_and_unanswered_questions_are_kept_redacted(stack, stack_database):
    """Through the website app, as the widget talks: Rasa's own REST channel names each response."""
    import uuid

    import requests

    from bot.learning.records import LearningRecords

    def chat(sender: str, message: str) -> List[dict]:
        response = requests.post(stack.web_url + "/chat", json={"sender": sender, "message": message}, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()["messages"]

    store = CallbackStore(stack_database, create=False)
    records = LearningRecords(store, keep_days=30)
    before = {q.id for q in records.questions()}
    sender = str(uuid.uuid4())
    answered = chat(sender, "whats restorative justice then")
    assert [m.get("answer") for m in answered if "answer" in m] == ["faq/what_is_rj"]
    assert all(set(m) <= {"text", "buttons", "answer"} for m in answered)
    vote = {"sender": sender, "answer": "faq/what_is_rj", "helpful": False}
    assert requests.post(stack.web_url + "/feedback", json=vote, timeout=10).status_code == 204
    chat(sender, "blorp fizzwhack, Gethin told me to ask")  # nothing the assistant can answer, with a name
    privacy = " ".join(m.get("text", "") for m in chat(sender, "do you keep what i type"))
    assert "stays 30 days" in privacy
    kept = [(q.text, q.reason) for q in records.questions() if q.id not in before]
    store.close()
    assert ("whats restorative justice then", "unhelpful") in kept
    assert any(reason in ("not_understood", "did_you_mean") and "[NAME]" in text and "Gethin" not in text
               for text, reason in kept), kept
