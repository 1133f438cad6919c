"""POST /chat: checks the widget's request and relays it to Rasa's REST channel on loopback.

Only text and buttons come back to the browser: anything else Rasa might attach (custom payloads, images,
recipient ids) is dropped. Message text and sender ids are never logged: people write about crimes here.
"""
from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, List, Optional

import aiohttp

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 1000
MAX_BUTTONS = 10
UPSTREAM_TIMEOUT_S = 30.0
# Button payloads are Rasa intent commands ("/affirm", '/correct_detail{"detail": "phone"}'). Anything
# else typed with a leading slash is passed on as ordinary text: Rasa logs the whole text of an intent
# command it cannot parse, and what people type here may be a phone number or worse.
_INTENT_COMMAND = re.compile(r'^/[a-z_]+(\{"[a-z_]+": ?"[a-z_]+"\})?$')
_SENDER = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class ChatError(Exception):
    def __init__(self, status: int, error: str, message: str):
        super().__init__(error)
        self.status = status
        self.error = error
        self.message = message

    def body(self) -> dict:
        return {"error": self.error, "message": self.message}


class Unavailable(Exception):
    """Rasa could not be reached or did not answer properly."""


def validate(body: Any) -> tuple[str, str]:
    if not isinstance(body, dict):
        raise ChatError(400, "bad_request", "Sorry, something went wrong sending that. Please try again.")
    sender, message = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not _SENDER.match(sender.lower()):
        raise ChatError(400, "bad_sender", "Sorry, something went wrong. Please reload the page and try again.")
    if not isinstance(message, str) or not message.strip():
        raise ChatError(400, "empty_message", "Please type a message first.")
    if len(message) > MAX_MESSAGE_CHARS:
        raise ChatError(
            413,
            "message_too_long",
            f"That message is a little long for me. Please keep it under {MAX_MESSAGE_CHARS} characters.",
        )
    message = message.strip()
    if message.startswith("/") and not _INTENT_COMMAND.match(message):
        message = message.lstrip("/ ") or "?"
    return sender.lower(), message


def _clean_buttons(raw: Any) -> List[dict]:
    buttons = []
    if not isinstance(raw, list):
        return buttons
    for item in raw[:MAX_BUTTONS]:
        if isinstance(item, dict) and isinstance(item.get("title"), str) and isinstance(item.get("payload"), str):
            buttons.append({"title": item["title"], "payload": item["payload"]})
    return buttons


def clean_messages(raw: Any) -> List[dict]:
    if not isinstance(raw, list):
        raise Unavailable("unexpected answer shape")
    messages = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        out: dict = {}
        if isinstance(item.get("text"), str) and item["text"]:
            out["text"] = item["text"]
        buttons = _clean_buttons(item.get("buttons"))
        if buttons:
            out["buttons"] = buttons
        if out:
            messages.append(out)
    return messages


class RasaClient:
    def __init__(self, rasa_url: str, timeout_s: float = UPSTREAM_TIMEOUT_S):
        self.url = rasa_url.rstrip("/") + "/webhooks/rest/webhook"
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: Optional[aiohttp.ClientSession] = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, sender: str, message: str) -> List[dict]:
        await self.start()
        assert self._session is not None
        try:
            async with self._session.post(self.url, json={"sender": sender, "message": message}) as resp:
                if resp.status != 200:
                    log.warning("Rasa answered HTTP %s", resp.status)
                    raise Unavailable(f"HTTP {resp.status}")
                payload = await resp.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            log.warning("Rasa could not be reached (%s)", type(exc).__name__)
            raise Unavailable(type(exc).__name__) from None
        return clean_messages(payload)
