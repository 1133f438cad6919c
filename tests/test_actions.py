"""The custom actions, run as the action server runs them, against a real SQLite database."""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import callback_form as actions
from actions.clarify import ActionClarifyTopic
from bot.callbacks.db import BUSY_TIMEOUT_S
from bot.callbacks.store import CallbackStore
from bot.settings import CONTACT_EMAIL, PROJECT_ROOT

DOMAIN: Dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
FILLED = {
    "callback_consent": True,
    "callback_key": "k-1",
    "callback_name": "Jess",
    "callback_phone": "+441134960461",
    "callback_safe_to_identify": False,
    "callback_time": "evenings",
    "callback_role": "person_harmed",
    "callback_note": "skip",
    "callback_confirmed": True,
}


@pytest.fixture
def database(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'callbacks.sqlite3'}"
    CallbackStore.create_or_upgrade(url)  # as `make run` does: the action server only opens an existing database
    monkeypatch.setenv("RG_DATABASE_URL", url)
    actions.store.cache_clear()
    yield url
    actions.store.cache_clear()


def tracker(
    text: str = "",
    intent: Optional[str] = "inform",
    slots: Optional[Dict[str, Any]] = None,
    requested: Optional[str] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
    extra_message: Optional[Dict[str, Any]] = None,
    active_loop: Optional[str] = "callback_form",
    confidence: float = 0.9,
) -> Tracker:
    all_slots = {"requested_slot": requested, **(slots or {})}
    message = {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": entities or [],
               **(extra_message or {})}
    events = [{"event": "user", "text": text, "parse_data": message}]
    return Tracker("visitor", all_slots, message, events, False, None,
                   {"name": active_loop} if active_loop else {}, "action_listen")


async def run_validation(t: Tracker):
    dispatcher = CollectingDispatcher()
    events = await actions.ValidateCallbackForm().run(dispatcher, t, DOMAIN)
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}, dispatcher.messages


async def test_a_uk_number_in_any_format_is_stored_in_e164():
    slots, messages = await run_validation(tracker("+44 (0)113 496-0461", requested="callback_phone"))
    assert slots["callback_phone"] == "+441134960461"
    assert messages == []


async def test_an_invalid_number_gets_a_specific_explanation_and_another_try():
    slots, messages = await run_validation(tracker("0113 496 046", requested="callback_phone"))
    assert slots["callback_phone"] is None
    assert slots["callback_misses"] == {"callback_phone": 1}
    assert len(messages) == 1 and "digit short" in messages[0]["text"]


async def test_a_second_unusable_number_offers_email_instead_of_asking_a_third_time():
    slots, messages = await run_validation(
        tracker("999", requested="callback_phone", slots={"callback_misses": {"callback_phone": 1}})
    )
    assert slots["callback_gave_up"] is True
    assert slots["requested_slot"] is None  # the form ends
    assert messages[-1]["response"] == "utter_callback_gave_up"


async def test_a_corrected_number_is_understood_when_asked_again():
    slots, _ = await run_validation(tracker("oops, one digit missing: 0113 496 0461", requested="callback_phone",
                                            slots={"callback_misses": {"callback_phone": 1}}))
    assert slots["callback_phone"] == "+441134960461"


async def test_name_number_and_time_are_picked_out_of_the_opening_message():
    t = tracker("Hi I'm Dave, can someone ring me on 0113 496 0007? Best time: evenings", intent="request_callback")
    slots, messages = await run_validation(t)
    assert slots["callback_name"] == "Dave"
    assert slots["callback_phone"] == "+441134960007"
    assert slots["callback_time"] == "evenings"
    assert messages == []


async def test_a_question_while_the_number_is_asked_is_left_to_the_rules():
    slots, _ = await run_validation(tracker("is it free?", intent="faq", requested="callback_phone"))
    assert slots == {}


async def test_danger_is_left_to_the_rules_at_any_step():
    for requested in ("callback_consent", "callback_name", "callback_time", "callback_note", "callback_confirmed"):
        slots, _ = await run_validation(tracker("he's outside", intent="emergency_danger", requested=requested,
                                                slots=FILLED if requested == "callback_confirmed" else None))
        assert slots == {}, requested


