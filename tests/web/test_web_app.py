"""The web app served for real on a loopback port: chat proxy, origins, headers, widget files and staff pages."""
from __future__ import annotations

import csv
import io
import json
import re
import uuid

import pytest
import requests

from bot.callbacks.store import CallbackDetails, CallbackStore, Status
from bot.settings import CONTACT_EMAIL, DEFAULT_QUICK_EXIT_URL
from bot.web.app import UNAVAILABLE_MESSAGE
from bot.web.passwords import hash_password
from support import RasaStandIn, free_port, make_settings, serve_app

PASSWORD = "correct horse battery staple"
SENDER = str(uuid.uuid4())
EVIL = "https://evil.example"
PARTNER = "https://www.partner.example"
NO_CHAT_LIMITS = {"chat_limit_per_sender": 100_000, "chat_limit_per_address": 100_000}


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture(scope="module")
def rasa():
    with RasaStandIn() as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("web") / "callbacks.sqlite3"
    callback_store = CallbackStore(f"sqlite:///{path}", retention_days=90)
    yield callback_store
    callback_store.close()


@pytest.fixture(scope="module")
def refs(store):
    first = store.submit("web-test-1", CallbackDetails(
        name="Sam <b>Bold</b>", phone="+447700900123", safe_to_identify=False, best_time="Weekday mornings",
        role="person_harmed", note="=HYPERLINK(\"x\")\nsecond line"))
    second = store.submit("web-test-2", CallbackDetails(
        name="Alex", phone="+447700900456", safe_to_identify=True, best_time="Any time", role="professional"))
    return first, second


@pytest.fixture(scope="module")
def server(tmp_path_factory, rasa, store, refs, password_hash):
    db = tmp_path_factory.mktemp("unused") / "unused.sqlite3"
    # These tests send many messages from one sender; the limits have tests of their own (test_chat_edge.py).
    settings = make_settings(db, rasa.url, staff_password_hash=password_hash, extra_origins=(PARTNER,),
                             quick_exit_url="https://www.example.org/weather", **NO_CHAT_LIMITS)
    with serve_app(settings, store) as running:
        yield running


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "form has no CSRF token"
    return match.group(1)


def sign_in(url: str, password: str = PASSWORD, client: requests.Session | None = None):
    client = client or requests.Session()
    form = client.get(url + "/staff/login")
    response = client.post(url + "/staff/login", data={"csrf_token": _csrf(form.text), "password": password},
                           allow_redirects=False)
    return client, response


@pytest.fixture()
def staff(server):
    client, response = sign_in(server.url)
    assert response.status_code == 303 and response.headers["Location"] == "/staff"
    return client


def chat(url, body, origin=None):
    headers = {"Origin": origin} if origin else {}
    return requests.post(url + "/chat", json=body, headers=headers, timeout=40)


# --- chat proxy -----------------------------------------------------------------------------------------------

