"""The callback form: reading each reply, the consent and summary questions, submit and cancel.

The rules for reading an answer live in bot.callbacks.form_rules; storage in bot.callbacks.store. These classes only
connect them to Rasa.

Every turn while the form is active, the message is first sorted: a danger message or a question is left
unread (the form then steps aside, the rules in data/rules/callback.yml answer it, and the form asks its
question again); a cancellation ends the form in any words at any step; a UK number anywhere is kept as the
number (volunteered early, or a correction); otherwise the text is read as the answer to the question just
asked. An answer that cannot be used is explained once; after a second miss the form never asks the same
question a third time but settles it (a safe default) or offers the email address instead.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import re
import uuid
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.callbacks import form_rules as form
from bot.callbacks.phone import PhoneNumberError, find_phone_number, normalise_uk_phone
from bot.callbacks.store import CallbackStore, StoreUnavailable
from bot.nlu.danger import DANGER_SOURCE
from bot.settings import CONTACT_EMAIL, load_settings

logger = logging.getLogger(__name__)

MAX_MISSES = 2  # a question is never asked a third time after two answers that could not be used
# A message that reads as a question is answered as one when the classifier is at least this sure of it.
QUESTION_CONFIDENCE = 0.5
EMERGENCY_INTENTS = {"emergency_danger", "emergency_self_harm"}
# Intents whose message, when it reads as a question, is a question rather than an answer.
QUESTION_INTENTS = {"faq", "out_of_scope", "ask_privacy", "request_callback", "greet", "thanks", "nlu_fallback"}
YES_NO_SLOTS = {"callback_consent", "callback_safe_to_identify", "callback_confirmed"}
FREE_TEXT_SLOTS = {"callback_time", "callback_role", "callback_note"}
NOT_UNDERSTOOD = "__not_understood__"  # an answer given but unreadable: a miss, explained by validation
# "Stop", "I've changed my mind", "scrap all that", in any words: put in the slot just asked for, so that its
# validation ends the form (rasa-sdk keeps only the extracted values of the form's own slots).
CANCELLED = "__cancelled__"


@functools.lru_cache(maxsize=1)
def store() -> CallbackStore:
    return CallbackStore.from_settings(load_settings())


def _intent(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _confidence(tracker: Tracker) -> float:
    return float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0)


def _text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def _requested(tracker: Tracker) -> Optional[str]:
    return tracker.get_slot("requested_slot")


def _is_button(tracker: Tracker) -> bool:
    """Buttons send intent commands such as /affirm; they are read by their intent, not their text."""
    return _text(tracker).startswith("/")


def _previous_user_message(tracker: Tracker) -> Optional[Dict[str, Any]]:
    users = [event for event in tracker.events if event.get("event") == "user"]
    return users[-2] if len(users) >= 2 else None


def _clear_personal_slots() -> List[EventType]:
    return [SlotSet(slot, None) for slot in form.PERSONAL_SLOTS] + [SlotSet("requested_slot", None)]


class ValidateCallbackForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_callback_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        # Nothing else is asked once the person cancelled or an answer could not be used twice, or consent is
        # declined (consent itself stays required so that a "no" just read out of the message is validated).
        if tracker.get_slot("callback_gave_up") or tracker.get_slot("callback_cancelled"):
            return []
        if tracker.get_slot("callback_consent") is False:
            return ["callback_consent"]
        return domain_slots

    # --- what kind of message this is ---

    @classmethod
    def _is_emergency(cls, tracker: Tracker) -> bool:
        if _intent(tracker) not in EMERGENCY_INTENTS:
            return False
        if tracker.latest_message.get(DANGER_SOURCE) != "classifier":
            return True
        # Only the classifier thought it might be an emergency: a clear answer to the question just asked
        # ("I'm the victim" when asked who you are) is that answer, and so is the same message sent again
        # straight after the emergency reply. The words themselves never describe danger here.
        previous = _previous_user_message(tracker)
        repeated = bool(previous and previous.get("text") == _text(tracker)
                        and ((previous.get("parse_data") or {}).get("intent") or {}).get("name") in EMERGENCY_INTENTS)
        return not (repeated or cls._clear_answer(tracker))

    @classmethod
    def _clear_answer(cls, tracker: Tracker) -> bool:
        requested, text = _requested(tracker), _text(tracker)
        if requested in YES_NO_SLOTS:
            return cls._yes_no(tracker) is not None
        if requested == "callback_phone":
            return find_phone_number(text) is not None
        if requested == "callback_role":
            return form.check_role(text).value not in (None, "other")
        if requested == "callback_name":
            return bool(re.fullmatch(r"[^\W\d_][\w'\-]*(?: [^\W\d_][\w'\-]*){0,2}", text.strip()))
        return False  # a time or a note can be anything, so it is never taken over a possible emergency

    @classmethod
    def _steps_aside(cls, tracker: Tracker) -> bool:
        """Danger, or a question rather than an answer: the form leaves it to the rules."""
        intent, text = _intent(tracker), _text(tracker)
        if cls._is_emergency(tracker):
            return True
        if intent in EMERGENCY_INTENTS:
            return False  # a clear answer that only looked like an emergency to the classifier
        if _is_button(tracker):
            return intent not in {"affirm", "deny", "stop", "correct_detail", "inform"}
        if find_phone_number(text):
            return False  # a number is always for the form, even inside a question ("can you use 020 ...?")
        requested = _requested(tracker)
        if requested in YES_NO_SLOTS and ValidateCallbackForm._yes_no(tracker) is not None:
            return False
        if requested == "callback_phone" and any(ch.isdigit() for ch in text):
            return False
        free_text = requested in FREE_TEXT_SLOTS
        if intent == "request_callback" and not free_text:
            return True  # "can someone call me?" again: the rules say it is already in hand
        if not form.looks_like_a_question(text):
            return intent in {"greet", "thanks"} and requested == "callback_name"
        # A time, a role or a note may be a question for the team ("could they ring after 6?"): only a question
        # the classifier is sure of is answered instead. Elsewhere a longer question is never the answer.
        sure = _confidence(tracker) >= QUESTION_CONFIDENCE
        return intent in QUESTION_INTENTS and (sure or (not free_text and len(text.split()) > 4))

    @staticmethod
    def _yes_no(tracker: Tracker) -> Optional[bool]:
        if _is_button(tracker):
            return {"affirm": True, "deny": False}.get(_intent(tracker) or "")
        if _requested(tracker) == "callback_safe_to_identify":
            return form.voicemail_is_safe(_text(tracker))
        if _requested(tracker) == "callback_confirmed":
            return form.confirms_sending(_text(tracker))
        return form.yes_or_no(_text(tracker))

    @staticmethod
    def _cancels(tracker: Tracker) -> bool:
        if _intent(tracker) == "stop" and _is_button(tracker):
            return True
        text = _text(tracker)
        return form.wants_to_cancel(text) or (_intent(tracker) == "goodbye" and len(text.split()) <= 4)

    def _answer(self, tracker: Tracker, slot: str) -> Dict[Text, Any]:
        """The typed answer for `slot` when it is the one just asked, else nothing."""
        if _requested(tracker) != slot or self._is_emergency(tracker):
            return {}
        if self._cancels(tracker):
            return {slot: CANCELLED}
        if self._steps_aside(tracker):
            return {}
        return {slot: _text(tracker)}

    def _yes_no_answer(self, tracker: Tracker, slot: str) -> Dict[Text, Any]:
        """The answer to a yes-or-no question just asked: True, False, NOT_UNDERSTOOD or CANCELLED."""
        answer = self._answer(tracker, slot)
        if answer and answer[slot] != CANCELLED:
            said = self._yes_no(tracker)
            answer[slot] = NOT_UNDERSTOOD if said is None else said
        return answer

    # --- extraction: what this message says about each detail ---

    async def extract_callback_consent(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return self._yes_no_answer(tracker, "callback_consent")

    async def extract_callback_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        requested = _requested(tracker)
        if requested is None and _intent(tracker) == "request_callback" and not tracker.get_slot("callback_name"):
            offered = form.offered_name(_text(tracker))  # "Hi, I'm Sarah, could someone ring me?"
            return {"callback_name": offered} if offered else {}
        answer = self._answer(tracker, "callback_name")
        if answer and answer["callback_name"] != CANCELLED and find_phone_number(answer["callback_name"]):
            # "Sam, 0113 496 0214": the name is taken if one is there; the number is read by its own slot.
            offered = form.offered_name(answer["callback_name"]) or form.check_name(answer["callback_name"]).value
            return {"callback_name": offered} if offered else {}
        return answer

    async def extract_callback_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        requested, text = _requested(tracker), _text(tracker)
        if requested == "callback_phone":
            return self._answer(tracker, "callback_phone")
        if requested is None:
            found = find_phone_number(text) if _intent(tracker) == "request_callback" else None
            return {"callback_phone": found} if found else {}
        if _is_button(tracker) or self._cancels(tracker) or self._steps_aside(tracker):
            return {}
        # A number given before it was asked for, or a corrected one ("wait, it's ... not ...").
        found = find_phone_number(text)
        if found and found != tracker.get_slot("callback_phone"):
            if tracker.get_slot("callback_phone"):
                dispatcher.utter_message(text=f"Thanks, I've changed the number to {form.display_phone(found)}.")
            return {"callback_phone": found}
        return {}

    async def extract_callback_safe_to_identify(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        answer = self._yes_no_answer(tracker, "callback_safe_to_identify")
        if answer.get("callback_safe_to_identify") == NOT_UNDERSTOOD and find_phone_number(_text(tracker)):
            return {}  # only a corrected number: the voicemail question is asked again
        return answer

    async def extract_callback_time(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if _requested(tracker) is None and _intent(tracker) == "request_callback":
            offered = form.offered_time(_text(tracker))  # "Best time: lunchtime"
            return {"callback_time": offered} if offered else {}
        return self._unless_only_a_number(tracker, self._answer(tracker, "callback_time"))

    async def extract_callback_role(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return self._unless_only_a_number(tracker, self._answer(tracker, "callback_role"))

    async def extract_callback_note(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return self._unless_only_a_number(tracker, self._answer(tracker, "callback_note"))

    @staticmethod
    def _unless_only_a_number(tracker: Tracker, answer: Dict[Text, Any]) -> Dict[Text, Any]:
        """A message that corrects the number is not also the answer to the question asked."""
        if answer and CANCELLED not in answer.values() and find_phone_number(_text(tracker)):
            return {}
        return answer

    async def extract_callback_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        answer = self._answer(tracker, "callback_confirmed")
        if not answer or answer["callback_confirmed"] == CANCELLED:
            return answer
        if _intent(tracker) == "correct_detail" or find_phone_number(_text(tracker)):
            return {"callback_confirmed": False}
        said = self._yes_no(tracker)
        return {"callback_confirmed": NOT_UNDERSTOOD if said is None and not form.detail_to_change(_text(tracker))
                else bool(said)}

    # --- validation ---

    @staticmethod
    def _cancelled(slot: str) -> Dict[Text, Any]:
        return {slot: None, "callback_cancelled": True}

    def _missed(self, slot: str, tracker: Tracker, dispatcher: CollectingDispatcher, problem: Optional[str],
                settle: Optional[Any] = None, settled_message: Optional[str] = None) -> Dict[Text, Any]:
        """An answer that could not be used: explained the first time, settled the second."""
        misses = dict(tracker.get_slot("callback_misses") or {})
        misses[slot] = misses.get(slot, 0) + 1
        if misses[slot] >= MAX_MISSES and settled_message is not None:
            dispatcher.utter_message(**({"response": settled_message} if settled_message.startswith("utter_")
                                        else {"text": settled_message}))
            return {slot: settle, "callback_misses": misses}
        if problem:
            dispatcher.utter_message(text=problem)
        return {slot: None, "callback_misses": misses}

    def _missed_or_give_up(self, slot: str, tracker: Tracker, dispatcher: CollectingDispatcher,
                           problem: Optional[str]) -> Dict[Text, Any]:
        """A name or number that could not be used: explained the first time; the second, the email instead."""
        missed = self._missed(slot, tracker, dispatcher, problem)
        if missed["callback_misses"][slot] >= MAX_MISSES:
            dispatcher.utter_message(response="utter_callback_gave_up")
            missed["callback_gave_up"] = True
        return missed

    def validate_callback_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is True:
            # The key makes a retried or doubled submit of this one request store it once.
            return {"callback_consent": True, "callback_key": tracker.get_slot("callback_key") or uuid.uuid4().hex}
        if value is False or value == CANCELLED:
            return {"callback_consent": False}
        return self._missed("callback_consent", tracker, dispatcher,
                            "Sorry, I'm not sure whether that's a yes. Is it OK for me to keep these details so "
                            "the team can call you? You can press a button below.",
                            settle=False, settled_message="utter_callback_not_sure_consent")

    def validate_callback_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value == CANCELLED:
            return self._cancelled("callback_name")
        if _requested(tracker) != "callback_name":
            return {"callback_name": form.check_name(str(value or "")).value}
        checked = form.check_name(str(value or ""))
        if checked.value:
            return {"callback_name": checked.value}
        return self._missed_or_give_up("callback_name", tracker, dispatcher, checked.problem)

    def validate_callback_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value == CANCELLED:
            return self._cancelled("callback_phone")
        try:
            return {"callback_phone": normalise_uk_phone(str(value or ""))}
        except PhoneNumberError as error:
            if _requested(tracker) != "callback_phone":
                return {"callback_phone": None}  # a number picked out of another message is asked for later
            return self._missed_or_give_up("callback_phone", tracker, dispatcher, error.message)

    def validate_callback_safe_to_identify(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value == CANCELLED:
            return self._cancelled("callback_safe_to_identify")
        if value is True or value is False:
            if value is False and not _is_button(tracker) and form.unsure_about_voicemail(_text(tracker)):
                dispatcher.utter_message(response="utter_callback_voicemail_unsure")
            return {"callback_safe_to_identify": value}
        # Unclear twice: noted as not safe, because a message left when it was not safe cannot be taken back.
        return self._missed("callback_safe_to_identify", tracker, dispatcher,
                            "Sorry, I didn't catch whether that's a yes or a no.",
                            settle=False, settled_message="utter_callback_voicemail_unsure")

    def validate_callback_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value == CANCELLED:
            return self._cancelled("callback_time")
        checked = form.check_time(str(value or ""))
        if checked.value:
            return {"callback_time": checked.value}
        return self._missed(
            "callback_time", tracker, dispatcher, checked.problem, settle=form.NO_TIME_GIVEN,
            settled_message="That's fine, I'll leave the time open and the team will try when they can.")

    def validate_callback_role(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value == CANCELLED:
            return self._cancelled("callback_role")
        checked = form.check_role(str(value or ""))
        if checked.value:
            return {"callback_role": checked.value}
        return self._missed("callback_role", tracker, dispatcher, checked.problem, settle=form.SKIP,
                            settled_message="No problem, I'll leave that out.")

    def validate_callback_note(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value == CANCELLED:
            return self._cancelled("callback_note")
        if not _is_button(tracker) and form.yes_or_no(str(value or "")) is True and len(str(value).split()) <= 3:
            # "yes" to "anything you'd like the team to know?": the note itself comes next.
            dispatcher.utter_message(text="Go ahead: what would you like the team to know?")
            return {"callback_note": None}
        checked = form.check_note(str(value or ""))
        if checked.value:
            return {"callback_note": checked.value}
        return self._missed("callback_note", tracker, dispatcher, checked.problem, settle=form.SKIP,
                            settled_message="I've left the note out: you can tell the facilitator on the phone.")

    def validate_callback_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is True:
            return {"callback_confirmed": True}
        if value == CANCELLED:
            return self._cancelled("callback_confirmed")
        if value == NOT_UNDERSTOOD:
            return self._missed("callback_confirmed", tracker, dispatcher, "Sorry, I couldn't tell whether to send it.")
        detail = next(tracker.get_latest_entity_values("detail"), None)
        if detail is None and not find_phone_number(_text(tracker)):
            detail = form.detail_to_change(_text(tracker))
        slot = form.CORRECTABLE.get(str(detail).lower()) if detail else None
        if slot is None:
            # A corrected number is already in; otherwise the summary asks which part to change.
            return {"callback_confirmed": None}
        return {slot: None, "callback_confirmed": None}


class ActionAskCallbackConsent(Action):
    def name(self) -> Text:
        return "action_ask_callback_consent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(response="utter_ask_callback_consent", retention_days=load_settings().retention_days)
        return []


class ActionAskCallbackConfirmed(Action):
    def name(self) -> Text:
        return "action_ask_callback_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        buttons = [
            {"title": "Yes, send it", "payload": "/affirm"},
            {"title": "Change name", "payload": '/correct_detail{"detail": "name"}'},
            {"title": "Change number", "payload": '/correct_detail{"detail": "phone"}'},
            {"title": "Change voicemail choice", "payload": '/correct_detail{"detail": "voicemail"}'},
            {"title": "Change time", "payload": '/correct_detail{"detail": "time"}'},
            {"title": "Change note", "payload": '/correct_detail{"detail": "note"}'},
            {"title": "Cancel, don't send", "payload": "/stop"},
        ]
        text = form.summary(tracker.current_slot_values())
        said_no = _intent(tracker) in {"deny", "correct_detail"} or ValidateCallbackForm._yes_no(tracker) is False
        if _requested(tracker) == "callback_confirmed" and said_no and not find_phone_number(_text(tracker)):
            text = "No problem. Which part would you like to change?\n\n" + text
        elif (tracker.get_slot("callback_misses") or {}).get("callback_confirmed", 0) >= MAX_MISSES:
            text += f"\n\nNothing has been sent yet. Please use a button below, or email {CONTACT_EMAIL} instead."
        dispatcher.utter_message(text=text, buttons=buttons)
        return []


class ActionSubmitCallback(Action):
    """Runs when the form ends: stores a confirmed request, or explains why nothing was stored."""

    def name(self) -> Text:
        return "action_submit_callback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        slots = tracker.current_slot_values()
        if slots.get("callback_gave_up"):
            return _clear_personal_slots()
        if slots.get("callback_cancelled"):
            dispatcher.utter_message(response="utter_callback_cancelled")
            return _clear_personal_slots()
        if slots.get("callback_consent") is not True:
            dispatcher.utter_message(response="utter_callback_declined")
            return _clear_personal_slots()
        if slots.get("callback_confirmed") is not True:
            dispatcher.utter_message(response="utter_callback_cancelled")
            return _clear_personal_slots()
        try:
            details = form.details_from_slots(slots)
            reference = await asyncio.to_thread(store().submit, slots["callback_key"], details)
        except (StoreUnavailable, ValueError):
            # Nothing was stored: the details stay in this conversation so "Try again" can resend them
            # under the same key, and the person is told plainly.
            logger.error("A callback request could not be stored")
            dispatcher.utter_message(response="utter_callback_store_failed", email=CONTACT_EMAIL)
            return []
        dispatcher.utter_message(response="utter_callback_saved", reference=reference, person_name=details.name)
        return _clear_personal_slots()


class ActionCancelCallback(Action):
    def name(self) -> Text:
        return "action_cancel_callback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(response="utter_callback_cancelled")
        return [ActiveLoop(None)] + _clear_personal_slots()


class ActionAnswerPrivacy(Action):
    """What this chat keeps, with the retention period as configured (RG_RETENTION_DAYS)."""

    def name(self) -> Text:
        return "action_answer_privacy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        settings = load_settings()
        # The answer must say what this deployment does: the test of RG_LEARNING checks both agree.
        response = "utter_privacy_learning" if settings.learning else "utter_privacy"
        dispatcher.utter_message(response=response, retention_days=settings.retention_days,
                                 learning_days=settings.learning_days)
        return []
