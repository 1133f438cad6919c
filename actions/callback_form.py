"""The callback form: validation, the consent and summary questions, submit and cancel.

The rules for each answer live in bot.callback_form; storage in bot.callbacks. These classes only
connect them to Rasa.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot import callback_form as form
from bot.callbacks import CallbackStore, StoreUnavailable
from bot.phone import PhoneNumberError, find_phone_number, normalise_uk_phone
from bot.settings import CONTACT_EMAIL, load_settings

logger = logging.getLogger(__name__)

MAX_PHONE_TRIES = 3


@functools.lru_cache(maxsize=1)
def store() -> CallbackStore:
    return CallbackStore.from_settings(load_settings())


def _intent(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def _requested(tracker: Tracker) -> Optional[str]:
    return tracker.get_slot("requested_slot")


def _clear_personal_slots() -> List[EventType]:
    return [SlotSet(slot, None) for slot in form.PERSONAL_SLOTS] + [SlotSet("requested_slot", None)]


class ValidateCallbackForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_callback_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        # Nothing else is asked once consent is declined or the phone number could not be used.
        if tracker.get_slot("callback_consent") is False or tracker.get_slot("callback_gave_up"):
            return []
        return domain_slots

    # --- extraction of typed answers ---
    # A message that is not an answer (a question, "stop", danger) is left unextracted: the form then
    # steps aside, the unhappy-path rules in data/rules/callback.yml answer it, and the form asks again.

    @staticmethod
    def _typed_answer(tracker: Tracker, slot: str) -> Dict[Text, Any]:
        if _requested(tracker) != slot or form.is_interruption(_intent(tracker), _text(tracker)):
            return {}
        return {slot: _text(tracker)}

    async def extract_callback_time(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return self._typed_answer(tracker, "callback_time")

    async def extract_callback_role(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return self._typed_answer(tracker, "callback_role")

    async def extract_callback_note(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return self._typed_answer(tracker, "callback_note")

    async def extract_callback_safe_to_identify(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        # "yes" and "no" are filled by the slot's from_intent mappings; a doubtful answer means "no".
        if _requested(tracker) != "callback_safe_to_identify" or _intent(tracker) in {"affirm", "deny"}:
            return {}
        text = _text(tracker)
        if form.is_interruption(_intent(tracker), text) or not form.unsure_about_voicemail(text):
            return {}
        return {"callback_safe_to_identify": False}

    async def extract_callback_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        requested, intent = _requested(tracker), _intent(tracker)
        entity = next(tracker.get_latest_entity_values("person_name"), None)
        if requested == "callback_name":
            answer = self._typed_answer(tracker, "callback_name")
            return {"callback_name": entity or answer["callback_name"]} if answer else {}
        if requested is None and intent == "request_callback" and entity and not tracker.get_slot("callback_name"):
            return {"callback_name": entity}
        return {}

    async def extract_callback_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        requested, intent, text = _requested(tracker), _intent(tracker), _text(tracker)
        has_digits = any(ch.isdigit() for ch in text)
        if requested == "callback_phone" and (has_digits or not form.is_interruption(intent, text)):
            return {"callback_phone": text}
        if requested is None and intent == "request_callback" and not tracker.get_slot("callback_phone"):
            found = find_phone_number(text)
            if found:
                return {"callback_phone": found}
        return {}

    # --- validation ---

    def validate_callback_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is True:
            # The key makes a retried or doubled submit of this one request store it once.
            return {"callback_consent": True, "callback_key": tracker.get_slot("callback_key") or uuid.uuid4().hex}
        return {"callback_consent": False}

    def validate_callback_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        checked = form.check_name(str(value or ""))
        if checked.problem and _requested(tracker) == "callback_name":
            dispatcher.utter_message(text=checked.problem)
        return {"callback_name": checked.value}

    def validate_callback_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        try:
            return {"callback_phone": normalise_uk_phone(str(value or "")), "callback_phone_failures": 0}
        except PhoneNumberError as error:
            if _requested(tracker) != "callback_phone":
                # A number picked out of the opening message that doesn't work is simply asked for later.
                return {"callback_phone": None}
            failures = int(tracker.get_slot("callback_phone_failures") or 0) + 1
            if failures >= MAX_PHONE_TRIES:
                dispatcher.utter_message(response="utter_callback_phone_gave_up")
                return {"callback_phone": None, "callback_phone_failures": failures, "callback_gave_up": True}
            dispatcher.utter_message(text=error.message)
            return {"callback_phone": None, "callback_phone_failures": failures}

    def validate_callback_safe_to_identify(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:
            return {"callback_safe_to_identify": None}
        # Doubt wins over a "yes" in the same breath ("yes maybe"): a wrong "safe" could put someone at risk.
        if form.unsure_about_voicemail(_text(tracker)):
            dispatcher.utter_message(response="utter_callback_voicemail_unsure")
            return {"callback_safe_to_identify": False}
        return {"callback_safe_to_identify": bool(value)}

    def validate_callback_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return self._checked("callback_time", form.check_time(str(value or "")), dispatcher)

    def validate_callback_role(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return self._checked("callback_role", form.check_role(str(value or "")), dispatcher)

    def validate_callback_note(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return self._checked("callback_note", form.check_note(str(value or "")), dispatcher)

    def validate_callback_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is True:
            return {"callback_confirmed": True}
        detail = next(tracker.get_latest_entity_values("detail"), None)
        slot = form.CORRECTABLE.get(str(detail).lower()) if detail else None
        if slot is None:
            # The summary is shown again with a button for each detail.
            return {"callback_confirmed": None}
        events: Dict[Text, Any] = {slot: None, "callback_confirmed": None}
        if slot == "callback_phone":
            events["callback_phone_failures"] = 0
        return events

    @staticmethod
    def _checked(slot: str, checked: form.Checked, dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
        if checked.problem:
            dispatcher.utter_message(text=checked.problem)
        return {slot: checked.value}


class ActionAskCallbackConsent(Action):
    def name(self) -> Text:
        return "action_ask_callback_consent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        days = load_settings().retention_days
        dispatcher.utter_message(
            response="utter_ask_callback_consent",
            retention_days=days,
        )
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
        if _intent(tracker) in {"deny", "correct_detail"}:
            text = "No problem. Which part would you like to change?\n\n" + text
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
