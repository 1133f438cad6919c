"""What the assistant does with a message it is not sure about."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

# A possible emergency is answered as one even when the classifier is unsure: a needless
# 999 reminder costs little, a missed one could cost a great deal.
EMERGENCY_RESPONSES = {
    "emergency_danger": "utter_emergency_danger",
    "emergency_self_harm": "utter_emergency_self_harm",
}
EMERGENCY_MIN_CONFIDENCE = 0.15
SUGGESTION_MIN_CONFIDENCE = 0.1
MAX_SUGGESTIONS = 3


def possible_emergency(latest_message: Dict[str, Any]) -> Optional[str]:
    for candidate in latest_message.get("intent_ranking") or []:
        response = EMERGENCY_RESPONSES.get(candidate.get("name"))
        if response and (candidate.get("confidence") or 0) >= EMERGENCY_MIN_CONFIDENCE:
            return response
    return None


def topic_title(domain: DomainDict, response_key: str) -> Optional[str]:
    """The button title of an FAQ answer, kept in its metadata (data/responses/faq.yml)."""
    variations = (domain.get("responses") or {}).get(f"utter_{response_key}") or []
    for variation in variations:
        title = (variation.get("metadata") or {}).get("title")
        if title:
            return title
    return None


def suggested_titles(latest_message: Dict[str, Any], domain: DomainDict) -> List[str]:
    selector = (latest_message.get("response_selector") or {}).get("faq") or {}
    titles: List[str] = []
    for candidate in selector.get("ranking") or []:
        if (candidate.get("confidence") or 0) < SUGGESTION_MIN_CONFIDENCE:
            continue
        title = topic_title(domain, candidate.get("intent_response_key") or "")
        if title and title not in titles:
            titles.append(title)
        if len(titles) == MAX_SUGGESTIONS:
            break
    return titles


class ActionClarifyTopic(Action):
    def name(self) -> Text:
        return "action_clarify_topic"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        emergency = possible_emergency(tracker.latest_message)
        if emergency:
            dispatcher.utter_message(response=emergency)
        if tracker.active_loop_name:
            # The form asks its question again straight after this.
            dispatcher.utter_message(response="utter_callback_not_understood")
            return []
        if emergency:
            return []
        titles = suggested_titles(tracker.latest_message, domain)
        if not titles:
            dispatcher.utter_message(response="utter_default")
            return []
        buttons = [{"title": title, "payload": title} for title in titles]
        buttons.append({"title": "Ask for a callback", "payload": "/request_callback"})
        dispatcher.utter_message(response="utter_did_you_mean", buttons=buttons)
        return []
