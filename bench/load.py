"""Latency, throughput and memory of the running assistant, beside the stock `rasa init` assistant.

Runs in the assistant's venv (it starts bot.launcher.Stack). Both systems run at the same time on free
loopback ports, each with its own state (ours: a temporary SQLite database), and the load runs alternate
between them at each concurrency, so a busy moment on the machine hits both. The load comes from Locust,
headless, in bench/.venv (bench/locustfile.py). After the load, the peak resident memory (VmHWM, summed over
each process and its children) of every server is read from /proc. Writes <work>/load.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Dict, List, Optional

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from bot.launcher import Ports, Stack, free_port  # noqa: E402
from bot.nlu.training import ensure_model, rasa_executable  # noqa: E402
from bot.settings import CHAT_LIMITS_LIFTED  # noqa: E402

LOCUST = BENCH / ".venv" / "bin" / "locust"
RASA_ENV = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
REST_PATH = "/webhooks/rest/webhook"


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def process_tree(pid: int) -> List[int]:
    children: Dict[int, List[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time used so far by the process and its children (TensorFlow's threads included)."""
    ticks = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> Optional[float]:
    """VmHWM (peak resident set) of the process and its children, in MB."""
    total_kb = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return round(total_kb / 1024, 1) if total_kb else None


class BenchStack(Stack):
    """The assistant's stack, optionally without the website app (before it exists)."""

    include_web: bool = True

    def start(self) -> None:
        if self.include_web:
            return super().start()
        self.start_rasa_and_actions()

    def wait_until_ready(self, timeout_s: float = 300) -> None:
        if self.include_web:
            return super().wait_until_ready(timeout_s)
        wait_for({"actions": f"http://127.0.0.1:{self.ports.actions}/health", "rasa": f"{self.rasa_url}/"},
                 self.processes, timeout_s)


def wait_for(checks: Dict[str, str], processes: Dict[str, subprocess.Popen], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = dict(checks)
    while pending:
        for name, url in list(pending.items()):
            if processes[name].poll() is not None:
                raise RuntimeError(f"{name} stopped while starting (exit code {processes[name].returncode})")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        del pending[name]
            except OSError:
                pass
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"not ready after {timeout_s:.0f} s: {', '.join(pending)}")
        if pending:
            time.sleep(0.5)


