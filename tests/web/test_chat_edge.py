"""POST /chat at the edge, on the real web app: rate limits, one message per visitor at a time, control characters,
and the notice after Rasa restarted and lost a conversation."""
from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bot.web.chat_proxy import (
    BOOT_HEADER,
    BUSY_MESSAGE,
    CONVERSATION_IDLE_S,
    LOST_CONVERSATION,
    MAX_TRACKED,
    TOO_FAST_MESSAGE,
    ChatError,
    RateLimit,
    RecentKeys,
    clean_text,
    validate,
)
from bot.web.staff_sessions import LoginThrottle
from support import RasaStandIn, make_settings, serve_app

LIFTED = 100_000  # a limit no test reaches, for tests about something else


class Clock:
    """Time that passes only when a test says so: the limits are real, a minute is not waited for."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def new_sender() -> str:
    return str(uuid.uuid4())


def chat(url: str, sender: str, message: str, **headers) -> requests.Response:
    return requests.post(url + "/chat", json={"sender": sender, "message": message}, headers=headers, timeout=30)


def poll(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "still not true after waiting"
        time.sleep(0.01)


def assert_too_fast(response: requests.Response, longest_s: int = 60) -> None:
    assert response.status_code == 429
    assert response.json() == {"error": "too_fast", "message": TOO_FAST_MESSAGE}
    assert "call 999" in TOO_FAST_MESSAGE
    assert 1 <= int(response.headers["Retry-After"]) <= longest_s
    assert response.headers["Cache-Control"] == "no-store"


@pytest.fixture(scope="module")
def rasa():
    with RasaStandIn() as stand_in:
        yield stand_in


@pytest.fixture()
def app_with(tmp_path, rasa):
    """Starts the real web app with these settings; stopped at the end of the test."""
    stack = []

    def start(**overrides):
        running = serve_app(make_settings(tmp_path / f"db{len(stack)}.sqlite3", rasa.url, **overrides))
        stack.append(running)
        return running.__enter__()

    yield start
    for running in reversed(stack):
        running.__exit__(None, None, None)


# --- rate limits ----------------------------------------------------------------------------------------------

def test_one_visitor_gets_a_burst_then_kind_refusals(app_with, rasa):
    web = app_with(chat_limit_per_address=LIFTED)  # the default per-visitor limit: 30 a minute, 10 at once
    clock = Clock()
    web.app.ctx.sender_limit.clock = clock
    sender = new_sender()
    before = len(rasa.received)
    codes = [chat(web.url, sender, f"message {i}").status_code for i in range(10)]
    assert codes == [200] * 10
    refused = chat(web.url, sender, "one too many", Origin=web.url)
    assert_too_fast(refused, longest_s=2)  # a message every 2 s at 30 a minute
    assert refused.headers["Access-Control-Allow-Origin"] == web.url  # the widget may read the kind words
    assert [r["message"] for r in rasa.received[before:]] == [f"message {i}" for i in range(10)]

    assert chat(web.url, new_sender(), "someone else").status_code == 200
    clock.now += 2.0  # one message's worth of time
    assert chat(web.url, sender, "after a pause").status_code == 200
    assert_too_fast(chat(web.url, sender, "again at once"))
    clock.now += 60.0
    assert [chat(web.url, sender, f"later {i}").status_code for i in range(11)] == [200] * 10 + [429]


def test_three_hundred_messages_from_one_visitor(app_with, rasa):
    web = app_with()
    sender = new_sender()
    before = len(rasa.received)
    started = time.monotonic()
    codes = [chat(web.url, sender, "flood").status_code for _ in range(300)]
    refilled = (time.monotonic() - started) / 2  # one message every 2 s
    assert set(codes) == {200, 429}
    assert 10 <= codes.count(200) <= 10 + refilled + 1
    assert len(rasa.received) - before == codes.count(200)


def test_one_address_is_limited_across_visitors(app_with, rasa):
    web = app_with(proxies_count=1)  # so that each test request can come from an address of its own
    behind = {"X-Forwarded-For": "203.0.113.7"}
    before = len(rasa.received)
    codes = [chat(web.url, new_sender(), "hello", **behind).status_code for _ in range(25)]
    assert codes == [200] * 20 + [429] * 5  # 60 a minute, 20 at once
    assert_too_fast(chat(web.url, new_sender(), "hello", **behind), longest_s=1)
    assert len(rasa.received) - before == 20
    assert chat(web.url, new_sender(), "hello", **{"X-Forwarded-For": "198.51.100.9"}).status_code == 200


def test_every_request_counts_against_its_address(app_with):
    web = app_with(chat_limit_per_address=3)  # 1 at once, then one every 20 s
    junk = requests.post(web.url + "/chat", data=b"{nope", headers={"Content-Type": "application/json"})
    assert junk.status_code == 400
    assert_too_fast(chat(web.url, new_sender(), "hello"), longest_s=20)


def test_ipv6_addresses_count_by_their_64(app_with):
    web = app_with(proxies_count=1, chat_limit_per_address=3)
    assert chat(web.url, new_sender(), "hi", **{"X-Forwarded-For": "2001:db8:1:2::1"}).status_code == 200
    assert chat(web.url, new_sender(), "hi", **{"X-Forwarded-For": "2001:db8:1:2:ffff::9"}).status_code == 429
    assert chat(web.url, new_sender(), "hi", **{"X-Forwarded-For": "2001:db8:1:3::1"}).status_code == 200
    assert chat(web.url, new_sender(), "hi", **{"X-Forwarded-For": "::ffff:192.0.2.1"}).status_code == 200
    assert chat(web.url, new_sender(), "hi", **{"X-Forwarded-For": "192.0.2.1"}).status_code == 429


def test_token_bucket_refills_and_says_when():
    clock = Clock()
    limit = RateLimit(30, clock=clock)
    assert [limit.take("a") for _ in range(10)] == [0.0] * 10
    assert limit.take("a") == pytest.approx(2.0)
    clock.now += 1.0
    assert limit.take("a") == pytest.approx(1.0)  # refused requests do not push the next one further away
    clock.now += 1.0
    assert limit.take("a") == 0.0
    assert limit.take("b") == 0.0


def test_limits_forget_quiet_keys_and_stay_bounded_under_a_flood():
    clock = Clock()
    limit = RateLimit(30, clock=clock)
    limit.take("quiet")
    clock.now += 20.0  # long enough for its allowance to be whole again
    limit.take("other")
    assert len(limit) == 1
    for i in range(MAX_TRACKED * 3):
        assert limit.take(f"flood-{i}") == 0.0
    assert len(limit) == MAX_TRACKED

    throttle = LoginThrottle(max_clients=100)
    for i in range(1000):
        throttle.failed(f"192.0.2.{i}")
    assert len(throttle._failures) == 100
    assert throttle.blocked("192.0.2.999") is False  # one failure is not five


# --- one message per visitor with Rasa at a time ------------------------------------------------------------

class HeldRasa:
    """Rasa's replies to messages starting "hold" wait until the test lets them go; it records the overlap."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.active = 0
        self.most_at_once = 0

    def __call__(self, message: str):
        with self.lock:
            self.active += 1
            self.most_at_once = max(self.most_at_once, self.active)
        if message.startswith("hold"):
            self.gate.wait(20)
        with self.lock:
            self.active -= 1
        return [{"text": f"answer to {message}"}]