def test_chat_relays_text_and_buttons_only(server, rasa):
    response = chat(server.url, {"sender": SENDER, "message": "/greet"}, origin=server.url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    messages = response.json()["messages"]
    assert messages[0] == {"text": "Hello. I can answer questions about restorative justice."}
    assert messages[1]["buttons"] == [{"title": "What is it?", "payload": "/ask_what_is_rj"},
                                      {"title": "Is it confidential?", "payload": "/ask_confidential"}]
    assert rasa.received[-1] == {"sender": SENDER, "message": "/greet"}


def test_chat_drops_custom_payloads_and_recipient_ids(server):
    messages = chat(server.url, {"sender": SENDER, "message": "custom please"}).json()["messages"]
    assert messages == [{"text": "Only text survives."}]


def test_chat_message_too_long_is_refused_kindly(server, rasa):
    before = len(rasa.received)
    response = chat(server.url, {"sender": SENDER, "message": "x" * 1001})
    assert response.status_code == 413
    assert response.json()["error"] == "message_too_long"
    assert "1000 characters" in response.json()["message"]
    assert chat(server.url, {"sender": SENDER, "message": "x" * 1000}).status_code == 200
    assert len(rasa.received) == before + 1


def test_chat_huge_body_is_refused(server):
    response = requests.post(server.url + "/chat", data=b"{" + b" " * 200_000 + b"}",
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize("body", [
    {"sender": "not-a-uuid", "message": "hi"},
    {"sender": "../../etc/passwd", "message": "hi"},
    {"sender": str(uuid.uuid1()), "message": "hi"},
    {"message": "hi"},
    {"sender": 12, "message": "hi"},
])
def test_chat_rejects_bad_sender(server, body):
    response = chat(server.url, body)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_sender"


@pytest.mark.parametrize("body", [{"sender": SENDER, "message": ""}, {"sender": SENDER, "message": "   "},
                                  {"sender": SENDER, "message": 5}])
def test_chat_rejects_empty_message(server, body):
    response = chat(server.url, body)
    assert response.status_code == 400
    assert response.json()["error"] == "empty_message"


def test_chat_rejects_invalid_json(server):
    response = requests.post(server.url + "/chat", data="{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_chat_upstream_error_is_503(server, rasa):
    rasa.status = 500
    try:
        response = chat(server.url, {"sender": SENDER, "message": "hello"})
    finally:
        rasa.status = 200
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"


def test_chat_with_nothing_listening_is_503(tmp_path, caplog):
    settings = make_settings(tmp_path / "db.sqlite3", f"http://127.0.0.1:{free_port()}")
    with serve_app(settings) as running:
        response = chat(running.url, {"sender": SENDER, "message": "my phone is 07700 900123"})
    assert response.status_code == 503
    assert response.json() == {"error": "unavailable", "message": UNAVAILABLE_MESSAGE}
    assert CONTACT_EMAIL in UNAVAILABLE_MESSAGE and "call 999" in UNAVAILABLE_MESSAGE
    logged = caplog.text
    assert "07700" not in logged and SENDER not in logged


# --- origins --------------------------------------------------------------------------------------------------

def test_cors_allowed_origin_gets_header(server):
    response = chat(server.url, {"sender": SENDER, "message": "hi"}, origin=PARTNER)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == PARTNER
    assert "Origin" in response.headers["Vary"]


def test_cors_disallowed_origin_is_forbidden_without_cors_headers(server, rasa):
    before = len(rasa.received)
    response = chat(server.url, {"sender": SENDER, "message": "hi"}, origin=EVIL)
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    assert len(rasa.received) == before


def test_preflight(server):
    allowed = requests.options(server.url + "/chat", headers={
        "Origin": PARTNER, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == PARTNER
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert "content-type" in allowed.headers["Access-Control-Allow-Headers"].lower()
    refused = requests.options(server.url + "/chat", headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "Access-Control-Allow-Methods" not in refused.headers


def test_widget_files_have_types_caching_and_cors(server):
    js = requests.get(server.url + "/widget.js", headers={"Origin": PARTNER})
    assert js.status_code == 200
    assert js.headers["Content-Type"].startswith("text/javascript")
    assert "max-age" in js.headers["Cache-Control"]
    assert js.headers["Access-Control-Allow-Origin"] == PARTNER
    css = requests.get(server.url + "/widget.css", headers={"Origin": EVIL})
    assert css.headers["Content-Type"].startswith("text/css")
    assert "Access-Control-Allow-Origin" not in css.headers
    again = requests.get(server.url + "/widget.js", headers={"If-None-Match": js.headers["ETag"]})
    assert again.status_code == 304
    assert len(js.content) < 15_000


def test_widget_script_carries_the_servers_texts(server):
    # The widget shows these without the server's help (it may be unreachable), so they are written into the script.
    script = requests.get(server.url + "/widget.js").text
    error_text = re.search(r"var ERROR_TEXT = (\"[^\"]*\");", script)
    default_exit = re.search(r"ds\.exitUrl : (\"[^\"]*\");", script)
    assert error_text and json.loads(error_text.group(1)) == UNAVAILABLE_MESSAGE
    assert default_exit and json.loads(default_exit.group(1)) == DEFAULT_QUICK_EXIT_URL
    assert "{{" not in script and "{#" not in script


# --- pages and headers ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/about", "/embed", "/widget.js", "/staff/login", "/staff", "/nope"])
def test_security_headers_everywhere(server, path):
    response = requests.get(server.url + path, allow_redirects=False)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    if path.startswith("/staff"):
        assert "frame-ancestors 'none'" in csp
        assert response.headers["Cache-Control"] == "no-store"


def test_demo_page_embeds_widget_with_one_external_script_and_nothing_inline(server):
    page = requests.get(server.url + "/").text
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page, flags=re.S)
    assert scripts == [""]
    assert 'src="/widget.js"' in page and 'data-exit-url="https://www.example.org/weather"' in page
    assert "Restorative Gloucestershire" in page
    assert "http" not in re.sub(r'data-exit-url="[^"]*"|mailto:[^"]*', "", page.split("<footer")[0])


def test_embed_page_shows_escaped_snippet(server):
    page = requests.get(server.url + "/embed").text
    assert f"&lt;script src=&quot;{server.url}/widget.js&quot; data-server=&quot;{server.url}&quot;" in page
    assert "data-primary-colour" in page and "data-exit-url" in page


# --- staff pages ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/staff", "/staff?status=new", "/staff/requests/RG-AAAAAA", "/staff/logout"])
def test_staff_pages_redirect_when_signed_out(server, path):
    response = requests.get(server.url + path, allow_redirects=False)
    assert response.status_code in (302, 303)
    assert response.headers["Location"] == "/staff/login"


def test_staff_csv_is_401_when_signed_out(server):
    response = requests.get(server.url + "/staff/export.csv", allow_redirects=False)
    assert response.status_code == 401
    assert "+4477" not in response.text


def test_login_page_and_cookie_flags(server):
    client, response = sign_in(server.url)
    cookie = response.headers["Set-Cookie"]
    assert "rg_staff=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/staff" in cookie


def test_login_wrong_password(server):
    client, response = sign_in(server.url, password="wrong password")
    assert response.status_code == 401
    assert "not right" in response.text
    assert client.get(server.url + "/staff", allow_redirects=False).status_code in (302, 303)
    server.app.ctx.login_throttle.succeeded("127.0.0.1")


def test_login_without_csrf_token_is_refused(server):
    client = requests.Session()
    client.get(server.url + "/staff/login")
    response = client.post(server.url + "/staff/login", data={"password": PASSWORD}, allow_redirects=False)
    assert response.status_code == 400
    assert "rg_staff=" not in response.headers.get("Set-Cookie", "")


def test_list_filter_and_no_phone_in_list(staff, server, refs, store):
    first, second = refs
    store.set_status(second, Status.NEW)
    page = staff.get(server.url + "/staff?status=all")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert first in page.text and second in page.text
    assert "Person harmed" in page.text and "Professional" in page.text
    assert "+447700900123" not in page.text and "Sam" not in page.text
    store.set_status(second, Status.DONE)
    done = staff.get(server.url + "/staff?status=done").text
    new = staff.get(server.url + "/staff?status=new").text
    assert second in done and first not in done
    assert first in new and second not in new
    store.set_status(second, Status.NEW)


def test_detail_page_escapes_and_shows_safety(staff, server, refs):
    first, second = refs
    page = staff.get(server.url + f"/staff/requests/{first.lower()}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Sam &lt;b&gt;Bold&lt;/b&gt;" in page.text and "<b>Bold" not in page.text
    assert "+447700900123" in page.text and "Weekday mornings" in page.text
    assert "Not safe to identify" in page.text and "do not leave a voicemail" in page.text
    safe = staff.get(server.url + f"/staff/requests/{second}").text
    assert "Safe to identify:</strong> yes" in safe
    assert staff.get(server.url + "/staff/requests/RG-AAAAAA").status_code == 404


def test_status_change_and_reopen(staff, server, refs, store):
    first, _ = refs
    page = staff.get(server.url + f"/staff/requests/{first}").text
    token = _csrf(page)
    for target in ("in_progress", "done", "in_progress", "new"):
        response = staff.post(server.url + f"/staff/requests/{first}/status",
                              data={"csrf_token": token, "status": target}, allow_redirects=False)
        assert response.status_code == 303
        assert store.get(first).status == Status(target)
    assert "Mark in progress" in staff.get(server.url + f"/staff/requests/{first}").text


def test_status_change_without_csrf_is_rejected(staff, server, refs, store):
    first, _ = refs
    before = store.get(first).status
    for data in ({"status": "done"}, {"status": "done", "csrf_token": "forged"}):
        response = staff.post(server.url + f"/staff/requests/{first}/status", data=data, allow_redirects=False)
        assert response.status_code == 403
    assert store.get(first).status == before


def test_csv_export(staff, server, refs):
    first, second = refs
    response = staff.get(server.url + "/staff/export.csv?status=all")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    by_ref = {row["reference"]: row for row in rows}
    assert by_ref[first]["phone"] == "+447700900123"
    assert by_ref[first]["note"].startswith("'=")  # formula neutralised by the store
    assert set(by_ref) >= {first, second}


def test_logout_ends_session_even_for_a_copied_cookie(server):
    client, _ = sign_in(server.url)
    stolen = requests.Session()
    stolen.cookies.update(client.cookies)
    token = _csrf(client.get(server.url + "/staff").text)
    forged = client.post(server.url + "/staff/logout", data={"csrf_token": "forged"}, allow_redirects=False)
    assert forged.status_code == 403
    response = client.post(server.url + "/staff/logout", data={"csrf_token": token}, allow_redirects=False)
    assert response.status_code == 303
    assert stolen.get(server.url + "/staff", allow_redirects=False).status_code in (302, 303)


def test_tampered_session_cookie_is_ignored(server):
    client = requests.Session()
    client.cookies.set("rg_staff", "eyJhIjoxfQ.forged.signature", path="/staff")
    assert client.get(server.url + "/staff", allow_redirects=False).status_code in (302, 303)


def test_idle_sessions_expire(server):
    client, _ = sign_in(server.url)
    sessions = server.app.ctx.staff_sessions
    for session in list(sessions._sessions.values()):
        session.last_seen -= 8 * 60 * 60 + 1
    assert client.get(server.url + "/staff", allow_redirects=False).status_code in (302, 303)


def test_login_rate_limit(server):
    throttle = server.app.ctx.login_throttle
    throttle.succeeded("127.0.0.1")
    try:
        codes = [sign_in(server.url, password=f"guess {i}")[1].status_code for i in range(5)]
        assert codes == [401] * 5
        _, response = sign_in(server.url)  # even the right password waits
        assert response.status_code == 429
        assert "15 minutes" in response.text
    finally:
        throttle.succeeded("127.0.0.1")
    assert sign_in(server.url)[1].status_code == 303


def test_production_without_password_hash_refuses_staff_sign_in(tmp_path, store):
    settings = make_settings(tmp_path / "db.sqlite3", production=True, staff_password_hash=None)
    with serve_app(settings, store) as running:
        page = requests.get(running.url + "/staff/login")
        assert page.status_code == 503
        assert "RG_STAFF_PASSWORD_HASH" in page.text and "python -m bot.web.passwords" in page.text
        assert 'type="password"' not in page.text
        assert requests.post(running.url + "/staff/login", data={"password": ""}).status_code == 503
        assert requests.get(running.url + "/staff", allow_redirects=False).status_code == 503
        assert requests.get(running.url + "/").status_code == 200  # the public chat keeps working


def test_production_cookie_is_secure(tmp_path, store, password_hash):
    settings = make_settings(tmp_path / "db.sqlite3", production=True, staff_password_hash=password_hash,
                             secret_key="k" * 40)
    with serve_app(settings, store) as running:
        form = requests.get(running.url + "/staff/login")
        assert "Secure" in form.headers["Set-Cookie"]
        # A browser would not send a Secure cookie over plain http; pass it by hand to reach the session cookie.
        login_cookie = form.headers["Set-Cookie"].split(";")[0]
        response = requests.post(running.url + "/staff/login",
                                 data={"csrf_token": _csrf(form.text), "password": PASSWORD},
                                 headers={"Cookie": login_cookie}, allow_redirects=False)
    assert response.status_code == 303
    session_cookie = [c for c in response.raw.headers.getlist("Set-Cookie") if c.startswith("rg_staff=")]
    assert len(session_cookie) == 1 and "Secure" in session_cookie[0] and "HttpOnly" in session_cookie[0]


def test_development_without_hash_prints_a_fresh_one_time_password(tmp_path, store, capfd):
    settings = make_settings(tmp_path / "db.sqlite3", staff_password_hash=None)
    passwords = []
    for _ in range(2):
        with serve_app(settings, store) as running:
            printed = capfd.readouterr().err
            match = re.search(r"one-time password (\S+)", printed)
            assert match, printed
            passwords.append(match.group(1))
            assert sign_in(running.url, password=match.group(1))[1].status_code == 303
            running.app.ctx.login_throttle.succeeded("127.0.0.1")
            assert sign_in(running.url, password="")[1].status_code == 401
    assert passwords[0] != passwords[1]


def test_invalid_hash_refuses_sign_in(tmp_path, store):
    settings = make_settings(tmp_path / "db.sqlite3", staff_password_hash="plaintext-password")
    with serve_app(settings, store) as running:
        page = requests.get(running.url + "/staff/login")
    assert page.status_code == 503 and "not a valid password hash" in page.text


def test_python_m_bot_web_serves_and_stops(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    port = free_port()
    env = dict(os.environ, RG_WEB_PORT=str(port), RG_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
               RG_RASA_URL=f"http://127.0.0.1:{free_port()}")
    env.pop("RG_STAFF_PASSWORD_HASH", None)
    process = subprocess.Popen([sys.executable, "-m", "bot.web"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "python -m bot.web did not start"
            time.sleep(0.2)
        assert requests.get(f"http://127.0.0.1:{port}/widget.js").status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert output.count("one-time password") == 1
    assert "Staff email notifications are disabled" in output


@pytest.mark.parametrize(
    "typed, relayed",
    [
        ("/affirm", "/affirm"),
        ('/correct_detail{"detail": "phone"}', '/correct_detail{"detail": "phone"}'),
        ("/my number is 07400 900461", "my number is 07400 900461"),
        ('/inform{"callback_phone": 07400 900461', 'inform{"callback_phone": 07400 900461'),
        ("//", "?"),
        ("  hello  ", "hello"),
    ],
)
def test_only_button_payloads_reach_rasa_as_intent_commands(typed, relayed):
    from bot.web.chat_proxy import validate

    assert validate({"sender": "6f1c2b8e-3d4a-4b5c-9d6e-7f8a9b0c1d2e", "message": typed})[1] == relayed