@pytest.mark.parametrize(
    "requested, text, slot, value",
    [("callback_role", "I'm the victim", "callback_role", "person_harmed"),
     ("callback_safe_to_identify", "yes that's fine", "callback_safe_to_identify", True),
     ("callback_name", "Sam Jones", "callback_name", "Sam Jones")],
)
async def test_a_clear_answer_that_only_the_classifier_took_for_an_emergency_is_the_answer(
        requested, text, slot, value):
    t = tracker(text, intent="emergency_self_harm", requested=requested,
                extra_message={"danger_source": "classifier"})
    slots, _ = await run_validation(t)
    assert slots[slot] == value


async def test_danger_in_the_words_is_never_taken_as_an_answer():
    t = tracker("I'm the victim and he's outside now", intent="emergency_danger", requested="callback_role",
                extra_message={"danger_source": "words"})
    slots, _ = await run_validation(t)
    assert slots == {}


async def test_a_free_text_answer_the_classifier_took_for_an_emergency_is_left_to_the_emergency_rule():
    t = tracker("tonight he's coming round", intent="emergency_danger", requested="callback_time",
                extra_message={"danger_source": "classifier"})
    slots, _ = await run_validation(t)
    assert slots == {}


async def test_the_same_answer_sent_again_after_an_emergency_reply_is_taken_as_the_answer():
    t = tracker("whenever is fine", intent="emergency_self_harm", requested="callback_time",
                extra_message={"danger_source": "classifier"})
    t.events.insert(0, {"event": "user", "text": "whenever is fine",
                        "parse_data": {"intent": {"name": "emergency_self_harm"}}})
    slots, _ = await run_validation(t)
    assert slots["callback_time"] == "whenever is fine"


@pytest.mark.parametrize("text", ["yes", "yeah go on", "that's fine", "ok", "Yes, I agree"])
async def test_consent_in_words_creates_the_key_that_makes_submitting_idempotent(text):
    slots, _ = await run_validation(tracker(text, intent="inform", requested="callback_consent"))
    assert slots["callback_consent"] is True
    assert len(slots["callback_key"]) == 32


@pytest.mark.parametrize("text", ["no", "no, I don't want my details kept", "/deny"])
async def test_declining_consent_in_words_ends_the_form(text):
    intent = "deny" if text.startswith("/") else "inform"
    slots, _ = await run_validation(tracker(text, intent=intent, requested="callback_consent"))
    assert slots["callback_consent"] is False
    assert slots["requested_slot"] is None


async def test_a_number_given_with_consent_is_kept_and_not_asked_for_again():
    slots, messages = await run_validation(
        tracker("yes that's ok, my number is 020 7946 0011", intent="affirm", requested="callback_consent"))
    assert slots["callback_consent"] is True
    assert slots["callback_phone"] == "+442079460011"
    assert messages == []


async def test_an_unclear_consent_is_explained_then_settled_as_no_with_the_email_address():
    slots, messages = await run_validation(tracker("hmm", intent="inform", requested="callback_consent"))
    assert slots["callback_consent"] is None and slots["callback_misses"] == {"callback_consent": 1}
    assert "yes" in messages[0]["text"]
    slots, messages = await run_validation(tracker("hmm", intent="inform", requested="callback_consent",
                                                   slots={"callback_misses": {"callback_consent": 1}}))
    assert slots["callback_consent"] is False and slots["requested_slot"] is None
    assert messages[0]["response"] == "utter_callback_not_sure_consent"


