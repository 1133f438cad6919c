"""Staff password hashing and the `python -m bot.web.passwords` helper."""
from __future__ import annotations

import subprocess
import sys

import pytest

from bot.web import passwords
from bot.web.passwords import hash_password, is_valid_hash, verify_password


def test_hash_round_trip_and_random_salt():
    first, second = hash_password("a long pass phrase"), hash_password("a long pass phrase")
    assert first != second
    assert first.startswith("scrypt$16384$8$1$")
    assert verify_password("a long pass phrase", first) and verify_password("a long pass phrase", second)
    assert not verify_password("a long pass phrasE", first)
    assert not verify_password("", first)


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$1$8$1$AAAA$BBBB", "bcrypt$x", "scrypt$16384$8$1$!!$??",
                                    "scrypt$16385$8$1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"])
def test_malformed_hashes_never_verify(stored):
    assert not is_valid_hash(stored)
    assert not verify_password("anything", stored)


def test_empty_password_cannot_be_hashed():
    with pytest.raises(ValueError):
        hash_password("")


def test_cli_prints_a_hash_after_two_matching_entries(monkeypatch, capsys):
    answers = iter(["a long pass phrase", "a long pass phrase"])
    monkeypatch.setattr(passwords.getpass, "getpass", lambda prompt="": next(answers))
    assert passwords.main() == 0
    out = capsys.readouterr()
    printed = out.out.strip()
    assert verify_password("a long pass phrase", printed)
    assert "RG_STAFF_PASSWORD_HASH" in out.err


@pytest.mark.parametrize("entries", [["a long pass phrase", "a different one!"], ["short", "short"]])
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
