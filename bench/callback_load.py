"""`make load`: many visitors asking for a callback at once; nobody who asked may be left without an answer.

Starts the assistant (bot.launcher.Stack, its own temporary SQLite database, free loopback ports), sends
--users visitors through the website's POST /chat for --seconds with Locust (bench/callback_locustfile.py,
run from bench/.venv), then checks what each visitor was told against the store:

- every reference a visitor was given is in the store exactly once;
- every stored request was confirmed to its visitor;
- no visitor's conversation ended without a reference or an honest "not saved, please try again" (lost);
- no reply was a 5xx;
- no phone number any visitor typed appears in any log the stack wrote.

Writes bench/results/callback_load.json and .md (the figures the benchmark report quotes) and exits 1 if any
check fails.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from bench.load import LOCUST, aggregated, load_average  # noqa: E402
from bot.callbacks.store import CallbackStore  # noqa: E402
from bot.launcher import Ports, Stack  # noqa: E402
from bot.nlu.training import ensure_model  # noqa: E402

# All visitors come from 127.0.0.1 here; a real site's visitors come from many addresses, so the per-address
# chat limit is lifted for this run (the per-visitor limit stays as configured).
LOAD_ENV = {"RG_CHAT_LIMIT_PER_ADDRESS": "100000"}


def run(users: int, seconds: int, think_s: float, work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    database = Path(tempfile.mkdtemp(prefix="load-db-", dir=work)) / "callbacks.sqlite3"
    outcomes_path = work / "outcomes.jsonl"
    outcomes_path.unlink(missing_ok=True)
    stack = Stack(model=ensure_model(), ports=Ports.free(), log_dir=work / "logs",
                  env={"RG_DATABASE_URL": f"sqlite:///{database}", "RG_SMTP_HOST": "", **LOAD_ENV})
    CallbackStore.create_or_upgrade(f"sqlite:///{database}")  # as `make run` does; the services never create it
    stack.start()
    try:
        stack.wait_until_ready()
        before = load_average()
        started = time.monotonic()
        subprocess.run(
            [str(LOCUST), "-f", str(BENCH / "callback_locustfile.py"), "--headless", "-u", str(users),
             "-r", str(max(1, users // 10)), "--run-time", f"{seconds}s", "--stop-timeout", "120",
             "--host", stack.web_url, "--csv", str(work / "locust"), "--only-summary", "--loglevel", "WARNING"],
            env={**os.environ, "BENCH_OUTCOMES": str(outcomes_path), "BENCH_THINK_S": str(think_s)},
            stdout=open(work / "locust.log", "w"), stderr=subprocess.STDOUT, timeout=seconds + 300, check=False,
        )
        wall = round(time.monotonic() - started, 1)
        store = CallbackStore(f"sqlite:///{database}")
        stored = Counter(record.reference for record in store.list())
        store.close()
    finally:
        stack.stop()
    outcomes = [json.loads(line) for line in outcomes_path.read_text().splitlines()]
    given = Counter(o["reference"] for o in outcomes if o["outcome"] == "confirmed")
    logs = "".join(path.read_text(errors="replace") for path in (work / "logs").glob("*.log"))
    phones = {o["phone"] for o in outcomes}
    typed_in_logs = sorted(p for p in phones if p in logs or "+44" + p.replace(" ", "")[1:] in logs)
    http = aggregated(work / "locust_stats.csv")
    figures = {
        "users": users, "seconds": seconds, "think_s": think_s, "wall_seconds": wall,
        "load_before": before, "load_after": load_average(),
        "conversations": len(outcomes), "outcomes": dict(Counter(o["outcome"] for o in outcomes)),
        "server_errors": sum(o["server_errors"] for o in outcomes),
        "rows": sum(stored.values()),
        "references_not_stored_once": sorted(r for r in given if stored.get(r) != 1),
        "rows_never_confirmed": sorted(r for r in stored if r not in given),
        "phones_in_logs": len(typed_in_logs),
        "http": http,
    }
    figures["passed"] = (figures["outcomes"].get("lost", 0) == 0 and figures["server_errors"] == 0
                         and not figures["references_not_stored_once"] and not figures["rows_never_confirmed"]
                         and not typed_in_logs and figures["conversations"] > 0)
    return figures


def markdown(f: dict) -> str:
    o, h = f["outcomes"], f["http"]
    return (
        f"# Callback requests under load (`make load`)\n\n"
        f"{f['users']} visitors for {f['seconds']} s through POST /chat ({f['think_s']} s between messages), each "
        f"with a greeting, a question and a complete callback request; {f['wall_seconds']} s in all, load average "
        f"{f['load_before']} before and {f['load_after']} after.\n\n"
        "| Figure | Value |\n|---|---|\n"
        f"| Conversations | {f['conversations']} |\n"
        f"| Confirmed with a reference | {o.get('confirmed', 0)} |\n"
        f"| Told honestly it was not saved / to try again | {o.get('honest', 0)} |\n"
        f"| Left without an answer (lost) | {o.get('lost', 0)} |\n"
        f"| Rows in the store | {f['rows']} |\n"
        f"| References not stored exactly once | {len(f['references_not_stored_once'])} |\n"
        f"| Stored but never confirmed to the visitor | {len(f['rows_never_confirmed'])} |\n"
        f"| Replies with a 5xx status | {f['server_errors']} |\n"
        f"| Typed phone numbers found in the logs | {f['phones_in_logs']} |\n"
        f"| Requests | {h['requests']} |\n"
        f"| p50 / p95 / p99 per message | {h['p50_ms']:.0f} / {h['p95_ms']:.0f} / {h['p99_ms']:.0f} ms |\n"
        f"| Messages/s | {h['msgs_per_s']} |\n\n"
        f"Result: {'passed' if f['passed'] else 'FAILED'}.\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--think", type=float, default=1.0, help="seconds between two messages of one visitor")
    parser.add_argument("--work", type=Path, default=BENCH / "work" / "callback-load")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args()
    figures = run(args.users, args.seconds, args.think, args.work)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "callback_load.json").write_text(json.dumps(figures, indent=2) + "\n")
    text = markdown(figures)
    (args.out / "callback_load.md").write_text(text)
    print(text)
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
