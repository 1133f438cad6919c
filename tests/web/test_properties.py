"""Every public HTTP endpoint of the web app, served for real, given whatever hypothesis can think of.

Whatever arrives, the answer is a sensible 2xx, 3xx or 4xx, never a server error or a traceback; the chat
endpoint always answers JSON the widget can show; signed-out requests never see a callback request.
"""
from __future__ import annotations

import http.client
import json
import re
import unicodedata
import uuid
from typing import Dict, Optional, Tuple
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.callbacks.store import CallbackDetails, CallbackStore
from bot.web.chat_proxy import MAX_MESSAGE_CHARS
from bot.web.passwords import hash_password
from support import RasaStandIn, make_settings, serve_app

# Enough examples to find the odd one out, few enough that the file runs in seconds; nothing saved between runs.
FEW = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

PUBLIC_PAGES = ["/", "/about", "/embed", "/widget.js", "/widget.css", "/site.css", "/healthz"]
STAFF_PATHS = ["/staff", "/staff/", "/staff/login", "/staff/logout", "/staff/export.csv", "/staff/requests/RG-AAAAAA",
               "/staff/requests/RG-AAAAAA/status"]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
PHONE = "+447700900987"

# What a URL or a header can carry on the wire (http.client refuses control characters and spaces there).
url_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="#"), max_size=60)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                      max_size=80).map(str.strip)
any_text = st.text(st.characters(exclude_categories=()), max_size=60)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=12,
)


class Reply:
    def __init__(self, status: int, headers: Dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


def send(url: str, method: str, target: str, body: Optional[bytes] = None, headers: Optional[dict] = None,
         chunked: bool = False) -> Reply:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        payload = iter([body[i:i + 16384] for i in range(0, len(body), 16384)]) if chunked and body else body
        connection.request(method, target, body=payload, headers=headers or {}, encode_chunked=chunked)
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def assert_sensible(reply: Reply) -> None:
    assert 200 <= reply.status < 500, (reply.status, reply.body[:300])
    for sign in (b"Traceback", b'File "', b"Exception", b"Error while handling"):
        assert sign not in reply.body, reply.body[:300]
    assert PHONE.encode() not in reply.body


def assert_chat_json(reply: Reply) -> dict:
    assert_sensible(reply)
    assert reply.headers["content-type"].startswith("application/json"), reply.headers
    answer = reply.json()
    if reply.status == 200:
        assert isinstance(answer["messages"], list)
    else:
        assert isinstance(answer["error"], str) and isinstance(answer["message"], str) and answer["message"]
    return answer


@pytest.fixture(scope="module")
def rasa():
    with RasaStandIn() as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def web(tmp_path_factory, rasa):
    folder = tmp_path_factory.mktemp("properties")
    store = CallbackStore(f"sqlite:///{folder / 'callbacks.sqlite3'}", retention_days=90)
    store.submit("properties", CallbackDetails(name="Robin Example", phone=PHONE, safe_to_identify=True,
                                               best_time="Any time", role="person_harmed"))
    # The limits have tests of their own; here every request should reach the code that reads it.
    settings_ = make_settings(folder / "unused.sqlite3", rasa.url, staff_password_hash=hash_password("pw-not-tried"),
                              chat_limit_per_sender=1_000_000, chat_limit_per_address=1_000_000)
    with serve_app(settings_, store) as running:
        yield running
    store.close()


def query_string(pairs, raw: str) -> str:
    parts = [p for p in (urlencode(pairs, errors="surrogatepass"), raw) if p]
    return ("?" + "&".join(parts)) if parts else ""


# --- public pages -------------------------------------------------------------------------------------------------

@MANY
@given(path=st.sampled_from(PUBLIC_PAGES), method=st.sampled_from(["GET", "HEAD"]),
       pairs=st.dictionaries(any_text, any_text, max_size=3), raw=url_text,
       extra=st.dictionaries(st.sampled_from(["If-None-Match", "Origin", "Accept", "Cookie", "Accept-Encoding",
                                              "Range", "X-Forwarded-For", "Forwarded", "Referer"]),
                             header_text, max_size=4))
def test_public_pages_answer_anything_sensibly(web, path, method, pairs, raw, extra):
    reply = send(web.url, method, path + query_string(pairs, raw), headers=extra)
    assert_sensible(reply)
    assert reply.status in (200, 304)
    if path == "/healthz" and method == "GET":
        assert reply.json() == {"status": "ok"}


@FEW
@given(path=st.sampled_from(PUBLIC_PAGES + ["/chat", "/favicon.ico", "/.env", "/widget.js/x"]),
       method=st.sampled_from(METHODS), body=st.binary(max_size=200))
def test_any_method_on_any_public_path(web, path, method, body):
    reply = send(web.url, method, path, body=body if method not in ("GET", "HEAD") else None,
                 headers={"Origin": web.url})
    assert_sensible(reply)
    if path == "/chat" and method == "POST":
        assert_chat_json(reply)


@MANY
@given(segments=st.lists(any_text, max_size=4), raw=url_text)
def test_unknown_paths_are_404(web, segments, raw):
    path = "/" + "/".join(quote(s.encode("utf-8", "surrogatepass"), safe="") for s in segments)
    reply = send(web.url, "GET", path + raw.replace("?", "%3F").lstrip("/"))
    assert_sensible(reply)


# --- the chat endpoint --------------------------------------------------------------------------------------------

@MANY
@given(body=json_values | st.fixed_dictionaries({"sender": json_values, "message": json_values}))
def test_chat_answers_any_json_with_json(web, body):
    raw = json.dumps(body).encode()
    reply = send(web.url, "POST", "/chat", raw, {"Content-Type": "application/json"})
    answer = assert_chat_json(reply)
    assert reply.status in (400, 413), answer


@MANY
@given(message=st.text(st.characters(exclude_categories=()), max_size=MAX_MESSAGE_CHARS + 50)
       | st.sampled_from(["/affirm", "/correct_detail{\"detail\": \"phone\"}", "/", "//x", "\u200b", "\x00" * 5,
                          "\u202e999\u202c", "a\r\nb", "x" * MAX_MESSAGE_CHARS, " " * 5000]))
def test_chat_relays_only_clean_text(web, rasa, message):
    sender = str(uuid.uuid4())
    body = json.dumps({"sender": sender, "message": message}).encode()
    reply = send(web.url, "POST", "/chat", body, {"Content-Type": "application/json", "Origin": web.url})
    answer = assert_chat_json(reply)
    relayed = [r["message"] for r in rasa.received if r.get("sender") == sender]
    if reply.status == 200:
        assert len(relayed) == 1
        text = relayed[0]
        assert text and text == text.strip() and len(text) <= MAX_MESSAGE_CHARS
        assert not [c for c in text if unicodedata.category(c) in ("Cc", "Cf", "Cs")]
    else:
        assert relayed == []
        assert answer["error"] in ("empty_message", "message_too_long")


@FEW
@given(body=st.binary(max_size=3000),
       content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                                     "multipart/form-data; boundary=xyz", "application/json; charset=latin-1", ""])
       | header_text)