class StockServer:
    """`rasa run` of the stock demo assistant, REST channel only (it needs no action server)."""

    def __init__(self, project: Path, model: Path, log: Path) -> None:
        self.port = free_port()
        self.log = open(log, "w")
        self.process = subprocess.Popen(
            [rasa_executable(), "run", "--model", str(model), "--interface", "127.0.0.1", "--port", str(self.port),
             "--credentials", str(project / "credentials.yml")],
            cwd=project, env={**os.environ, **RASA_ENV}, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_until_ready(self, timeout_s: float = 300) -> None:
        wait_for({"rasa": f"{self.url}/"}, {"rasa": self.process}, timeout_s)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


def ensure_stock(project: Path) -> Path:
    """Creates and trains the stock `rasa init` assistant once; later runs reuse it."""
    models = sorted((project / "models").glob("*.tar.gz")) if project.exists() else []
    if models:
        return models[-1]
    project.mkdir(parents=True, exist_ok=True)
    print("Load: creating the stock `rasa init` assistant (trains once, about 2 minutes)", flush=True)
    with open(project.parent / "stock-init.log", "w") as log:
        subprocess.run([rasa_executable(), "init", "--no-prompt", "--init-dir", str(project)], cwd=project,
                       env={**os.environ, **RASA_ENV}, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=1200)
    return sorted((project / "models").glob("*.tar.gz"))[-1]


def post(url: str, sender: str, text: str, origin: str) -> object:
    request = urllib.request.Request(url, data=json.dumps({"sender": sender, "message": text}).encode(),
                                     headers={"Content-Type": "application/json", "Origin": origin})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def warm_up(host: str, path: str, messages: List[str]) -> None:
    """One conversation before measuring, so lazy loading is not counted as latency."""
    sender = str(uuid.uuid4())
    for text in messages:
        post(host + path, sender, text, host)


def run_locust(kind: str, host: str, path: str, users: int, seconds: int, prefix: Path, think_s: float) -> dict:
    env = {**os.environ, "BENCH_KIND": kind, "BENCH_PATH": path, "BENCH_THINK_S": str(think_s)}
    before = load_average()
    started = time.monotonic()
    subprocess.run(
        [str(LOCUST), "-f", str(BENCH / "locustfile.py"), "--headless", "-u", str(users), "-r", str(users),
         "--run-time", f"{seconds}s", "--stop-timeout", "30", "--host", host, "--csv", str(prefix),
         "--only-summary", "--loglevel", "WARNING"],
        env=env, stdout=open(f"{prefix}.log", "w"), stderr=subprocess.STDOUT, timeout=seconds + 120,
    )
    figures = aggregated(Path(f"{prefix}_stats.csv"))
    figures.update(users=users, seconds=seconds, wall_seconds=round(time.monotonic() - started, 1),
                   load_before=before, load_after=load_average(), failures=failures(Path(f"{prefix}_failures.csv")))
    return figures


def aggregated(path: Path) -> dict:
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return {
                    "requests": int(row["Request Count"]), "errors": int(row["Failure Count"]),
                    "p50_ms": float(row["50%"]), "p95_ms": float(row["95%"]), "p99_ms": float(row["99%"]),
                    "mean_ms": round(float(row["Average Response Time"]), 1), "max_ms": float(row["Max Response Time"]),
                    "msgs_per_s": round(float(row["Requests/s"]), 2),
                }
    raise RuntimeError(f"no aggregated row in {path}")


def failures(path: Path) -> list:
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return [{"step": row["Name"], "error": row["Error"], "count": int(row["Occurrences"])}
                for row in csv.DictReader(handle)]


def start_ours(model: Path, work: Path, include_web: bool) -> BenchStack:
    database = Path(tempfile.mkdtemp(prefix="bench-db-", dir=work)) / "callbacks.sqlite3"
    stack = BenchStack(
        model=model, ports=Ports.free(),
        env={"RG_DATABASE_URL": f"sqlite:///{database}", "RG_SMTP_HOST": "", **RASA_ENV, **CHAT_LIMITS_LIFTED},
        log_dir=work / "logs",
    )
    stack.include_web = include_web
    from bot.callbacks.store import CallbackStore

    CallbackStore.create_or_upgrade(f"sqlite:///{database}")  # as `make run` does; the services never create it
    stack.start()
    try:
        stack.wait_until_ready()
    except RuntimeError:
        stack.stop()
        raise
    return stack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=BENCH / "work" / "load")
    parser.add_argument("--users", default="1,10,50")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--think", type=float, default=0.5, help="seconds between two messages of one visitor")
    parser.add_argument("--target", choices=["auto", "chat", "rest"], default="auto",
                        help="chat: the website's POST /chat (the widget's channel); rest: Rasa's REST webhook; "
                             "auto: chat when bot/web/app.py exists")
    parser.add_argument("--stock", type=Path, default=BENCH / "work" / "stock")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    users = [int(u) for u in args.users.split(",")]

    model = ensure_model()
    stock_model = ensure_stock(args.stock)
    want_web = args.target == "chat" or (args.target == "auto" and (ROOT / "bot" / "web" / "app.py").exists())
    note = None
    print(f"Load: starting the assistant ({'website, ' if want_web else ''}Rasa, actions) and the stock "
          "assistant", flush=True)
    try:
        ours = start_ours(model, args.work, want_web)
    except RuntimeError as error:
        if args.target != "auto":
            raise
        note = f"the website app did not start ({error}); measured through Rasa's REST webhook instead"
        print(f"Load: {note}", flush=True)
        want_web = False
        ours = start_ours(model, args.work, want_web)
    stock = StockServer(args.stock, stock_model, args.work / "logs" / "stock-rasa.log")
    result = {"target": "chat" if want_web else "rest", "note": note, "think_s": args.think,
              "cpus": os.cpu_count(), "runs": {"ours": {}, "stock": {}}, "memory": {}}
    try:
        stock.wait_until_ready()
        ours_host, ours_path = (ours.web_url, "/chat") if want_web else (ours.rasa_url, REST_PATH)
        result["ours_endpoint"] = ours_host + ours_path
        result["stock_endpoint"] = stock.url + REST_PATH
        warm_messages = {"ours": ["hello", "is it free", "can someone call me back", "yes", "Sam",
                                    "07400 912345", "/affirm", "evenings", "Skip", "Skip", "/affirm"],
                           "stock": ["hello", "I'm feeling sad", "yes", "bye"]}
        warm_up(ours_host, ours_path, warm_messages["ours"])
        warm_up(stock.url, REST_PATH, warm_messages["stock"])
        rasa_pids = {"ours": ours.processes["rasa"].pid, "stock": stock.process.pid}
        for count in users:
            for kind, host, path in (("ours", ours_host, ours_path), ("stock", stock.url, REST_PATH)):
                print(f"Load: {kind}, {count} visitor(s) for {args.seconds} s", flush=True)
                cpu_before = cpu_seconds(rasa_pids[kind])
                figures = run_locust(kind, host, path, count, args.seconds, args.work / f"{kind}-u{count}", args.think)
                # The Rasa server's own CPU per message: what one message costs, whatever the queueing.
                rasa_cpu = cpu_seconds(rasa_pids[kind]) - cpu_before
                figures.update(rasa_cpu_s=round(rasa_cpu, 1),
                               rasa_cpu_ms_per_msg=round(1000 * rasa_cpu / max(figures["requests"], 1), 1))
                result["runs"][kind][str(count)] = figures
                print(f"Load: {kind} u={count}: p50 {figures['p50_ms']:.0f} ms, p95 {figures['p95_ms']:.0f} ms, "
                      f"{figures['msgs_per_s']} msgs/s, {figures['errors']} errors of {figures['requests']}, "
                      f"Rasa CPU {figures['rasa_cpu_ms_per_msg']} ms per message",
                      flush=True)
        result["memory"] = {
            "ours_rasa_mb": peak_rss_mb(ours.processes["rasa"].pid),
            "ours_actions_mb": peak_rss_mb(ours.processes["actions"].pid),
            "ours_web_mb": peak_rss_mb(ours.processes["web"].pid) if "web" in ours.processes else None,
            "stock_rasa_mb": peak_rss_mb(stock.process.pid),
        }
    finally:
        ours.stop()
        stock.stop()
    (args.work / "load.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