@pytest.fixture()
def held():
    rasa_reply = HeldRasa()
    with RasaStandIn(reply=rasa_reply) as stand_in:
        stand_in.held = rasa_reply
        yield stand_in
        rasa_reply.gate.set()


def test_second_message_waits_its_turn_and_order_is_kept(tmp_path, held):
    settings = make_settings(tmp_path / "db.sqlite3", held.url, chat_limit_per_address=LIFTED)
    sender = new_sender()
    with serve_app(settings) as web, ThreadPoolExecutor(4) as pool:
        turns = web.app.ctx.turns
        first = pool.submit(chat, web.url, sender, "hold first")
        poll(lambda: [r["message"] for r in held.received] == ["hold first"])
        second = pool.submit(chat, web.url, sender, "hold second")
        poll(lambda: turns.in_progress(sender) == 2)
        third = pool.submit(chat, web.url, sender, "hold third")
        poll(lambda: turns.in_progress(sender) == 3)
        # One with Rasa and two waiting is as many as one visitor may have; the next is refused at once.
        assert_too_fast(chat(web.url, sender, "fourth"), longest_s=2)
        # Someone else is not held up by this visitor's queue.
        assert chat(web.url, new_sender(), "meanwhile").json()["messages"] == [{"text": "answer to meanwhile"}]
        assert [r["message"] for r in held.received if r["sender"] == sender] == ["hold first"]

        held.held.gate.set()
        replies = [future.result().json()["messages"][0]["text"] for future in (first, second, third)]
        assert replies == ["answer to hold first", "answer to hold second", "answer to hold third"]
        assert [r["message"] for r in held.received if r["sender"] == sender] == ["hold first", "hold second",
                                                                                 "hold third"]
        assert len(turns) == 0  # nothing is kept about a visitor once their messages are answered
    assert held.held.most_at_once <= 2  # the visitor's one, and "meanwhile" from someone else


