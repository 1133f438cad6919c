"""`make eval`: start the assistant on free loopback ports and score it on the shared evaluation sets.

    python -m bench.evaluation [--questions FILE] [--callers FILE] [--only questions|callers] [--model FILE]

Prints answer accuracy per topic, emergency recall, fallback recall and in-scope questions sent to
fallback, callers finished, and every failure; writes the same to bench/results/evaluation.json and
bench/results/evaluation.md.
"""
from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.evaluation import callers, questions
from bench.evaluation.client import Visitor
from bot.settings import CHAT_LIMITS_LIFTED, PROJECT_ROOT

EVAL_DIR = PROJECT_ROOT.parent / "shared" / "eval"
RESULTS = PROJECT_ROOT / "bench" / "results"


def _load(path: Path) -> list:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _pct(share: dict) -> str:
    return f"{share['share']:.3f} ({share['hits']}/{share['total']})"


def report(summary: dict) -> str:
    lines = ["# Answer-level evaluation", "",
             f"`make eval`, {summary['date']}, {summary['seconds']} s; model `{summary['model']}`.", ""]
    q = summary.get("questions")
    if q:
        lines += [
            f"## First messages ({q['answers']['total']}, `{summary['questions_file']}`)", "",
            "| Figure | Value |", "|---|---|",
            f"| Answers containing what the question needed | {_pct(q['answers'])} |",
            f"| Emergencies answered with 999 first (and the helpline asked for) | {_pct(q['emergencies'])} |",
            f"| Other messages answered as an emergency (false alarms) | {_pct(q['emergency_false_alarms'])} |",
            f"| Fallback recall (questions we cannot answer, honestly declined) | {_pct(q['fallback_recall'])} |",
            f"| In-scope questions declined | {_pct(q['in_scope_sent_to_fallback'])} |",
            "", "| Topic | Correct |", "|---|---|",
        ]
        lines += [f"| {topic} | {_pct(share)} |" for topic, share in q["topics"].items()]
        lines += ["", "### Failures", ""]
        for failure in q["failures"]:
            lines.append(f"- **{failure['id']}** ({failure['topic']}) {failure['text']!r}: lacks "
                         f"{failure['missing']}; got {', '.join(failure['answers']) or 'nothing'}: "
                         f"{failure['reply'][:160]!r}")
    c = summary.get("callers")
    if c:
        lines += ["", f"## Callback conversations ({c['finished']['total']}, `{summary['callers_file']}`)", "",
                  f"Finished as the persona expects: {_pct(c['finished'])}; questions asked a third time: "
                  f"{c['repeated_questions']}.", "", "### Failures", ""]
        for failure in c["failures"]:
            lines.append(f"- **{failure['id']}** {failure['description']}: {failure['problem']}")
            for turn in failure["turns"]:
                lines.append(f"  - > {turn['said']}\n    < {turn['reply'][:200]!r} (asks: {turn['asked']})")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=EVAL_DIR / "questions.yml")
    parser.add_argument("--callers", type=Path, default=EVAL_DIR / "callers.yml")
    parser.add_argument("--only", choices=("questions", "callers"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--model", type=Path,
                        help="a trained model to evaluate instead of the project's own (e.g. a candidate pipeline's)")
    args = parser.parse_args(argv)
    if args.model and not args.model.exists():
        print(f"{args.model} not found.", file=sys.stderr)
        return 2
    for path in (args.questions, args.callers):
        if not path.exists():
            print(f"{path} not found: the evaluation sets live in ../shared/eval beside this repository.",
                  file=sys.stderr)
            return 2

    from bot.callbacks.store import CallbackStore
    from bot.launcher import Ports, Stack
    from bot.nlu.training import ensure_model

    model = args.model.resolve() if args.model else ensure_model()
    work = Path(tempfile.mkdtemp(prefix="rg-eval-"))
    database_url = f"sqlite:///{work / 'callbacks.sqlite3'}"
    CallbackStore(database_url).close()  # created and migrated before the action server uses it
    token = secrets.token_urlsafe(24)
    stack = Stack(model=model, ports=Ports.free(),
                  env={"RG_DATABASE_URL": database_url, "RG_SMTP_HOST": "", **CHAT_LIMITS_LIFTED},
                  log_dir=work / "logs", api_token=token)
    started = time.monotonic()
    summary: dict = {"date": time.strftime("%Y-%m-%d"), "model": model.name,
                     "questions_file": str(args.questions.name), "callers_file": str(args.callers.name)}
    store = CallbackStore(database_url)
    stack.start()
    try:
        stack.wait_until_ready()

        def visitor() -> Visitor:
            return Visitor(stack.web_url, stack.rasa_url, token)

        if args.only in (None, "questions"):
            results = questions.run(_load(args.questions), visitor)
            summary["questions"] = questions.figures(results)
        if args.only in (None, "callers"):
            played = [callers.play(persona, visitor(), store.list) for persona in _load(args.callers)]
            summary["callers"] = callers.figures(played)
    finally:
        stack.stop()
        store.close()
    summary["seconds"] = round(time.monotonic() - started)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "evaluation.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = report(summary)
    (args.out / "evaluation.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