@pytest.mark.parametrize(
    "requested, text",
    [("callback_consent", "actually I'm not ready"), ("callback_name", "sorry, I've changed my mind"),
     ("callback_phone", "forget it"), ("callback_safe_to_identify", "can we stop please"),
     ("callback_time", "never mind"), ("callback_role", "scrap that"), ("callback_note", "cancel"),
     ("callback_confirmed", "no, scrap all of it, I don't want you keeping my number")],
)
async def test_cancelling_in_any_words_at_any_step_ends_the_form(requested, text):
    slots, _ = await run_validation(tracker(text, intent="inform", requested=requested, slots=FILLED))
    assert slots["requested_slot"] is None
    if requested == "callback_consent":
        assert slots["callback_consent"] is False
    else:
        assert slots["callback_cancelled"] is True


async def test_a_corrected_number_while_another_question_is_asked_replaces_the_number():
    filled = {"callback_consent": True, "callback_name": "Jess", "callback_phone": "+441134960416"}
    slots, messages = await run_validation(
        tracker("sorry that was wrong, it's 0113 496 0461 not 0416", requested="callback_safe_to_identify",
                slots=filled))
    assert slots["callback_phone"] == "+441134960461"
    assert "callback_safe_to_identify" not in slots  # asked again next
    assert "0113 496 0461" in messages[0]["text"]


async def test_a_corrected_number_at_the_summary_replaces_it_and_shows_the_summary_again():
    t = tracker("the number is wrong, it should be 0113 496 0462", requested="callback_confirmed",
                slots={**FILLED, "callback_confirmed": None})
    slots, _ = await run_validation(t)
    assert slots["callback_phone"] == "+441134960462"
    assert slots["callback_confirmed"] is None


async def test_changing_the_number_at_the_summary_asks_for_it_again():
    t = tracker("/correct_detail", intent="correct_detail", requested="callback_confirmed",
                slots={**FILLED, "callback_confirmed": None}, entities=[{"entity": "detail", "value": "phone"}])
    slots, _ = await run_validation(t)
    assert slots["callback_phone"] is None
    assert slots["callback_confirmed"] is None


async def test_a_detail_named_in_words_at_the_summary_is_asked_again():
    t = tracker("can I change the time", intent="correct_detail", requested="callback_confirmed",
                slots={**FILLED, "callback_confirmed": None})
    slots, _ = await run_validation(t)
    assert slots["callback_time"] is None and slots["callback_confirmed"] is None


@pytest.mark.parametrize("text", ["yes, send it", "yep that's all right", "/affirm", "that's all right, send it",
                                  "send it", "go for it", "looks fine to me", "could you send it please"])
async def test_confirming_the_summary_in_words(text):
    intent = "affirm" if text.startswith("/") else "inform"
    slots, _ = await run_validation(tracker(text, intent=intent, requested="callback_confirmed",
                                            slots={**FILLED, "callback_confirmed": None}))
    assert slots["callback_confirmed"] is True


@pytest.mark.parametrize("text", ["don't send it yet", "hold on before you send it"])
async def test_holding_back_at_the_summary_sends_nothing(text):
    slots, _ = await run_validation(tracker(text, requested="callback_confirmed",
                                            slots={**FILLED, "callback_confirmed": None}))
    assert slots["callback_confirmed"] is None


async def test_an_unclear_answer_at_the_summary_says_so_and_then_offers_the_email():
    t = tracker("hmm lemme think", requested="callback_confirmed", slots={**FILLED, "callback_confirmed": None})
    slots, messages = await run_validation(t)
    assert slots["callback_confirmed"] is None
    assert [m["text"] for m in messages] == ["Sorry, I couldn't tell whether to send it."]
    t = tracker("hmm lemme think", requested="callback_confirmed",
                slots={**FILLED, "callback_confirmed": None, "callback_misses": slots["callback_misses"]})
    dispatcher = CollectingDispatcher()
    await actions.ActionAskCallbackConfirmed().run(dispatcher, t, DOMAIN)
    assert "Nothing has been sent yet" not in dispatcher.messages[0]["text"]
    slots, _ = await run_validation(t)
    t = tracker("hmm lemme think", requested="callback_confirmed",
                slots={**FILLED, "callback_confirmed": None, "callback_misses": slots["callback_misses"]})
    dispatcher = CollectingDispatcher()
    await actions.ActionAskCallbackConfirmed().run(dispatcher, t, DOMAIN)
    assert "Nothing has been sent yet" in dispatcher.messages[0]["text"]
    assert "contactus@restorativegloucestershire.co.uk" in dispatcher.messages[0]["text"]


