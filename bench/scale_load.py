"""`make bench-scale`: the same load on the scaled set-up with one and with two replicas of every process.

Each run starts bot.scaling.LocalCluster (Redis, PostgreSQL and nginx from Debian's packages, N action servers,
N Rasa servers, N website apps, all on loopback), sends --users visitors through nginx to POST /chat with Locust
(bench/locustfile.py: a greeting, three questions and a whole callback request each), and records messages/s and
latency. Writes bench/results/scale.json and scale.md.

On one 2-core machine this shows that the work spreads over replicas and nothing is lost; a Rasa server uses
about one core, so the second replica's gain here stops at the machine's second core. Real machines each bring
their own cores.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from bench.load import load_average, run_locust, warm_up  # noqa: E402
from bot.nlu.training import ensure_model  # noqa: E402
from bot.scaling import LocalCluster  # noqa: E402
from bot.settings import CHAT_LIMITS_LIFTED  # noqa: E402

RESULTS = BENCH / "results"
# Through each Rasa replica at least once (nginx takes turns), so nothing loads lazily while measuring.
WARM_UP = ["hello", "is it free", "what is restorative justice", "is it confidential"]


def measure(replicas: int, users: int, seconds: int, think_s: float, work: Path) -> dict:
    with LocalCluster(model=ensure_model(), replicas=replicas, work_dir=work / f"cluster-{replicas}",
                      env={"RG_SMTP_HOST": "", **CHAT_LIMITS_LIFTED}) as cluster:
        warm_up(cluster.web_url, "/chat", WARM_UP)
        before = load_average()
        figures = run_locust("ours", cluster.web_url, "/chat", users, seconds, work / f"replicas-{replicas}",
                             think_s)
        figures.update(replicas=replicas, users=users, seconds=seconds, load_before=before,
                       load_after=load_average(), cores=os.cpu_count())
        return figures


def markdown(runs: list) -> str:
    lines = [
        "# The scaled set-up with one and two replicas",
        "",
        f"`make bench-scale`: {runs[0]['users']} visitors for {runs[0]['seconds']} s through nginx to POST /chat "
        "(a greeting, three questions and a callback request each), Redis tracker and lock stores, PostgreSQL.",
        "",
        "| replicas | messages | failed | messages/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(f"| {run['replicas']} | {run['requests']} | {run['errors']} | {run['msgs_per_s']} | "
                     f"{run['p50_ms']:.0f} | {run['p95_ms']:.0f} | {run['p99_ms']:.0f} |")
    gain = runs[-1]["msgs_per_s"] / runs[0]["msgs_per_s"] if runs[0]["msgs_per_s"] else 0
    lines += ["", f"Two replicas handled {gain:.2f} times the messages of one, on the same {runs[0]['cores']} cores, "
              "with nothing lost. A Rasa server does its work on one event loop, so it uses about one core: a second "
              "replica can use this machine's other core, and that is all it can show here. Past the machine's cores "
              "more replicas add nothing on one machine; on separate machines each brings its own. Latency is what "
              "visitors would see while this machine is saturated by design (think time 0.5 s).", ""]
    return "\n".join(lines)


def write(runs: list) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(runs, indent=2) + "\n")
    (RESULTS / "scale.md").write_text(markdown(runs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--think", type=float, default=0.5)
    parser.add_argument("--work", type=Path, default=BENCH / "work" / "scale")
    args = parser.parse_args()
    runs = []
    for replicas in (1, 2):
        started = time.monotonic()
        runs.append(measure(replicas, args.users, args.seconds, args.think, args.work))
        print(f"{replicas} replica(s): {runs[-1]['msgs_per_s']} messages/s, p95 {runs[-1]['p95_ms']:.0f} ms "
              f"({time.monotonic() - started:.0f} s)", flush=True)
    write(runs)
    print(markdown(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
