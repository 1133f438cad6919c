"""Control and invisible characters: refused by the store, and shown harmlessly wherever an older row holds them
(the CSV export from the store, the command line and the staff page; `rg-staff show` and `list`)."""
from __future__ import annotations

import contextlib
import csv
import io
import re
import sqlite3
import unicodedata

import pytest
import requests

from bot.callbacks import cli
from bot.callbacks.notifications import Notifier, undeliverable_warning
from bot.callbacks.store import CallbackDetails, has_hidden_characters, visible_text
from bot.web.passwords import hash_password
from support import DETAILS, NAME, PHONE, free_port, make_settings, serve_app, smtp_settings

# Written straight into the database, as a row stored before these were refused (or by any other means) would be.
HOSTILE_REFERENCE = "RG-XXXXXX"
HOSTILE = {
    "name": '=HYPERLINK("http://evil.example")\x00Sam\x1b[2J\x1b]0;owned\x07',
    "phone": "+44\x00=1+1",
    "best_time": "\x1b[31mmornings\x1b[0m \u202eevil\u200b",
    "note": "-2+3\x00\r\nsecond line\x1b[1A\x1b[2KPhone: 000\x9b31m",
}
# Every character that must never reach a terminal or a CSV file as itself.
RAW = ("\x00", "\x1b", "\x07", "\x9b", "\u202e", "\u200b", "\r")
PASSWORD = "control characters test phrase"


@pytest.fixture
def hostile(store, db_path):
    ordinary = store.submit("ordinary", DETAILS)
    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute(
            "INSERT INTO callback_requests (reference, idempotency_key, name, phone, safe_to_identify, best_time, "
            "role, note, status, created_at, updated_at) VALUES (?, 'hostile', ?, ?, 0, ?, 'other', ?, 'new', "
            "'2025-01-01 10:00:00', '2025-01-01 10:00:00')",
            (HOSTILE_REFERENCE, HOSTILE["name"], HOSTILE["phone"], HOSTILE["best_time"], HOSTILE["note"]),
        )
    record = store.get(HOSTILE_REFERENCE)
    assert record.name == HOSTILE["name"] and record.note == HOSTILE["note"]  # stored as typed, NUL and all
    return ordinary


def assert_nothing_raw(text: str) -> None:
    for character in RAW:
        assert character not in text, f"{character!r} passed through"


