"""Conversations are dropped from memory after the configured silence."""
from __future__ import annotations

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.nlu.tracker_store import ForgetfulTrackerStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def conversation(sender_id: str, text: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(sender_id, [UserUttered(text)])


async def test_an_idle_conversation_is_forgotten_and_an_active_one_kept():
    clock = Clock()
    store = ForgetfulTrackerStore(Domain.empty(), idle_minutes=60, clock=clock)
    await store.save(conversation("idle", "my number is 07400 900461"))
    clock.now += 30 * 60
    await store.save(conversation("active", "is it free?"))
    assert await store.retrieve("idle") is not None

    clock.now += 31 * 60  # "idle" has been silent for 61 minutes, "active" for 31
    assert await store.retrieve("idle") is None
    assert "idle" not in store.store
    assert (await store.retrieve("active")).latest_message.text == "is it free?"


async def test_rasa_builds_it_from_endpoints_yml(monkeypatch):
    from rasa.core.tracker_store import create_tracker_store
    from rasa.utils.endpoints import read_endpoint_config

    from bot.settings import PROJECT_ROOT

    monkeypatch.setenv("RG_ACTION_SERVER_TOKEN", "a-token")  # the file names it for the action endpoint
    config = read_endpoint_config(str(PROJECT_ROOT / "endpoints.yml"), "tracker_store")
    store = create_tracker_store(config, Domain.empty())
    assert isinstance(store, ForgetfulTrackerStore)
    assert store.idle_seconds == 3600
