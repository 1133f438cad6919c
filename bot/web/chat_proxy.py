"""POST /chat: checks the widget's request, holds off floods, and relays it to Rasa's REST channel on loopback.

Only text and buttons come back to the browser: anything else Rasa might attach (custom payloads, images,
recipient ids) is dropped. The name of the response a message came from is kept for the web app's learning
(bot/learning/chat_observer.py), which takes it off before the reply leaves. Message text and sender ids are
never logged: people write about crimes here.

The limits are written here rather than taken from a library: none in the pinned environment does rate limits
for Sanic, and what is needed is small (token buckets and a per-visitor turn, both forgetting idle keys).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
import unicodedata
from collections import OrderedDict
from typing import Any, AsyncIterator, Callable, Dict, Generic, List, Optional, Tuple, TypeVar

import aiohttp

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 1000
MAX_BUTTONS = 10
UPSTREAM_TIMEOUT_S = 30.0
# The allowance a quiet visitor or address builds up: 20 seconds' worth (10 messages at 30 a minute).
BURST_S = 20.0
# How many visitors or addresses each limit remembers at most (a few MB); past that the longest-idle is forgotten.
MAX_TRACKED = 20_000
# A second message from one visitor waits while Rasa answers the first; a few may queue, for a few seconds.
MAX_WAITING_PER_SENDER = 2
TURN_WAIT_S = 10.0
# Rasa forgets a conversation after an hour of silence (bot/nlu/tracker_store.py), and so does the boot watch.
CONVERSATION_IDLE_S = 60 * 60
BOOT_HEADER = "X-RG-Rasa-Boot"
TOO_FAST_MESSAGE = (
    "You're sending messages faster than I can answer. Please wait a few seconds and try again. "
    "If you are in danger, call 999."
)
BUSY_MESSAGE = (
    "Lots of people are talking to me right now, so I couldn't answer that one. Nothing has been lost: "
    "please send it again in a moment. If you are in danger, call 999."
)
# How long a message may wait for a free place with Rasa before the visitor is told it is busy.
CAPACITY_WAIT_S = 5.0
LOST_CONVERSATION = {
    "text": (
        "Sorry, I lost track of our conversation because of a problem on our side. If you were in the middle of "
        "asking for a callback, it has not been sent: please ask again."
    ),
    "buttons": [{"title": "Ask for a callback", "payload": "/request_callback"}],
}
# Button payloads are Rasa intent commands ("/affirm", '/correct_detail{"detail": "phone"}'). Anything
# else typed with a leading slash is passed on as ordinary text: Rasa logs the whole text of an intent
# command it cannot parse, and what people type here may be a phone number or worse.
_INTENT_COMMAND = re.compile(r'^/[a-z_]+(\{"[a-z_]+": ?"[a-z_]+"\})?$')
_RESPONSE_NAME = re.compile(r"^utter_[a-z0-9_/]{1,80}$")
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


class TooFast(ChatError):
    def __init__(self, retry_after_s: float):
        super().__init__(429, "too_fast", TOO_FAST_MESSAGE)
        self.retry_after = str(max(1, math.ceil(retry_after_s)))


class Busy(ChatError):
    def __init__(self):
        super().__init__(429, "busy", BUSY_MESSAGE)
        self.retry_after = "5"


class RasaCapacity:
    """At most `limit` messages with Rasa at once; the next wait in order, briefly, then are told it is busy.

    Without it, a crowd's messages all go to Rasa, queue there behind each other's model inference, and time
    out together after UPSTREAM_TIMEOUT_S: nobody is answered, and a message that timed out here may still
    be acted on later. A quick, honest "busy, send it again" keeps the rest answered in good time.
    """

    def __init__(self, limit: int, wait_s: float = CAPACITY_WAIT_S):
        self.limit = limit
        self.wait_s = wait_s
        self._places = asyncio.Semaphore(limit)

    @contextlib.asynccontextmanager
    async def place(self) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._places.acquire(), self.wait_s)
        except asyncio.TimeoutError:
            raise Busy() from None
        try:
            yield
        finally:
            self._places.release()


_LINE_BREAKS = frozenset("\t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def clean_text(text: str) -> str:
    """Line breaks and tabs become spaces; other control characters and invisible format characters go.

    They carry nothing a reader can see, but can hide words from the danger net, break Rasa's logs, or
    reorder what staff would read (bidirectional overrides). Lone surrogates cannot even be encoded.
    """
    kept = []
    for char in text.replace("\r\n", "\n"):
        if char in _LINE_BREAKS:
            kept.append(" ")
        elif unicodedata.category(char) not in ("Cc", "Cf", "Cs"):
            kept.append(char)
    return "".join(kept)


def is_sender(value: str) -> bool:
    """A visitor id as the widget makes them: a random (version 4) UUID."""
    return bool(_SENDER.fullmatch(value.lower()))


def validate(body: Any) -> tuple[str, str]:
    if not isinstance(body, dict):
        raise ChatError(400, "bad_request", "Sorry, something went wrong sending that. Please try again.")
    sender, message = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not is_sender(sender):
        raise ChatError(400, "bad_sender", "Sorry, something went wrong. Please reload the page and try again.")
    message = clean_text(message).strip() if isinstance(message, str) else ""
    if not message:
        raise ChatError(400, "empty_message", "Please type a message first.")
    if len(message) > MAX_MESSAGE_CHARS:
        raise ChatError(
            413,
            "message_too_long",
            f"That message is a little long for me. Please keep it under {MAX_MESSAGE_CHARS} characters.",
        )
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
            name = item.get("utter_action")
            if isinstance(name, str) and _RESPONSE_NAME.match(name):
                out["utter_action"] = name
            messages.append(out)
    return messages


V = TypeVar("V")


class RecentKeys(Generic[V]):
    """A dict that forgets keys unused for `idle_s` and, past `max_keys`, the longest unused ones.

    Kept in order of last use, so forgetting looks only at the front: memory stays bounded under a flood.
    """

    def __init__(self, idle_s: float, max_keys: int = MAX_TRACKED):
        self.idle_s = idle_s
        self.max_keys = max_keys
        self._items: "OrderedDict[str, Tuple[float, V]]" = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str, now: float) -> Optional[Tuple[float, V]]:
        """(when it was last put, value), or None if it was never put or has been forgotten."""
        self._forget(now)
        return self._items.get(key)

    def put(self, key: str, value: V, now: float) -> None:
        self._items.pop(key, None)
        self._items[key] = (now, value)
        self._forget(now)

    def _forget(self, now: float) -> None:
        items = self._items
        while items and (len(items) > self.max_keys or now - next(iter(items.values()))[0] >= self.idle_s):
            items.popitem(last=False)


class RateLimit:
    """Token buckets by key: `per_minute` messages on average, and up to BURST_S seconds' worth at once.

    A bucket rather than a fixed window: a visitor who pressed three buttons in a row is not made to wait a
    whole minute, and there is no window edge at which twice the limit gets through.
    """

    def __init__(self, per_minute: int, *, max_keys: int = MAX_TRACKED, clock: Callable[[], float] = time.monotonic):
        self.rate = per_minute / 60.0
        self.burst = max(1.0, self.rate * BURST_S)
        self.clock = clock
        # A bucket left alone until it is full again is the same as no bucket at all.
        self._buckets: RecentKeys[float] = RecentKeys(idle_s=self.burst / self.rate, max_keys=max_keys)

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Uses one message of the key's allowance: 0 if it had one, otherwise the seconds until it will."""
        now = self.clock()
        last = self._buckets.get(key, now)
        tokens = self.burst if last is None else min(self.burst, last[1] + (now - last[0]) * self.rate)
        if tokens >= 1:
            self._buckets.put(key, tokens - 1, now)
            return 0.0
        self._buckets.put(key, tokens, now)
        return (1 - tokens) / self.rate