def staff(db_path, *args: str) -> tuple:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(["--database-url", f"sqlite:///{db_path}", *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# --- the store refuses them -------------------------------------------------------------------------------


REFUSED = ["\x00", "\x1b", "\x07", "\x7f", "\x85", "\x9b", "\u202e", "\u2066", "\u200b", "\u200d", "\ufeff",
           "\u00ad", "\u2028", "\ud800", "\t", "\r"]


@pytest.mark.parametrize(
    "field, character",
    [(field, c) for field in ("name", "best_time", "note") for c in REFUSED] + [("name", "\n"), ("best_time", "\n")],
)
def test_the_store_refuses_control_and_invisible_characters(store, field, character):
    values = {"name": NAME, "best_time": "Mornings", "note": "A note"}
    values[field] = f"Sam{character}son"
    details = CallbackDetails(values["name"], PHONE, True, values["best_time"], note=values["note"])
    with pytest.raises(ValueError) as caught:
        store.submit("k", details)
    assert field in str(caught.value) and "Sam" not in str(caught.value)
    assert store.list() == []


def test_a_note_keeps_its_line_breaks_and_ordinary_text_is_untouched(store):
    note = "First line\nSecond line, Zoë — “quoted” ¡olé! 👍"
    reference = store.submit("k", CallbackDetails("Zoë O'Neill", PHONE, True, "after 6pm", note=note))
    assert store.get(reference).note == note


@pytest.mark.parametrize("phone", ["+44\x007700900123", "+44 7700 900123", "07700900123", "+", "+0123456789"])
def test_the_store_refuses_a_phone_number_not_in_e164(store, phone):
    with pytest.raises(ValueError):
        store.submit("k", CallbackDetails(NAME, phone, True, "Mornings"))


def test_hidden_characters_are_every_control_and_format_character():
    for code in list(range(0x00, 0x20)) + list(range(0x7F, 0xA0)):
        assert has_hidden_characters(chr(code)), hex(code)
    for code in range(0x110000):
        if unicodedata.category(chr(code)) == "Cf":
            assert has_hidden_characters(chr(code)), hex(code)
    assert not has_hidden_characters("Zoë O'Neill, 0113 496 0123 ¡olé! 你好 مرحبا")
    assert has_hidden_characters("a\nb") and not has_hidden_characters("a\nb", newlines=True)
    assert visible_text("\x1b[31m\x00") == "\\x1b[31m\\x00"


# --- rows that hold them anyway are shown harmlessly ---------------------------------------------------------


def test_the_export_of_a_hostile_row_parses_and_holds_no_raw_control_character(store, hostile):
    stream = io.StringIO()
    assert store.export_csv(stream) == 2
    table = list(csv.DictReader(io.StringIO(stream.getvalue(), newline="")))
    by_reference = {row["reference"]: row for row in table}
    assert by_reference[hostile]["name"] == NAME
    row = by_reference[HOSTILE_REFERENCE]
    for value in row.values():
        assert_nothing_raw(value)
    # Formula characters still neutralised, after the hidden characters are written out.
    assert row["name"].startswith("'=HYPERLINK(") and "\\x00Sam\\x1b[2J" in row["name"]
    assert row["phone"] == "'+44\\x00=1+1"
    assert row["note"].startswith("'-2+3\\x00\\r\nsecond line\\x1b[1A")
    assert row["best_time"] == "\\x1b[31mmornings\\x1b[0m \\u202eevil\\u200b"


def test_rg_staff_show_list_and_export_never_pass_escape_sequences_to_the_terminal(db_path, hostile):
    code, out, err = staff(db_path, "show", HOSTILE_REFERENCE)
    assert code == 0, err
    assert_nothing_raw(out + err)
    assert "Name:" in out and "\\x1b[2J" in out and "\\u202e" in out
    # The note's own line break is indented under the note, so it cannot pass for a field of its own.
    note_lines = out[out.index("Note:"):].splitlines()
    assert note_lines[1].startswith(" ") and "second line" in note_lines[1]
    assert not any(line.startswith("Phone: 000") for line in out.splitlines())

    code, out, err = staff(db_path, "list")
    assert code == 0, err
    assert HOSTILE_REFERENCE in out and hostile in out
    assert_nothing_raw(out + err)

    code, out, err = staff(db_path, "export")
    assert code == 0, err
    assert "\x00" not in out and "\x1b" not in out
    assert len(list(csv.reader(io.StringIO(out, newline="")))) == 3


def test_a_hostile_reference_is_listed_harmlessly(store, db_path):
    with contextlib.closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute(
            "INSERT INTO callback_requests (reference, idempotency_key, status, created_at, updated_at) "
            "VALUES ('RG-\x1b[2J', 'x', 'new', '2025-01-01 10:00:00', '2025-01-01 10:00:00')"
        )
    code, out, err = staff(db_path, "list")
    assert code == 0 and "RG-\\x1b[2J" in out
    assert_nothing_raw(out)


def sign_in(url: str) -> requests.Session:
    client = requests.Session()
    form = client.get(url + "/staff/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    response = client.post(url + "/staff/login", data={"csrf_token": token, "password": PASSWORD},
                           allow_redirects=False)
    assert response.status_code == 303
    return client


@pytest.fixture
def site(store, db_path):
    settings = make_settings(db_path, staff_password_hash=hash_password(PASSWORD))
    with serve_app(settings, store) as running:
        yield running


def test_the_staff_export_of_a_hostile_row_works_for_everyone(site, hostile):
    client = sign_in(site.url)
    response = client.get(site.url + "/staff/export.csv")
    assert response.status_code == 200
    text = response.content.decode("utf-8")
    assert "\x00" not in text and "\x1b" not in text
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert {row["reference"] for row in rows} == {hostile, HOSTILE_REFERENCE}
    detail = client.get(f"{site.url}/staff/requests/{HOSTILE_REFERENCE}")
    assert detail.status_code == 200


# --- the staff are told about emails that could not be sent ----------------------------------------------------


def test_the_staff_list_shows_a_banner_while_emails_could_not_be_sent(site, store, db_path):
    client = sign_in(site.url)
    assert "could not be sent" not in client.get(site.url + "/staff").text

    reference = store.submit("a", DETAILS)
    Notifier(store, smtp_settings(free_port()), max_attempts=1).deliver_pending()
    page = client.get(site.url + "/staff").text
    assert 'role="alert">1 notification email could not be sent: check the mail settings.' in page
    assert "The requests themselves are safe in the list." in page and reference in page

    code, out, err = staff(db_path, "list")
    assert code == 0 and reference in out
    assert undeliverable_warning(1) in err
