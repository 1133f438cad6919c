"""Staff password hashing, the `python -m bot.web.passwords` command, and sign-in refused for an unreadable hash."""
from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from bot.web import passwords
from bot.web.passwords import hash_password, is_valid_hash, verify_password
from support import make_settings, serve_app

PASSWORD = "a long pass phrase"
# PASSWORD hashed by hash_password, and by the scrypt hashing this service used before Argon2.
STORED = "$argon2id$v=19$m=65536,t=3,p=4$CK8A4J3aSatGdBXnvnlfuA$ijm9GFRI/nx7cj970dDoqNM+V3aColqn8QnVlxdcfHc"
OLD_SCRYPT = "scrypt$16384$8$1$YngHZ8B06dYIoMOLTWx_xg$m-HpXYwk0l82fCUiWnO8nH08J2pLZAePQJDv2oG8Eos"
GARBLED = [
    STORED[:-12],  # cut short when copied
    STORED.replace("$", "", 1),  # a character lost
    "=19=65536,t=3,p=4",  # set unquoted in a shell, which expanded every "$..." to nothing
    "$argon2id$v=19$m=65536,t=3,p=4$!!!!!!!!$????????",
    STORED.replace("m=65536", "m=abc"),
    STORED + "é",
]


def test_hash_round_trip_and_random_salt():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second
    assert first.startswith("$argon2id$")
    assert is_valid_hash(first)
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password("a long pass phrasE", first)
    assert not verify_password("", first)


def test_a_hash_made_earlier_still_verifies():
    assert is_valid_hash(STORED)
    assert verify_password(PASSWORD, STORED)


@pytest.mark.parametrize("stored", ["", "plain", "bcrypt$x", "scrypt$1$8$1$AAAA$BBBB", OLD_SCRYPT, *GARBLED])
def test_malformed_hashes_never_verify(stored):
    assert not is_valid_hash(stored)
    assert not verify_password(PASSWORD, stored)


@pytest.mark.parametrize("stored", [OLD_SCRYPT, GARBLED[0], GARBLED[2]], ids=["old scrypt", "cut short", "shell"])
def test_unreadable_hash_refuses_sign_in_cleanly(tmp_path, stored, caplog):
    settings = make_settings(tmp_path / "db.sqlite3", staff_password_hash=stored)
    with serve_app(settings) as running:
        form = requests.get(running.url + "/staff/login")
        attempt = requests.post(running.url + "/staff/login", data={"password": PASSWORD}, allow_redirects=False)
    assert form.status_code == 503 and "not a valid password hash" in form.text
    assert 'type="password"' not in form.text
    assert attempt.status_code == 503 and "not a valid password hash" in attempt.text
    assert "Traceback" not in caplog.text


def test_empty_password_cannot_be_hashed():
    with pytest.raises(ValueError):
        hash_password("")


def test_cli_prints_a_hash_after_two_matching_entries(monkeypatch, capsys):
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr(passwords.getpass, "getpass", lambda prompt="": next(answers))
    assert passwords.main() == 0
    out = capsys.readouterr()
    printed = out.out.strip()
    assert verify_password(PASSWORD, printed)
    assert "RG_STAFF_PASSWORD_HASH" in out.err


@pytest.mark.parametrize("entries", [[PASSWORD, "a different one!"], ["short", "short"]])
def test_cli_refuses_mismatch_or_short(monkeypatch, capsys, entries):
    answers = iter(entries)
    monkeypatch.setattr(passwords.getpass, "getpass", lambda prompt="": next(answers))
    assert passwords.main() == 1
    assert capsys.readouterr().out == ""


def test_module_runs_without_a_terminal():
    result = subprocess.run([sys.executable, "-m", "bot.web.passwords"], input="", capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 1
    assert result.stdout == ""