def test_a_message_waits_only_so_long(tmp_path, held):
    settings = make_settings(tmp_path / "db.sqlite3", held.url)
    sender = new_sender()
    with serve_app(settings) as web, ThreadPoolExecutor(2) as pool:
        web.app.ctx.turns.wait_s = 0.3
        first = pool.submit(chat, web.url, sender, "hold on")
        poll(lambda: len(held.received) == 1)
        assert_too_fast(chat(web.url, sender, "are you there"), longest_s=2)
        held.held.gate.set()
        assert first.result().status_code == 200
    assert [r["message"] for r in held.received] == ["hold on"]


def test_past_the_messages_rasa_may_have_at_once_a_visitor_is_told_it_is_busy(tmp_path, held):
    settings = make_settings(tmp_path / "db.sqlite3", held.url, chat_limit_per_address=LIFTED, chat_max_in_flight=2)
    with serve_app(settings) as web, ThreadPoolExecutor(4) as pool:
        web.app.ctx.rasa_capacity.wait_s = 0.5
        first = pool.submit(chat, web.url, new_sender(), "hold one")
        second = pool.submit(chat, web.url, new_sender(), "hold two")
        poll(lambda: len(held.received) == 2)
        busy = chat(web.url, new_sender(), "anyone there")
        assert busy.status_code == 429 and busy.headers["Retry-After"] == "5"
        assert busy.json() == {"error": "busy", "message": BUSY_MESSAGE}
        assert "999" in BUSY_MESSAGE and "send it again" in BUSY_MESSAGE
        # A place that frees up in time is taken in turn; Rasa never has more than its share.
        waiting = pool.submit(chat, web.url, new_sender(), "hold three")
        held.held.gate.set()
        assert [f.result().status_code for f in (first, second, waiting)] == [200, 200, 200]
    assert held.held.most_at_once <= 2
    assert "anyone there" not in [r["message"] for r in held.received]


# --- control characters -----------------------------------------------------------------------------------------

def test_control_and_invisible_characters_are_removed_before_rasa(app_with, rasa):
    web = app_with()
    typed = ("  Hel\x00lo\x07 \u200bthere\u202e\r\nhow\tare\x85you\x9b\ufeff\U000e0041 ok\x7f\u2066 "
             "\ud800caf\u00e9 \U0001F642 \u00ad")
    response = chat(web.url, new_sender(), typed)
    assert response.status_code == 200
    assert rasa.received[-1]["message"] == "Hello there how are you ok caf\u00e9 \U0001F642"

    before = len(rasa.received)
    only_invisible = chat(web.url, new_sender(), "\u200b\x00\u202e\ufeff\x9b")
    assert only_invisible.status_code == 400 and only_invisible.json()["error"] == "empty_message"
    assert len(rasa.received) == before

    assert chat(web.url, new_sender(), "/affirm\u200b").status_code == 200
    assert rasa.received[-1]["message"] == "/affirm"


