"""The custom actions, run as the action server runs them, against a real SQLite database."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import callback_form as actions
from actions.clarify import ActionClarifyTopic
from bot.callbacks import CallbackStore
from bot.settings import PROJECT_ROOT

DOMAIN: Dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
FILLED = {
    "callback_consent": True,
    "callback_key": "k-1",
    "callback_name": "Jess",
    "callback_phone": "+447400900461",
    "callback_safe_to_identify": False,
    "callback_time": "evenings",
    "callback_role": "person_harmed",
    "callback_note": "skip",
    "callback_confirmed": True,
}


@pytest.fixture
def database(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'callbacks.sqlite3'}"
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
) -> Tracker:
    all_slots = {"requested_slot": requested, **(slots or {})}
    message = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or [],
               **(extra_message or {})}
    events = [{"event": "user", "text": text, "parse_data": message}]
    return Tracker("visitor", all_slots, message, events, False, None,
                   {"name": active_loop} if active_loop else {}, "action_listen")


async def run_validation(t: Tracker):
    dispatcher = CollectingDispatcher()
    events = await actions.ValidateCallbackForm().run(dispatcher, t, DOMAIN)
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}, dispatcher.messages


async def test_a_uk_number_in_any_format_is_stored_in_e164():
    slots, messages = await run_validation(tracker("+44 (0)7400 900-461", requested="callback_phone"))
    assert slots["callback_phone"] == "+447400900461"
    assert slots["callback_phone_failures"] == 0
    assert messages == []


async def test_an_invalid_number_gets_a_specific_explanation_and_another_try():
    slots, messages = await run_validation(tracker("0770090", requested="callback_phone"))
    assert slots["callback_phone"] is None
    assert slots["callback_phone_failures"] == 1
    assert len(messages) == 1 and messages[0]["text"]


async def test_the_third_invalid_number_offers_email_instead_of_looping():
    slots, messages = await run_validation(
        tracker("999", requested="callback_phone", slots={"callback_phone_failures": 2})
    )
    assert slots["callback_gave_up"] is True
    assert slots["requested_slot"] is None  # the form ends
    assert messages[-1]["response"] == "utter_callback_phone_gave_up"


async def test_name_and_number_are_picked_out_of_the_opening_message():
    t = tracker(
        "Hi I'm Dave, can someone ring me on 01452 496000",
        intent="request_callback",
        entities=[{"entity": "person_name", "value": "Dave", "start": 7, "end": 11}],
    )
    slots, messages = await run_validation(t)
    assert slots["callback_name"] == "Dave"
    assert slots["callback_phone"] == "+441452496000"
    assert messages == []


async def test_a_question_while_the_number_is_asked_is_left_to_the_rules():
    slots, _ = await run_validation(tracker("is it free?", intent="faq", requested="callback_phone"))
    assert "callback_phone" not in slots


async def test_consent_creates_the_key_that_makes_submitting_idempotent():
    t = tracker("yes", intent="affirm", requested="callback_consent")
    t.events.append({"event": "slot", "name": "callback_consent", "value": True})
    slots, _ = await run_validation(t)
    assert slots["callback_consent"] is True
    assert len(slots["callback_key"]) == 32


async def test_declining_consent_ends_the_form():
    t = tracker("no", intent="deny", requested="callback_consent")
    t.events.append({"event": "slot", "name": "callback_consent", "value": False})
    slots, _ = await run_validation(t)
    assert slots["callback_consent"] is False
    assert slots["requested_slot"] is None


async def test_changing_the_number_at_the_summary_asks_for_it_again():
    t = tracker("change my number", intent="correct_detail", requested="callback_confirmed", slots=FILLED,
                entities=[{"entity": "detail", "value": "phone"}])
    t.events.append({"event": "slot", "name": "callback_confirmed", "value": False})
    slots, _ = await run_validation(t)
    assert slots["callback_phone"] is None
    assert slots["callback_confirmed"] is None


async def test_submit_stores_once_and_then_gives_the_reference(database):
    dispatcher = CollectingDispatcher()
    events = await actions.ActionSubmitCallback().run(dispatcher, tracker(slots=FILLED), DOMAIN)
    store = CallbackStore(database)
    [record] = store.list()
    assert record.phone == "+447400900461" and record.safe_to_identify is False and record.note is None
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


async def test_a_possible_emergency_is_answered_as_one_even_when_unsure():
    message = {"intent_ranking": [{"name": "faq", "confidence": 0.4},
                                  {"name": "emergency_danger", "confidence": 0.3}]}
    dispatcher = CollectingDispatcher()
    await ActionClarifyTopic().run(dispatcher, tracker("he is here", "nlu_fallback", extra_message=message,
                                                       active_loop=None), DOMAIN)
    assert dispatcher.messages[0]["response"] == "utter_emergency_danger"


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


@pytest.mark.parametrize("text, intent", [("evenings", "inform"), ("is it confidential?", "faq")])
async def test_an_unrelated_answer_to_the_voicemail_question_leaves_it_unanswered(text, intent):
    slots, messages = await run_validation(tracker(text, intent=intent, requested="callback_safe_to_identify"))
    assert slots.get("callback_safe_to_identify") is None
    assert messages == []


async def test_a_clear_no_to_the_voicemail_question_needs_no_extra_reply():
    t = tracker("no", intent="deny", requested="callback_safe_to_identify",
                slots={"callback_safe_to_identify": False})
    # Rasa has already applied the slot's from_intent mapping when it calls the validation action.
    t.events.append({"event": "slot", "name": "callback_safe_to_identify", "value": False})
    slots, messages = await run_validation(t)
    assert slots["callback_safe_to_identify"] is False
    assert messages == []


@pytest.mark.parametrize("text", ["yes maybe", "yeah I think so, not sure"])
async def test_a_doubtful_yes_to_the_voicemail_question_is_taken_as_no(text):
    t = tracker(text, intent="affirm", requested="callback_safe_to_identify",
                slots={"callback_safe_to_identify": True})
    t.events.append({"event": "slot", "name": "callback_safe_to_identify", "value": True})
    slots, messages = await run_validation(t)
    assert slots["callback_safe_to_identify"] is False
    assert [m["response"] for m in messages] == ["utter_callback_voicemail_unsure"]