async def test_a_name_mistaken_for_a_question_is_still_taken_as_the_name():
    slots, _ = await run_validation(tracker("Robin", intent="faq", requested="callback_name"))
    assert slots["callback_name"] == "Robin"


async def test_a_real_question_while_the_time_is_asked_is_left_to_the_rules():
    slots, _ = await run_validation(tracker("is it free?", intent="faq", requested="callback_time"))
    assert "callback_time" not in slots


async def test_a_time_answer_is_taken_whatever_it_was_classified_as():
    slots, _ = await run_validation(tracker("evenings", intent="faq", requested="callback_time"))
    assert slots["callback_time"] == "evenings"


@pytest.mark.parametrize("text", ["not sure", "I don't know really", "maybe, depends who picks up", "dunno",
                                  "better not", "sometimes he checks my phone"])
async def test_doubt_about_a_voicemail_is_taken_as_no(text):
    slots, messages = await run_validation(tracker(text, intent="inform", requested="callback_safe_to_identify"))
    assert slots["callback_safe_to_identify"] is False
    assert [m["response"] for m in messages] == ["utter_callback_voicemail_unsure"]


async def test_a_question_at_the_voicemail_question_is_left_to_the_rules():
    slots, messages = await run_validation(tracker("is it confidential?", intent="faq",
                                                   requested="callback_safe_to_identify"))
    assert slots == {} and messages == []


async def test_an_unclear_answer_to_the_voicemail_question_is_settled_as_no_the_second_time():
    slots, messages = await run_validation(tracker("evenings", intent="inform", requested="callback_safe_to_identify"))
    assert slots["callback_safe_to_identify"] is None and messages
    slots, messages = await run_validation(tracker("evenings", intent="inform", requested="callback_safe_to_identify",
                                                   slots={"callback_misses": {"callback_safe_to_identify": 1}}))
    assert slots["callback_safe_to_identify"] is False
    assert [m["response"] for m in messages] == ["utter_callback_voicemail_unsure"]


@pytest.mark.parametrize(
    "text, expected",
    [("yes you can leave a message, I live alone", True), ("yeah that's fine", True),
     ("no, please don't, my partner checks my phone", False), ("don't say who's calling", False)],
)
async def test_yes_or_no_to_the_voicemail_question_with_reasons(text, expected):
    slots, messages = await run_validation(tracker(text, intent="faq", requested="callback_safe_to_identify"))
    assert slots["callback_safe_to_identify"] is expected
    assert messages == []


@pytest.mark.parametrize("text", ["yes maybe", "yeah I think so, not sure"])
async def test_a_doubtful_yes_to_the_voicemail_question_is_taken_as_no(text):
    slots, messages = await run_validation(tracker(text, intent="affirm", requested="callback_safe_to_identify"))
    assert slots["callback_safe_to_identify"] is False
    assert [m["response"] for m in messages] == ["utter_callback_voicemail_unsure"]


async def test_yes_to_the_note_question_asks_for_the_note_itself():
    slots, messages = await run_validation(tracker("yes", intent="affirm", requested="callback_note"))
    assert slots["callback_note"] is None
    assert "what would you like" in messages[0]["text"].lower()


async def test_a_note_with_a_question_mark_is_a_note_unless_it_is_clearly_a_question_for_me():
    slots, _ = await run_validation(tracker("could they ring before 5?", intent="faq", confidence=0.3,
                                            requested="callback_note"))
    assert slots["callback_note"] == "could they ring before 5?"
    slots, _ = await run_validation(tracker("is what I say confidential?", intent="faq", confidence=0.9,
                                            requested="callback_note"))
    assert slots == {}


async def test_asking_for_a_callback_again_during_the_form_is_left_to_the_rules():
    slots, _ = await run_validation(tracker("can someone call me", intent="request_callback",
                                            requested="callback_time"))
    assert slots == {}