class _Turn:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class SenderTurns:
    """One message per visitor with Rasa at a time; the next few wait their turn in the order they came.

    Rasa works through one conversation's messages one at a time anyway, so a second message sent on at once
    would only wait inside Rasa holding a connection. Waiting here is bounded in number and time, and the
    visitor's messages still reach Rasa in the order they were sent (asyncio.Lock wakes waiters first come,
    first served). Only visitors with a message in progress are remembered.
    """

    def __init__(self, max_waiting: int = MAX_WAITING_PER_SENDER, wait_s: float = TURN_WAIT_S):
        self.max_waiting = max_waiting
        self.wait_s = wait_s
        self._turns: Dict[str, _Turn] = {}

    def __len__(self) -> int:
        return len(self._turns)

    def in_progress(self, sender: str) -> int:
        """This visitor's messages with Rasa or waiting for their turn."""
        turn = self._turns.get(sender)
        return turn.users if turn else 0

    @contextlib.asynccontextmanager
    async def turn(self, sender: str) -> AsyncIterator[None]:
        turn = self._turns.setdefault(sender, _Turn())
        if turn.users >= 1 + self.max_waiting:
            raise TooFast(2)
        turn.users += 1
        try:
            try:
                await asyncio.wait_for(turn.lock.acquire(), self.wait_s)
            except asyncio.TimeoutError:
                raise TooFast(2) from None
            try:
                yield
            finally:
                turn.lock.release()
        finally:
            turn.users -= 1
            if not turn.users:
                self._turns.pop(sender, None)


class RasaClient:
    def __init__(self, rasa_url: str, timeout_s: float = UPSTREAM_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic):
        self.url = rasa_url.rstrip("/") + "/webhooks/rest/webhook"
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: Optional[aiohttp.ClientSession] = None
        self.clock = clock
        # The Rasa process each visitor last talked to: when it changes, Rasa restarted and forgot them.
        self._boots: RecentKeys[str] = RecentKeys(idle_s=CONVERSATION_IDLE_S)

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
                boot = resp.headers.get(BOOT_HEADER)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            log.warning("Rasa could not be reached (%s)", type(exc).__name__)
            raise Unavailable(type(exc).__name__) from None
        messages = clean_messages(payload)
        if boot and self._restarted_since_last_time(sender, boot[:100]):
            log.warning("Rasa restarted during a conversation; the visitor was told it was lost")
            messages.insert(0, {"text": LOST_CONVERSATION["text"], "buttons": list(LOST_CONVERSATION["buttons"])})
        return messages

    def _restarted_since_last_time(self, sender: str, boot: str) -> bool:
        now = self.clock()
        last = self._boots.get(sender, now)
        self._boots.put(sender, boot, now)
        return last is not None and last[1] != boot
