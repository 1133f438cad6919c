"""One visitor talking to the running assistant through the website app, as the widget does.

The caller simulator also reads the conversation's state (the slot the form asked for) from Rasa's HTTP
API, which the evaluation's own Rasa server enables on loopback behind a random token.
"""
from __future__ import annotations

import json
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

TIMEOUT_S = 60


def _request(url: str, body: Optional[dict] = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        return json.loads(response.read())


@dataclass
class Visitor:
    web_url: str
    rasa_url: str
    api_token: str
    sender: str = field(default_factory=lambda: str(uuid.uuid4()))

    def say(self, text: str) -> List[dict]:
        """The messages of the reply; a reply that never came is a reply with no messages (a failure)."""
        try:
            return _request(f"{self.web_url}/chat", {"sender": self.sender, "message": text})["messages"]
        except (OSError, ValueError, KeyError):
            return []

    def tracker(self) -> Dict[str, Any]:
        query = urllib.parse.urlencode({"token": self.api_token})
        return _request(f"{self.rasa_url}/conversations/{self.sender}/tracker?{query}")

    def state(self) -> "FormState":
        tracker = self.tracker()
        loop = (tracker.get("active_loop") or {}).get("name")
        slots = tracker.get("slots") or {}
        return FormState(loop, slots.get("requested_slot") if loop else None, _answers_given(tracker))


@dataclass(frozen=True)
class FormState:
    active_loop: Optional[str]
    requested_slot: Optional[str]
    answers: List[str]  # the response names of the bot's last turn, e.g. utter_faq/cost


def _answers_given(tracker: Dict[str, Any]) -> List[str]:
    """Which responses the assistant gave since the visitor's last message (for the failure listing)."""
    names: List[str] = []
    for event in reversed(tracker.get("events") or []):
        if event.get("event") == "user":
            break
        if event.get("event") == "bot":
            metadata = event.get("metadata") or {}
            names.append(metadata.get("utter_action") or metadata.get("template_name") or "(custom text)")
    return list(reversed(names))
