"""Staff command line for callback requests: `python -m bot.callbacks.cli` or `rg-staff`.

Exit codes: 0 done, 1 unknown reference, 2 bad usage or configuration, 3 database unavailable.
The list view leaves out names and phone numbers so it can be run with someone looking over a
shoulder; `show` prints one request in full when a staff member is about to call. Text from the database is
printed with any control characters written out (ESC as \x1b), so a request can never drive the terminal.
Only `migrate` creates or upgrades the database; every other command needs it to exist already.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace
from typing import List, Optional, Sequence, TextIO

from bot.callbacks.staff_time import format_for_staff
from bot.callbacks.store import (
    CallbackRecord,
    CallbackStore,
    Status,
    StoreNotReady,
    StoreUnavailable,
    UnknownReference,
    visible_text,
)
from bot.settings import SettingsError, load_settings

EXIT_OK = 0
EXIT_UNKNOWN_REFERENCE = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3

STATUS_CHOICES = [s.value for s in Status]


def _status(status: Status) -> str:
    # Lower case reads naturally in "RG-K7M4QX is now in progress."
    return status.label.lower()


def _print_list(records: List[CallbackRecord], out: TextIO) -> None:
    if not records:
        print("No callback requests.", file=out)
        return
    print(f"{'REFERENCE':<11} {'STATUS':<12} {'CREATED':<21} ROLE", file=out)
    for r in records:
        role = "(details purged)" if r.purged else (r.role_label or "-")
        reference = visible_text(r.reference)
        print(f"{reference:<11} {_status(r.status):<12} {format_for_staff(r.created_at):<21} {role}", file=out)
    print(f"{len(records)} request(s).", file=out)


def _warn_about_undeliverable(store: CallbackStore, err: TextIO) -> None:
    from bot.callbacks.notifications import count_undeliverable, undeliverable_warning

    count = count_undeliverable(store)
    if count:
        print(f"\nWarning: {undeliverable_warning(count)}", file=err)


def _print_record(r: CallbackRecord, out: TextIO) -> None:
    def yes_no(value: Optional[bool]) -> str:
        return "-" if value is None else ("yes" if value else "no")

    lines = [
        ("Reference", visible_text(r.reference)),
        ("Status", _status(r.status)),
        ("Created", format_for_staff(r.created_at)),
        ("Updated", format_for_staff(r.updated_at)),
        ("In progress", format_for_staff(r.in_progress_at)),
        ("Done", format_for_staff(r.done_at)),
    ]
    if r.purged:
        lines.append(("Details", f"purged on {format_for_staff(r.purged_at)} (retention period ended)"))
    else:
        lines += [
            ("Name", visible_text(r.name) or "-"),
            ("Phone", visible_text(r.phone) or "-"),
            ("Safe to say who is calling / leave voicemail", yes_no(r.safe_to_identify)),
            ("Best time", visible_text(r.best_time) or "-"),
            ("Role", r.role_label or "-"),
            ("Note", visible_text(r.note, newlines=True) or "-"),
        ]
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        # A note's own line breaks are indented under it, so no line of it can pass for another field.
        value = value.replace("\n", "\n" + " " * (width + 2))
        print(f"{label + ':':<{width + 1}} {value}", file=out)
    if not r.purged and r.safe_to_identify is False:
        print(
            "\nCaution: not safe to identify. Do not leave a voicemail or say who is calling "
            "unless you are sure you are speaking to this person.",
            file=out,
        )


def _open_private(path: str) -> TextIO:
    # The export holds names and numbers: create it owner-only (and tighten an existing file)
    # rather than relying on the umask.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "w", newline="", encoding="utf-8")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rg-staff", description="Work through callback requests from the assistant."
    )
    parser.add_argument("--database-url", help="overrides RG_DATABASE_URL")
    parser.add_argument("--verbose", "-v", action="store_true", help="show log messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    list_cmd = commands.add_parser("list", help="list requests, newest first (no names or numbers)")
    list_cmd.add_argument("--status", choices=STATUS_CHOICES)
    for name, text in (
        ("show", "show everything about one request"),
        ("start", "mark a request as in progress"),
        ("done", "mark a request as done"),
        ("reopen", "mark a request as new again"),
    ):
        commands.add_parser(name, help=text).add_argument("reference", help="e.g. RG-K7M4QX")
    export = commands.add_parser("export", help="write requests as CSV (contains personal data)")
    export.add_argument("--status", choices=STATUS_CHOICES)
    export.add_argument("--output", "-o", help="file to create (owner-only); default: standard output")
    purge = commands.add_parser("purge", help="erase details older than RG_RETENTION_DAYS")
    purge.add_argument("--dry-run", action="store_true", help="only count what would be erased")
    commands.add_parser(
        "notify", help="send waiting staff notification emails now, including any no longer retried automatically"
    )
    commands.add_parser("migrate", help="create or upgrade the database schema")
    return parser


def run(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = build_parser().parse_args(argv)
    # Failures are explained once on stderr below; log lines would only repeat them.
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.CRITICAL,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"Configuration problem: {exc}", file=err)
        return EXIT_USAGE
    if args.database_url:
        settings = replace(settings, database_url=args.database_url)

    store = CallbackStore.from_settings(settings, create=args.command == "migrate")
    try:
        return _dispatch(args, settings, store, out, err)
    except UnknownReference as exc:
        print(str(exc), file=err)
        return EXIT_UNKNOWN_REFERENCE
    except StoreNotReady as exc:  # its message says what to do
        print(str(exc), file=err)
        return EXIT_UNAVAILABLE
    except StoreUnavailable as exc:
        print(f"{exc} Check RG_DATABASE_URL and that the database is running.", file=err)
        return EXIT_UNAVAILABLE
    finally:
        store.close()


def _dispatch(args, settings, store: CallbackStore, out: TextIO, err: TextIO) -> int:
    command = args.command
    if command == "migrate":
        _ = store.engine  # a store opened with create=True creates or upgrades; this surfaces any failure
        print("Database schema is up to date.", file=out)
    elif command == "list":
        _print_list(store.list(Status(args.status) if args.status else None), out)
        _warn_about_undeliverable(store, err)
    elif command == "show":
        record = store.get(args.reference)
        if record is None:
            raise UnknownReference(
                f"No callback request matches {args.reference.strip()!r}. "
                "References look like RG-K7M4QX; try `list` to see them."
            )
        _print_record(record, out)
    elif command in ("start", "done", "reopen"):
        status = {"start": Status.IN_PROGRESS, "done": Status.DONE, "reopen": Status.NEW}[command]
        record = store.set_status(args.reference, status)
        print(f"{record.reference} is now {_status(record.status)}.", file=out)
    elif command == "export":
        status = Status(args.status) if args.status else None
        if args.output:
            with _open_private(args.output) as stream:
                rows = store.export_csv(stream, status)
            print(f"Wrote {rows} request(s) to {args.output} (readable only by you).", file=err)
        else:
            store.export_csv(out, status)
    elif command == "purge":
        days = settings.retention_days
        if args.dry_run:
            count = store.count_purgeable()
            print(f"{count} request(s) older than {days} days would have their details erased.", file=out)
        else:
            count = store.purge()
            print(f"Erased the details of {count} request(s) older than {days} days.", file=out)
    elif command == "notify":
        from bot.callbacks.notifications import Notifier

        report = Notifier(store, settings.smtp).deliver_pending(on_demand=True)
        if not report.enabled:
            print(
                f"Email notifications are disabled (RG_SMTP_HOST not set); "
                f"{report.pending + report.undeliverable} waiting.",
                file=out,
            )
        else:
            print(f"Sent {report.sent}, failed {report.failed}, still waiting {report.pending}.", file=out)
            if report.undeliverable:
                from bot.callbacks.notifications import undeliverable_warning

                print(f"Warning: {undeliverable_warning(report.undeliverable)}", file=err)
            if report.failed:
                return EXIT_UNAVAILABLE
    return EXIT_OK


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