@pytest.mark.parametrize("typed, relayed", [
    ("line one\nline two", "line one line two"),
    ("tab\there", "tab here"),
    ("windows\r\nline", "windows line"),
    ("bell\x07", "bell"),
    ("c1\x80\x9f", "c1"),
    ("zero\u200bwidth\u200c\u200djoin\u2060", "zerowidthjoin"),
    ("\u202eright to left\u202c", "right to left"),
    ("para\u2029graph", "para graph"),
    ("ordinary text, with punctuation!", "ordinary text, with punctuation!"),
])
def test_clean_text(typed, relayed):
    assert clean_text(typed).strip() == relayed


def test_sender_must_be_the_whole_string():
    sender = new_sender()
    for forged in (sender + "\n", sender + "\x00", " " + sender):
        with pytest.raises(ChatError) as raised:
            validate({"sender": forged, "message": "hi"})
        assert raised.value.error == "bad_sender"


# --- a Rasa restart in the middle of a conversation --------------------------------------------------------------

@pytest.fixture()
def booting_rasa():
    """The stand-in, answering with the boot id of "its process" in the header Rasa's channel adds."""
    with RasaStandIn() as stand_in:
        stand_in.boot = "boot-1"
        base = stand_in.server.RequestHandlerClass

        class WithBootHeader(base):
            def end_headers(self) -> None:
                if stand_in.boot is not None:
                    self.send_header(BOOT_HEADER, stand_in.boot)
                super().end_headers()

        stand_in.server.RequestHandlerClass = WithBootHeader
        yield stand_in


def test_visitor_is_told_when_rasa_lost_their_conversation(tmp_path, booting_rasa, caplog):
    caplog.set_level(logging.INFO)
    settings = make_settings(tmp_path / "db.sqlite3", booting_rasa.url)
    sender, other = new_sender(), new_sender()
    private = "my number is 07700 900461"
    with serve_app(settings) as web:
        assert chat(web.url, sender, "hello").json()["messages"][0]["text"].startswith("Thanks. You wrote")
        assert len(chat(web.url, sender, "again").json()["messages"]) == 1

        booting_rasa.boot = "boot-2"  # Rasa restarted
        messages = chat(web.url, sender, private).json()["messages"]
        assert messages[0] == LOST_CONVERSATION
        assert messages[0]["buttons"] == [{"title": "Ask for a callback", "payload": "/request_callback"}]
        assert "lost track of our conversation" in messages[0]["text"] and "ask again" in messages[0]["text"]
        assert messages[1]["text"] == "Thanks. You wrote 25 characters.\nSecond line."  # Rasa's reply follows
        assert len(chat(web.url, sender, "and now").json()["messages"]) == 1  # told once

        # Someone whose first message reaches the new process has lost nothing.
        assert len(chat(web.url, other, "hello").json()["messages"]) == 1

        # No header (an older Rasa, or another channel in front): nothing changes.
        booting_rasa.boot = None
        assert len(chat(web.url, sender, "no header").json()["messages"]) == 1
        booting_rasa.boot = "boot-3"
        assert chat(web.url, sender, "after").json()["messages"][0] == LOST_CONVERSATION

    said = [r for r in caplog.records if "lost" in r.getMessage()]
    assert len(said) == 2
    logged = caplog.text
    assert sender not in logged and other not in logged and "07700" not in logged and private not in logged


def test_after_an_hour_of_silence_there_is_nothing_to_lose(tmp_path, booting_rasa):
    settings = make_settings(tmp_path / "db.sqlite3", booting_rasa.url)
    sender = new_sender()
    clock = Clock()
    with serve_app(settings) as web:
        web.app.ctx.rasa.clock = clock
        chat(web.url, sender, "hello")
        clock.now += CONVERSATION_IDLE_S  # Rasa forgets the conversation after an hour anyway
        booting_rasa.boot = "boot-2"
        assert len(chat(web.url, sender, "back again").json()["messages"]) == 1


def test_boot_memory_is_bounded():
    clock = Clock()
    boots: RecentKeys[str] = RecentKeys(idle_s=CONVERSATION_IDLE_S, max_keys=1000)
    for i in range(5000):
        boots.put(f"sender-{i}", "boot", clock.now)
    assert len(boots) == 1000
    assert boots.get("sender-0", clock.now) is None and boots.get("sender-4999", clock.now) == (clock.now, "boot")
    clock.now += CONVERSATION_IDLE_S
    assert boots.get("sender-4999", clock.now) is None and len(boots) == 0
