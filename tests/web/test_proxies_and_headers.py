"""Who the client is behind a reverse proxy (for the sign-in throttle and the chat's limits), HSTS in production,
and the settings for both, on the real web app."""
from __future__ import annotations

import re
import uuid

import pytest
import requests

from bot.settings import CHAT_LIMIT_PER_ADDRESS, CHAT_LIMIT_PER_SENDER, SettingsError, load_settings
from bot.web.passwords import hash_password
from bot.web.security import HSTS
from support import RasaStandIn, make_settings, serve_app

PASSWORD = "a long staff password"
# With one message at once for each address, a second message shows whether two requests shared an address.
ONE_AT_A_TIME = {"chat_limit_per_address": 3}


@pytest.fixture(scope="module")
def rasa():
    with RasaStandIn() as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)


def chat(url: str, **headers) -> int:
    body = {"sender": str(uuid.uuid4()), "message": "hello"}
    return requests.post(url + "/chat", json=body, headers=headers, timeout=30).status_code


def same_address(url: str, first: dict, second: dict) -> bool:
    """Whether the app counted two requests with these headers as coming from one address."""
    assert chat(url, **first) == 200
    return chat(url, **second) == 429


def sign_in(url: str, password: str, **headers) -> int:
    client = requests.Session()
    form = client.get(url + "/staff/login", headers=headers).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    return client.post(url + "/staff/login", data={"csrf_token": token, "password": password}, headers=headers,
                       allow_redirects=False).status_code


# --- the client's address ---------------------------------------------------------------------------------------

def test_forged_forwarded_headers_are_ignored_by_default(tmp_path, rasa, monkeypatch):
    # Not even Sanic's own environment variables make the app believe a forwarded header.
    monkeypatch.setenv("SANIC_PROXIES_COUNT", "1")
    monkeypatch.setenv("SANIC_REAL_IP_HEADER", "X-Real-IP")
    with serve_app(make_settings(tmp_path / "db.sqlite3", rasa.url, **ONE_AT_A_TIME)) as web:
        assert web.app.config.PROXIES_COUNT is None and web.app.config.REAL_IP_HEADER is None
        assert same_address(web.url, {"X-Forwarded-For": "203.0.113.1"}, {"X-Forwarded-For": "203.0.113.2"})
    with serve_app(make_settings(tmp_path / "db2.sqlite3", rasa.url, **ONE_AT_A_TIME)) as web:
        assert same_address(web.url, {"X-Real-IP": "203.0.113.1"}, {"X-Real-IP": "203.0.113.2"})
    with serve_app(make_settings(tmp_path / "db3.sqlite3", rasa.url, **ONE_AT_A_TIME)) as web:
        assert same_address(web.url, {"Forwarded": "for=203.0.113.1"}, {"Forwarded": "for=203.0.113.2"})


def test_x_forwarded_for_is_honoured_with_the_setting(tmp_path, rasa):
    settings = make_settings(tmp_path / "db.sqlite3", rasa.url, proxies_count=1, **ONE_AT_A_TIME)
    with serve_app(settings) as web:
        assert not same_address(web.url, {"X-Forwarded-For": "203.0.113.1"}, {"X-Forwarded-For": "203.0.113.2"})
        # The proxy appends the address it saw; whatever the client wrote before it is not believed.
        assert same_address(web.url, {"X-Forwarded-For": "198.51.100.1, 203.0.113.3"},
                            {"X-Forwarded-For": "198.51.100.2, 203.0.113.3"})
        # A request that did not come through the proxy is counted by the address it came from.
        assert same_address(web.url, {}, {})


def test_real_ip_header_is_honoured_with_the_setting(tmp_path, rasa):
    settings = make_settings(tmp_path / "db.sqlite3", rasa.url, real_ip_header="X-Real-IP", **ONE_AT_A_TIME)
    with serve_app(settings) as web:
        assert not same_address(web.url, {"X-Real-IP": "203.0.113.1"}, {"X-Real-IP": "203.0.113.2"})
        assert same_address(web.url, {"X-Real-IP": "203.0.113.4"}, {"X-Real-IP": "203.0.113.4"})


def test_forwarded_header_needs_the_shared_secret(tmp_path, rasa):
    settings = make_settings(tmp_path / "db.sqlite3", rasa.url, forwarded_secret="s3cret", **ONE_AT_A_TIME)
    with serve_app(settings) as web:
        assert not same_address(web.url, {"Forwarded": "for=203.0.113.1;secret=s3cret"},
                                {"Forwarded": "for=203.0.113.2;secret=s3cret"})
        assert same_address(web.url, {"Forwarded": "for=203.0.113.5;secret=guess"},
                            {"Forwarded": "for=203.0.113.6;secret=other"})