async def test_the_privacy_answer_gives_the_configured_retention(monkeypatch):
    monkeypatch.setenv("RG_RETENTION_DAYS", "45")
    monkeypatch.setenv("RG_LEARNING_DAYS", "20")
    dispatcher = CollectingDispatcher()
    await actions.ActionAnswerPrivacy().run(dispatcher, tracker("what do you keep", "ask_privacy"), DOMAIN)
    assert dispatcher.messages[0]["response"] == "utter_privacy_learning"
    assert dispatcher.messages[0]["retention_days"] == 45
    assert dispatcher.messages[0]["learning_days"] == 20
    monkeypatch.setenv("RG_LEARNING", "off")
    dispatcher = CollectingDispatcher()
    await actions.ActionAnswerPrivacy().run(dispatcher, tracker("what do you keep", "ask_privacy"), DOMAIN)
    assert dispatcher.messages[0]["response"] == "utter_privacy"


async def test_submit_stores_once_and_then_gives_the_reference(database):
    dispatcher = CollectingDispatcher()
    events = await actions.ActionSubmitCallback().run(dispatcher, tracker(slots=FILLED), DOMAIN)
    store = CallbackStore(database)
    [record] = store.list()
    assert record.phone == "+441134960461" and record.safe_to_identify is False and record.note is None
    assert dispatcher.messages[0]["response"] == "utter_callback_saved"
    assert dispatcher.messages[0]["reference"] == record.reference
    cleared = {e["name"] for e in events if e["event"] == "slot" and e["value"] is None}
    assert {"callback_name", "callback_phone", "callback_note", "callback_key"} <= cleared

    # A retried submit of the same conversation (same key) creates nothing new.
    again = CollectingDispatcher()
    await actions.ActionSubmitCallback().run(again, tracker(slots=FILLED), DOMAIN)
    assert [r.reference for r in store.list()] == [record.reference]
    assert again.messages[0]["reference"] == record.reference
    store.close()


async def test_submit_says_so_honestly_when_the_store_is_down(monkeypatch):
    monkeypatch.setenv("RG_DATABASE_URL", "postgresql://nobody:nothing@127.0.0.1:1/none")
    actions.store.cache_clear()
    dispatcher = CollectingDispatcher()
    events = await actions.ActionSubmitCallback().run(dispatcher, tracker(slots=FILLED), DOMAIN)
    actions.store.cache_clear()
    assert [m["response"] for m in dispatcher.messages] == ["utter_callback_store_failed"]
    assert "reference" not in dispatcher.messages[0]
    assert events == []  # the details stay so that "Try again" can resend them


def _database_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


async def _submit() -> tuple:
    dispatcher = CollectingDispatcher()
    events = await actions.ActionSubmitCallback().run(dispatcher, tracker(slots=FILLED), DOMAIN)
    return dispatcher.messages, events


def _refused_honestly(messages, events) -> None:
    assert [m["response"] for m in messages] == ["utter_callback_store_failed"]
    assert "reference" not in messages[0] and messages[0]["email"] == CONTACT_EMAIL
    assert events == []  # the details stay so that "Try again" can resend them


async def test_submit_into_a_database_moved_away_is_refused_and_nothing_is_recreated(database, tmp_path):
    path = _database_file(database)
    path.rename(tmp_path / "moved.sqlite3")
    _refused_honestly(*await _submit())
    assert not path.exists()
    (tmp_path / "moved.sqlite3").rename(path)
    messages, _ = await _submit()  # "Try again" once it is back
    assert messages[0]["response"] == "utter_callback_saved" and messages[0]["reference"]


async def test_submit_into_a_read_only_database_is_refused_honestly(database):
    path = _database_file(database)
    os.chmod(path, 0o400)
    try:
        _refused_honestly(*await _submit())
    finally:
        os.chmod(path, 0o600)
    assert CallbackStore(database, create=False).list() == []