def test_chat_answers_any_bytes_with_json(web, body, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    assert_chat_json(send(web.url, "POST", "/chat", body, headers))


@settings(max_examples=12, deadline=None, database=None)
@given(size=st.integers(min_value=64 * 1024 + 1, max_value=1_000_000), chunked=st.booleans(),
       wrapped=st.booleans())
def test_chat_refuses_huge_bodies_kindly(web, size, chunked, wrapped):
    filler = b"x" * size
    body = (b'{"sender": "%s", "message": "' % str(uuid.uuid4()).encode() + filler + b'"}') if wrapped else filler
    try:
        reply = send(web.url, "POST", "/chat", body, {"Content-Type": "application/json"}, chunked=chunked)
    except (BrokenPipeError, ConnectionResetError):
        # The server may answer and close before a client has finished sending that much; that is a refusal.
        return
    answer = assert_chat_json(reply)
    assert reply.status == 413 and answer["error"] == "message_too_long"


# --- staff pages, signed out --------------------------------------------------------------------------------------

@MANY
@given(path=st.sampled_from(STAFF_PATHS) | st.lists(any_text, min_size=1, max_size=3).map(
           lambda parts: "/staff/" + "/".join(quote(p.encode("utf-8", "surrogatepass"), safe="") for p in parts)),
       method=st.sampled_from(["GET", "POST", "HEAD"]), raw=url_text,
       form=st.dictionaries(st.sampled_from(["csrf_token", "password", "status"]) | any_text, any_text, max_size=4),
       cookies=st.dictionaries(st.sampled_from(["rg_staff", "rg_staff_login", "other"]),
                               st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=";,"),
                                       max_size=60), max_size=3),
       multipart=st.booleans())
def test_staff_pages_signed_out(web, path, method, raw, form, cookies, multipart):
    headers = {"Origin": web.url}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body = None
    if method == "POST":
        if multipart:
            body, headers["Content-Type"] = multipart_form(form)
        else:
            body = urlencode(form, errors="surrogatepass").encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
    reply = send(web.url, method, path + query_string({}, raw.replace("?", "%3F")), body, headers)
    assert_sensible(reply)
    assert b"RG-" not in reply.body.replace(b"RG-AAAAAA", b"")  # no real reference is shown to anyone signed out
    assert not re.search(r'rg_staff=(?!""|;)', reply.headers.get("set-cookie", ""))  # no session, only its end
    if reply.status in (301, 302, 303, 307, 308):
        assert reply.headers["location"].startswith("/staff")


def multipart_form(form: Dict[str, str]) -> Tuple[bytes, str]:
    boundary = "----rgproperties" + uuid.uuid4().hex
    parts = []
    for name, value in form.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{quote(name)}"\r\n\r\n{value}\r\n')
    parts.append(f"--{boundary}--\r\n")
    return "".join(parts).encode("utf-8", "surrogatepass"), f"multipart/form-data; boundary={boundary}"
