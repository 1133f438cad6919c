import csv
import io
import os
import sqlite3
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.callbacks.db import utcnow
from bot.callbacks.store import CallbackDetails, CallbackStore, Status
from bot.settings import PROJECT_ROOT
from support import DETAILS, NAME, NOTE, PHONE, SmtpServer, free_port, run_staff_cli


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'var' / 'callbacks.sqlite3'}"


@pytest.fixture
def store(db_url):
    s = CallbackStore(db_url, retention_days=30)
    yield s
    s.close()




def test_the_module_and_the_installed_script_both_start_the_command_line(db_url, store):
    reference = store.submit("a", DETAILS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RG_")}
    env["RG_DATABASE_URL"] = db_url
    script = Path(sys.executable).with_name("rg-staff")
    for command in ([sys.executable, "-m", "bot.callbacks.cli", "list"], [str(script), "list"]):
        result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert reference in result.stdout and NAME not in result.stdout


def test_list_hides_names_and_numbers(db_url, store):
    first = store.submit("a", DETAILS)
    second = store.submit("b", CallbackDetails("Sam", "+441452426900", True, "Any time"))
    store.set_status(first, Status.IN_PROGRESS)

    result = run_staff_cli(db_url, "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout.index(second) < result.stdout.index(first)  # newest first
    assert "in progress" in result.stdout and "Person harmed" in result.stdout
    assert "2 request(s)." in result.stdout
    for secret in (NAME, PHONE, "7400", "Sam", "+441452426900", NOTE):
        assert secret not in result.stdout + result.stderr

    new_only = run_staff_cli(db_url, "list", "--status", "new")
    assert second in new_only.stdout and first not in new_only.stdout


def test_list_when_empty(db_url):
    assert run_staff_cli(db_url, "migrate").returncode == 0
    result = run_staff_cli(db_url, "list")
    assert result.returncode == 0
    assert "No callback requests." in result.stdout


def test_list_of_a_database_that_is_not_there_says_so_instead_of_showing_an_empty_list(db_url, tmp_path):
    result = run_staff_cli(db_url, "list")
    assert result.returncode == 3
    assert "No callback requests" not in result.stdout
    assert "does not exist" in result.stderr and "rg-staff migrate" in result.stderr
    assert not (tmp_path / "var").exists()


def test_show_prints_everything_and_a_caution(db_url, store):
    reference = store.submit("a", DETAILS)
    result = run_staff_cli(db_url, "show", reference[3:].lower())
    assert result.returncode == 0, result.stderr
    # The number as staff dial it; the store (and the CSV export) keep it as +447400123456.
    for expected in (reference, NAME, "Phone:", "07400 123456", NOTE, "Weekday mornings", "Person harmed", "new"):
        assert expected in result.stdout
    assert PHONE not in result.stdout
    assert "Do not leave a voicemail" in result.stdout


def test_start_done_reopen(db_url, store):
    reference = store.submit("a", DETAILS)
    result = run_staff_cli(db_url, "start", reference)
    assert (result.returncode, result.stdout.strip()) == (0, f"{reference} is now in progress.")
    assert store.get(reference).status is Status.IN_PROGRESS
    result = run_staff_cli(db_url, "done", reference.lower())
    assert (result.returncode, result.stdout.strip()) == (0, f"{reference} is now done.")
    assert store.get(reference).status is Status.DONE
    result = run_staff_cli(db_url, "reopen", reference)
    assert (result.returncode, result.stdout.strip()) == (0, f"{reference} is now new.")
    assert store.get(reference).status is Status.NEW


@pytest.mark.parametrize("command", ["show", "start", "done", "reopen"])
@pytest.mark.parametrize("reference", ["RG-AAAAAA", "not-a-ref"])
def test_unknown_reference_exits_1(db_url, store, command, reference):
    result = run_staff_cli(db_url, command, reference)
    assert result.returncode == 1
    assert "No callback request" in result.stderr or "not a callback reference" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_to_stdout_and_to_private_file(db_url, store, tmp_path):
    reference = store.submit("a", DETAILS)
    store.submit("b", CallbackDetails("Sam", "+441452426900", True, "Any time"))
    store.set_status(reference, Status.DONE)

    result = run_staff_cli(db_url, "export")
    assert result.returncode == 0
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(table) == 2

    output = tmp_path / "export.csv"
    result = run_staff_cli(db_url, "export", "--status", "done", "--output", str(output))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(os.stat(output).st_mode) == 0o600
    assert "Wrote 1 request(s)" in result.stderr
    table = list(csv.DictReader(output.open(newline="")))
    assert [(r["reference"], r["name"], r["phone"], r["role"]) for r in table] == [
        (reference, NAME, PHONE, "Person harmed")
    ]


def test_purge_and_dry_run(db_url, store, tmp_path):
    old = store.submit("old", DETAILS)
    recent = store.submit("recent", DETAILS)
    backdated = (utcnow() - timedelta(days=45)).replace(tzinfo=None).isoformat(sep=" ")
    with sqlite3.connect(tmp_path / "var" / "callbacks.sqlite3") as conn:
        conn.execute("UPDATE callback_requests SET created_at = ? WHERE reference = ?", (backdated, old))
    env = {"RG_RETENTION_DAYS": "30"}

    result = run_staff_cli(db_url, "purge", "--dry-run", extra_env=env)
    assert result.returncode == 0
    assert "1 request(s) older than 30 days would" in result.stdout
    assert store.get(old).name == NAME

    result = run_staff_cli(db_url, "purge", extra_env=env)
    assert result.returncode == 0
    assert "Erased the details of 1 request(s) older than 30 days." in result.stdout
    assert store.get(old).purged and store.get(old).name is None
    assert store.get(recent).name == NAME
    assert "details purged" in run_staff_cli(db_url, "list").stdout
    assert "purged on" in run_staff_cli(db_url, "show", old).stdout


def test_notify(db_url, store):
    reference = store.submit("a", DETAILS)

    disabled = run_staff_cli(db_url, "notify")
    assert disabled.returncode == 0
    assert "disabled (RG_SMTP_HOST not set); 1 waiting" in disabled.stdout

    port = free_port()
    env = {
        "RG_SMTP_HOST": "127.0.0.1",
        "RG_SMTP_PORT": str(port),
        "RG_SMTP_STARTTLS": "false",
        "RG_NOTIFY_TO": "staff@restorativegloucestershire.test",
    }
    down = run_staff_cli(db_url, "notify", extra_env=env)
    assert down.returncode == 3
    assert "Sent 0, failed 1, still waiting 1." in down.stdout

    server = SmtpServer(port)
    server.start()
    try:
        up = run_staff_cli(db_url, "notify", extra_env=env)
    finally:
        server.stop()
    assert up.returncode == 0, up.stderr
    assert "Sent 1, failed 0, still waiting 0." in up.stdout
    assert len(server.messages) == 1 and reference in server.messages[0]["Subject"]


def test_emails_given_up_on_are_reported_by_list_and_sent_by_notify(db_url, store):
    from bot.callbacks.notifications import MAX_ATTEMPTS, Notifier, undeliverable_warning
    from support import smtp_settings

    reference = store.submit("a", DETAILS)
    port = free_port()
    notifier = Notifier(store, smtp_settings(port))
    now = utcnow()
    for _ in range(MAX_ATTEMPTS):  # the worker's attempts, each once its delay has passed
        notifier.deliver_pending(now)
        now += timedelta(hours=1)
    listed = run_staff_cli(db_url, "list")
    assert listed.returncode == 0 and reference in listed.stdout
    assert f"Warning: {undeliverable_warning(1)}" in listed.stderr

    env = {
        "RG_SMTP_HOST": "127.0.0.1",
        "RG_SMTP_PORT": str(port),
        "RG_SMTP_STARTTLS": "false",
        "RG_NOTIFY_TO": "staff@restorativegloucestershire.test",
    }
    still_down = run_staff_cli(db_url, "notify", extra_env=env)
    assert still_down.returncode == 3
    assert "failed 1" in still_down.stdout and undeliverable_warning(1) in still_down.stderr

    server = SmtpServer(port)
    server.start()
    try:
        sent = run_staff_cli(db_url, "notify", extra_env=env)
    finally:
        server.stop()
    assert sent.returncode == 0, sent.stderr
    assert "Sent 1, failed 0, still waiting 0." in sent.stdout and "Warning" not in sent.stderr
    assert [m["Subject"] for m in server.messages] == [f"New callback request {reference}"]
    assert "Warning" not in run_staff_cli(db_url, "list").stderr


def test_migrate_and_database_url_option(tmp_path):
    url = f"sqlite:///{tmp_path / 'other' / 'db.sqlite3'}"
    result = run_staff_cli("sqlite:////nonexistent-unused/ignored.sqlite3", "--database-url", url, "migrate")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert (tmp_path / "other" / "db.sqlite3").exists()
    assert not Path("/nonexistent-unused").exists()


def test_database_unavailable_exits_3():
    result = run_staff_cli("postgresql://u:p@127.0.0.1:1/x", "list")
    assert result.returncode == 3
    assert "could not be opened" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_configuration_exits_2(db_url):
    result = run_staff_cli(db_url, "list", extra_env={"RG_RETENTION_DAYS": "soon"})
    assert result.returncode == 2
    assert "RG_RETENTION_DAYS" in result.stderr


def test_usage_errors_exit_2(db_url):
    assert run_staff_cli(db_url).returncode == 2
    assert run_staff_cli(db_url, "list", "--status", "maybe").returncode == 2
