"""Rasa's in-memory tracker store, made to forget.

Rasa starts a new session after `session_expiration_time`, but its in-memory store keeps every
earlier event, including whatever a person typed, for as long as the server runs. This store drops
a conversation once it has been idle for longer than that, so a phone number typed into an
abandoned form does not linger in memory.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, Optional, Text

from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker


class ForgetfulTrackerStore(InMemoryTrackerStore):
    def __init__(
        self,
        domain,
        host: Optional[Text] = None,  # noqa: ARG002  (Rasa passes the endpoint's url)
        event_broker=None,
        idle_minutes: float = 60,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, event_broker, **kwargs)
        self.idle_seconds = float(idle_minutes) * 60
        self._clock = clock
        self._last_active: Dict[Text, float] = {}

    def forget_idle(self) -> None:
        now = self._clock()
        for sender_id, last_active in list(self._last_active.items()):
            if now - last_active > self.idle_seconds:
                self.store.pop(sender_id, None)
                del self._last_active[sender_id]

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        self._last_active[tracker.sender_id] = self._clock()
        self.forget_idle()

    async def _retrieve(self, sender_id: Text, fetch_all_sessions: bool) -> Optional[DialogueStateTracker]:
        self.forget_idle()
        return await super()._retrieve(sender_id, fetch_all_sessions)