@pytest.mark.parametrize("behind_proxy", [False, True])
def test_two_staff_behind_one_proxy(tmp_path, password_hash, behind_proxy):
    settings = make_settings(tmp_path / "db.sqlite3", staff_password_hash=password_hash,
                             proxies_count=1 if behind_proxy else 0)
    alice, bob = {"X-Forwarded-For": "203.0.113.10"}, {"X-Forwarded-For": "203.0.113.11"}
    with serve_app(settings) as web:
        assert [sign_in(web.url, f"guess {i}", **alice) for i in range(5)] == [401] * 5
        assert sign_in(web.url, PASSWORD, **alice) == 429
        # Behind a proxy Bob is not paused for Alice's typing; without the setting nobody can tell them apart.
        assert sign_in(web.url, PASSWORD, **bob) == (303 if behind_proxy else 429)
        assert list(web.app.ctx.login_throttle._failures) == (["203.0.113.10"] if behind_proxy else ["127.0.0.1"])


# --- HSTS ---------------------------------------------------------------------------------------------------------

def every_kind_of_response(url: str):
    sender = str(uuid.uuid4())
    yield "page", requests.get(url + "/", allow_redirects=False)
    for path in ("/about", "/embed", "/widget.js", "/widget.css", "/site.css", "/healthz", "/staff/login",
                 "/staff", "/staff/export.csv", "/no-such-page"):
        yield path, requests.get(url + path, allow_redirects=False)
    yield "chat", requests.post(url + "/chat", json={"sender": sender, "message": "hello"})
    yield "bad chat", requests.post(url + "/chat", json={"sender": "nope", "message": "hello"})
    yield "huge chat", requests.post(url + "/chat", data=b"{" + b" " * 100_000 + b"}",
                                     headers={"Content-Type": "application/json"})
    yield "wrong method", requests.get(url + "/chat")
    yield "preflight", requests.options(url + "/chat", headers={"Origin": url, "Access-Control-Request-Method": "POST"})
    yield "sign-in", requests.post(url + "/staff/login", data={"password": "x"}, allow_redirects=False)


def test_hsts_on_every_response_in_production(tmp_path, rasa, password_hash):
    settings = make_settings(tmp_path / "db.sqlite3", rasa.url, production=True, staff_password_hash=password_hash,
                             secret_key="k" * 40)
    with serve_app(settings) as web:
        responses = dict(every_kind_of_response(web.url))
    assert {name: r.headers.get("Strict-Transport-Security") for name, r in responses.items()} == {
        name: HSTS for name in responses}
    assert HSTS == "max-age=31536000"
    assert {r.status_code for r in responses.values()} >= {200, 204, 302, 400, 401, 404, 405, 413}


def test_no_hsts_in_development(tmp_path, rasa):
    with serve_app(make_settings(tmp_path / "db.sqlite3", rasa.url)) as web:
        responses = dict(every_kind_of_response(web.url))
    assert [name for name, r in responses.items() if "Strict-Transport-Security" in r.headers] == []


# --- settings -----------------------------------------------------------------------------------------------------

def test_edge_settings_defaults_and_values():
    defaults = load_settings({})
    assert (defaults.chat_limit_per_sender, defaults.chat_limit_per_address) == (30, 60)
    assert (CHAT_LIMIT_PER_SENDER, CHAT_LIMIT_PER_ADDRESS) == (30, 60)
    assert (defaults.proxies_count, defaults.real_ip_header, defaults.forwarded_secret) == (0, None, None)
    chosen = load_settings({"RG_CHAT_LIMIT_PER_SENDER": "12", "RG_CHAT_LIMIT_PER_ADDRESS": "600",
                            "RG_PROXIES_COUNT": "1", "RG_REAL_IP_HEADER": " X-Real-IP ",
                            "RG_FORWARDED_SECRET": "s3cret"})
    assert (chosen.chat_limit_per_sender, chosen.chat_limit_per_address) == (12, 600)
    assert (chosen.proxies_count, chosen.real_ip_header, chosen.forwarded_secret) == (1, "X-Real-IP", "s3cret")
    assert "s3cret" not in repr(chosen)


@pytest.mark.parametrize("env", [{"RG_CHAT_LIMIT_PER_SENDER": "0"}, {"RG_CHAT_LIMIT_PER_ADDRESS": "lots"},
                                 {"RG_PROXIES_COUNT": "-1"}])
def test_edge_settings_refuse_unusable_values(env):
    with pytest.raises(SettingsError, match=next(iter(env))):
        load_settings(env)