async def test_submit_into_a_locked_database_is_refused_within_seconds_then_saved(database):
    locker = sqlite3.connect(_database_file(database), isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        _refused_honestly(*await _submit())
        assert time.monotonic() - started < BUSY_TIMEOUT_S + 3
    finally:
        locker.close()
    messages, _ = await _submit()
    assert messages[0]["response"] == "utter_callback_saved"


async def test_submit_into_a_database_that_was_never_migrated_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "callbacks.sqlite3"
    path.touch(mode=0o600)
    monkeypatch.setenv("RG_DATABASE_URL", f"sqlite:///{path}")
    actions.store.cache_clear()
    try:
        _refused_honestly(*await _submit())
    finally:
        actions.store.cache_clear()
    assert path.stat().st_size == 0


async def test_submit_when_no_database_was_ever_created_is_refused_and_creates_none(tmp_path, monkeypatch):
    path = tmp_path / "var" / "callbacks.sqlite3"
    monkeypatch.setenv("RG_DATABASE_URL", f"sqlite:///{path}")
    actions.store.cache_clear()
    try:
        _refused_honestly(*await _submit())
    finally:
        actions.store.cache_clear()
    assert not path.parent.exists()


async def test_control_characters_typed_into_the_form_are_never_kept():
    slots, _ = await run_validation(tracker("Je\x00ss\x1b[2J\u202e", requested="callback_name"))
    assert slots["callback_name"] == "Jess[2J"
    slots, _ = await run_validation(tracker("after 6\x00pm\r\nplease", requested="callback_time"))
    assert slots["callback_time"] == "after 6pm please"


async def test_nothing_is_stored_without_consent(database):
    dispatcher = CollectingDispatcher()
    await actions.ActionSubmitCallback().run(
        dispatcher, tracker(slots={**FILLED, "callback_consent": False}), DOMAIN
    )
    assert dispatcher.messages[0]["response"] == "utter_callback_declined"
    assert CallbackStore(database).list() == []


async def test_cancel_clears_everything_and_ends_the_form():
    dispatcher = CollectingDispatcher()
    events = await actions.ActionCancelCallback().run(dispatcher, tracker(slots=FILLED), DOMAIN)
    assert events[0] == ActiveLoop(None)
    assert SlotSet("callback_phone", None) in events
    assert dispatcher.messages[0]["response"] == "utter_callback_cancelled"


async def test_an_unclear_message_with_no_likely_answer_gets_the_plain_reply():
    message = {"intent_ranking": [{"name": "faq", "confidence": 0.2}],
               "response_selector": {"faq": {"ranking": [{"intent_response_key": "faq/cost", "confidence": 0.05}]}}}
    dispatcher = CollectingDispatcher()
    await ActionClarifyTopic().run(dispatcher, tracker("zzz", "nlu_fallback", extra_message=message,
                                                       active_loop=None), DOMAIN)
    assert [m["response"] for m in dispatcher.messages] == ["utter_default"]


async def test_unclear_questions_get_did_you_mean_buttons_with_topic_titles():
    domain = {"responses": {
        "utter_faq/cost": [{"text": "...", "metadata": {"title": "Is it free?"}}],
        "utter_faq/safety": [{"text": "...", "metadata": {"title": "Is it safe?"}}],
    }}
    message = {
        "intent_ranking": [{"name": "faq", "confidence": 0.4}],
        "response_selector": {"faq": {"ranking": [
            {"intent_response_key": "faq/cost", "confidence": 0.5},
            {"intent_response_key": "faq/safety", "confidence": 0.3},
            {"intent_response_key": "faq/what_is_rj", "confidence": 0.01},
        ]}},
    }
    dispatcher = CollectingDispatcher()
    await ActionClarifyTopic().run(dispatcher, tracker("money?", "nlu_fallback", extra_message=message,
                                                       active_loop=None), domain)
    [reply] = dispatcher.messages
    assert reply["response"] == "utter_did_you_mean"
    assert [b["payload"] for b in reply["buttons"]] == ["Is it free?", "Is it safe?", "/request_callback"]


