"""Staff command line for callback requests and what visitors asked: `python -m bot.callbacks.cli` or `rg-staff`.

Exit codes: 0 done, 1 unknown reference, 2 bad usage or configuration, 3 database unavailable.
The list view leaves out names and phone numbers so it can be run with someone looking over a
shoulder; `show` prints one request in full when a staff member is about to call. Text from the database is
printed with any control characters written out (ESC as \x1b), so a request can never drive the terminal.
Only `migrate` creates or upgrades the database; every other command needs it to exist already.
Phone numbers are shown as staff dial them ("07700 900123"); the CSV export keeps the stored E.164 form.
`unanswered`, `votes`, `export-nlu` and `group` show the redacted questions the assistant could not answer and the
votes on its answers (bot/learning/), as the staff page /staff/learning does.
"""
from __future__ import annotations

import argparse
import io
import logging
import os
import sys
from collections import Counter
from dataclasses import replace
from datetime import date
from typing import List, Optional, Sequence, TextIO

from bot.callbacks.dialling import dial_format
from bot.callbacks.staff_time import format_day_for_staff, format_for_staff
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
            ("Phone", visible_text(dial_format(r.phone)) or "-"),
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


def _days(first: Optional[date], last: Optional[date]) -> str:
    day = format_day_for_staff
    return day(first) if not last or last == first else f"{day(first)} to {day(last)}"


def _print_wordings(label: str, wordings: List[tuple], out: TextIO) -> None:
    # Visitor text, escaped like a note: a kept question can never drive the terminal.
    for n, (text, times) in enumerate(wordings):
        print(f"  {label + ':' if n == 0 else '':<9}{visible_text(text)}{f' (x{times})' if times > 1 else ''}",
              file=out)


def _print_groups(groups, out: TextIO, others_shown: int = 10) -> None:
    """Each group of similar questions: how often and when, its example, other wordings, the answers given."""
    if not groups:
        print("No unanswered questions are kept.", file=out)
        return
    waiting = groups[-1] if groups[-1].id is None else None
    grouped = groups[:-1] if waiting else groups
    for number, group in enumerate(groups, start=1):
        when = _days(group.first_day, group.last_day)
        wordings = list(Counter(group.texts).items())  # each distinct wording once, the example first
        if group is waiting:
            print(f"New, not grouped yet: {group.count} question(s), {when}", file=out)
            _print_wordings("Asked", wordings, out)
        else:
            print(f"Group {number}: asked {group.count} time(s), {when}", file=out)
            _print_wordings("Example", wordings[:1], out)
            _print_wordings("Also", wordings[1:others_shown + 1], out)
            if len(wordings) > others_shown + 1:
                print(f"  {'':<9}... and {len(wordings) - others_shown - 1} more (see export-nlu)", file=out)
        print(f"  {'Given:':<9}{visible_text('; '.join(group.answer_labels())) or '-'}", file=out)
        print(file=out)
    total = sum(group.count for group in groups)
    not_grouped = f"; {waiting.count} not grouped yet" if waiting else ""
    print(f"{total} question(s) in {len(grouped)} group(s){not_grouped}.", file=out)


def _print_votes(votes, out: TextIO) -> None:
    if not votes:
        print("No answer has been rated yet.", file=out)
        return
    titles = [visible_text(summary.title) for summary in votes]
    width = max(len("ANSWER"), *(len(title) for title in titles))
    print(f"{'ANSWER':<{width}}  {'HELPFUL':>7}  {'UNHELPFUL':>9}", file=out)
    for title, summary in zip(titles, votes):
        print(f"{title:<{width}}  {summary.helpful:>7}  {summary.unhelpful:>9}", file=out)
    print(f"{len(votes)} answer(s) rated; most unhelpful votes first.", file=out)


def _regroup(records, err: TextIO) -> Optional[int]:
    """How many groups, or None (said on err) when the sentence model is not installed."""
    from bot.nlu import sentence_model

    if not sentence_model.is_installed():
        print("The sentence model is not installed, so questions cannot be grouped: run `make setup`.", file=err)
        return None
    from bot.learning.grouping import regroup, sentence_encoder

    def encode(texts):
        # Loaded only once the questions have been read: a missing database or no questions costs no model load.
        print("Grouping the questions (loading the sentence model takes a little while)...", file=err)
        return sentence_encoder()(texts)

    return regroup(records, encode)


def _open_private(path: str) -> TextIO:
    # The export holds names and numbers: create it owner-only (and tighten an existing file)
    # rather than relying on the umask.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "w", newline="", encoding="utf-8")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rg-staff",
        description="Work through callback requests from the assistant, and see what visitors asked that it could "
                    "not answer.",
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
    unanswered = commands.add_parser(
        "unanswered", help="questions the assistant could not answer (redacted), grouped by similarity"
    )
    unanswered.add_argument("--group", action="store_true", help="group every kept question again first")
    commands.add_parser("votes", help="helpful and unhelpful votes on each answer")
    export_nlu = commands.add_parser(
        "export-nlu", help="write the unanswered questions as Rasa NLU training data to label"
    )
    export_nlu.add_argument("file", metavar="FILE", help="file to create (owner-only), or - for standard output")
    commands.add_parser("group", help="group the unanswered questions by similarity now (loads the sentence model)")
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
    elif command in ("unanswered", "votes", "export-nlu", "group"):
        return _learning(args, settings, store, out, err)
    return EXIT_OK


def _learning(args, settings, store: CallbackStore, out: TextIO, err: TextIO) -> int:
    from bot.learning.records import LearningRecords

    records = LearningRecords(store, settings.learning_days)
    command = args.command
    if not settings.learning:
        print("Note: collection is switched off (RG_LEARNING=off); this is what is still stored until it expires.",
              file=err)
    if command == "group" or (command == "unanswered" and args.group):
        groups = _regroup(records, err)
        if groups is None:
            return EXIT_USAGE
        print(f"{groups} group(s) of unanswered questions.", file=out if command == "group" else err)
    if command == "unanswered":
        _print_groups(records.groups(), out)
    elif command == "votes":
        _print_votes(records.votes(), out)
    elif command == "export-nlu":
        buffer = io.StringIO()
        groups = records.export_nlu(buffer)
        # Control characters written out, as everywhere else: they would steer a terminal and YAML refuses them.
        text = visible_text(buffer.getvalue(), newlines=True)
        if args.file == "-":
            out.write(text)
        else:
            # Redacted, but still what visitors wrote: owner-only, like the CSV export.
            with _open_private(args.file) as stream:
                stream.write(text)
            print(f"Wrote {groups} group(s) to {args.file} (readable only by you). Replace each to_label with "
                  "an intent before copying it into data/nlu/.", file=err)
    return EXIT_OK


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
