"""Run the whole assistant: action server, Rasa server and the website app, together.

`python -m bot.launcher` (what `make run` calls) trains the model if needed, starts the three
processes on loopback, says where to talk to the assistant, and stops every one of them on Ctrl-C.

While they run it supervises them: a process that exits, or stops answering its health check, is
started again after a short pause, and a process that keeps stopping (more than a few times a minute)
stops the whole assistant rather than restarting forever. The action server and Rasa share a secret made
for each start (unless RG_ACTION_SERVER_TOKEN sets one): the action server answers nobody else.
"""
from __future__ import annotations

import http.client
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, TextIO

from bot.nlu.training import ensure_model
from bot.settings import PROJECT_ROOT, load_settings

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 240
ACTION_TOKEN_ENV = "RG_ACTION_SERVER_TOKEN"  # read by bot/action_server.py, sent by Rasa (endpoints.yml)
CHECK_INTERVAL_S = 2.0  # between health checks
POLL_INTERVAL_S = 0.25  # between looks at whether a process has exited, or is due to start again
# The pause before the 1st, 2nd, ... restart of a process within a minute; one more restart than this
# within a minute stops everything (a process that cannot start will not start by trying forever).
RESTART_BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)
RESTARTS_PER_MINUTE = len(RESTART_BACKOFF_S)


@dataclass(frozen=True)
class HealthCheck:
    path: str
    timeout_s: float
    failures: int  # failed checks in a row, once it has answered since starting, before it is replaced
    # How long it may take to answer for the first time after starting before it is replaced: a process that
    # hangs before its first check is not left for Rasa's whole loading time.
    start_timeout_s: float = READY_TIMEOUT_S


HEALTH_CHECKS = {
    "actions": HealthCheck("/health", timeout_s=2.0, failures=3, start_timeout_s=30.0),
    # Rasa's event loop also runs the model, so under heavy load it can be slow to answer for a while, and
    # replacing it loses every conversation (they are kept in its memory only): it is given much longer.
    "rasa": HealthCheck("/", timeout_s=5.0, failures=6),
    "web": HealthCheck("/healthz", timeout_s=3.0, failures=3, start_timeout_s=30.0),
}


class GaveUp(RuntimeError):
    """A process stopped more often within a minute than RESTARTS_PER_MINUTE allows."""


@dataclass
class _Watch:
    """What the supervisor knows of one process since it was last started."""

    started_at: float
    answered: bool = False  # has answered its health check since it started
    failures: int = 0  # failed health checks in a row
    restart_at: Optional[float] = None  # set once it has stopped or been stopped: when to start it again


def free_port() -> int:
    """A port nothing listens on now, on loopback (for tests and tools that start their own stack)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Ports:
    rasa: int = 5005
    actions: int = 5055
    web: int = 8000

    @classmethod
    def free(cls) -> "Ports":
        return cls(rasa=free_port(), actions=free_port(), web=free_port())


@dataclass
class Stack:
    """The three processes of a running assistant."""

    model: Path
    ports: Ports = field(default_factory=Ports)
    env: Dict[str, str] = field(default_factory=dict)
    log_dir: Optional[Path] = None  # None: children write to this terminal
    # Rasa's HTTP API (conversation trackers) on loopback, behind this token; off unless a tool needs it.
    api_token: Optional[str] = None
    # The endpoints file Rasa reads; None: endpoints.yml, with this stack's action server port.
    endpoints: Optional[Path] = None
    # The secret Rasa sends the action server with every call; None: RG_ACTION_SERVER_TOKEN, or a new one.
    action_token: Optional[str] = field(default=None, repr=False)
    processes: Dict[str, subprocess.Popen] = field(default_factory=dict)
    # When each process was restarted (time.monotonic()), by name.
    restarts: Dict[str, List[float]] = field(default_factory=dict)
    _logs: Dict[str, TextIO] = field(default_factory=dict)
    _commands: Dict[str, List[str]] = field(default_factory=dict)
    _watches: Dict[str, _Watch] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _stopping: bool = False
    _next_check_at: float = 0.0

    def __post_init__(self) -> None:
        if self.action_token is None:
            configured = self.env.get(ACTION_TOKEN_ENV) or os.environ.get(ACTION_TOKEN_ENV)
            self.action_token = configured or secrets.token_urlsafe(32)

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.web}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.rasa}"

    def _environment(self, name: str) -> Dict[str, str]:
        env = {
            **os.environ,
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "RG_RASA_URL": self.rasa_url,
            "RG_WEB_PORT": str(self.ports.web),
            "RG_ACTION_SERVER_PORT": str(self.ports.actions),
            **self.env,
        }
        env.pop(ACTION_TOKEN_ENV, None)
        if name in ("actions", "rasa"):  # only the two that use it
            env[ACTION_TOKEN_ENV] = self.action_token or ""
        return env

    def _endpoints_file(self) -> Path:
        if self.endpoints is not None:
            return self.endpoints
        if self.ports.actions == 5055:
            return PROJECT_ROOT / "endpoints.yml"
        endpoints = (PROJECT_ROOT / "endpoints.yml").read_text().replace(
            "http://127.0.0.1:5055/webhook", f"http://127.0.0.1:{self.ports.actions}/webhook"
        )
        handle = tempfile.NamedTemporaryFile("w", suffix="-endpoints.yml", delete=False)
        handle.write(endpoints)
        handle.close()
        return Path(handle.name)

    def _spawn(self, name: str, command: List[str]) -> None:
        output = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            # A restarted process writes after its earlier self: what it logged before stopping is kept.
            output = open(self.log_dir / f"{name}.log", "a" if name in self._logs else "w")
            if name in self._logs:
                self._logs[name].close()
            self._logs[name] = output
        self._commands[name] = command
        self.processes[name] = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=self._environment(name),
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            start_new_session=True,  # Ctrl-C reaches the launcher only; it stops each child itself
        )
        self._watches[name] = _Watch(started_at=time.monotonic())

    def start_rasa_and_actions(self) -> None:
        self._spawn("actions", [sys.executable, "-m", "bot.action_server", "--port", str(self.ports.actions)])
        api = ["--enable-api", "--auth-token", self.api_token] if self.api_token else []
        self._spawn("rasa", [
            sys.executable, "-m", "bot.nlu.rasa_server", "run", "--model", str(self.model),
            "--interface", "127.0.0.1", "--port", str(self.ports.rasa),
            "--endpoints", str(self._endpoints_file()), "--credentials", str(PROJECT_ROOT / "credentials.yml"),
            *api,
        ])

    def start(self) -> None:
        self.start_rasa_and_actions()
        self._spawn("web", [sys.executable, "-m", "bot.web"])

    def wait_until_ready(self, timeout_s: float = READY_TIMEOUT_S, should_stop=lambda: False) -> None:
        checks = {
            "actions": f"http://127.0.0.1:{self.ports.actions}/health",
            "rasa": f"{self.rasa_url}/",
            "web": f"{self.web_url}/widget.js",
        }
        deadline = time.monotonic() + timeout_s
        pending = dict(checks)
        while pending and not should_stop():
            for name, url in list(pending.items()):
                if self.processes[name].poll() is not None:
                    raise RuntimeError(f"The {name} process stopped while starting (exit code "
                                       f"{self.processes[name].returncode}){self._log_hint(name)}")
                try:
                    with urllib.request.urlopen(url, timeout=2) as response:
                        if response.status == 200:
                            del pending[name]
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"Still not ready after {timeout_s:.0f} s: {', '.join(pending)}")
            if pending:
                time.sleep(0.5)

    def _log_hint(self, name: str) -> str:
        return f"; see {self.log_dir / (name + '.log')}" if self.log_dir else ""

    def first_exited(self) -> Optional[str]:
        return next((name for name, p in self.processes.items() if p.poll() is not None), None)

    def health_url(self, name: str) -> str:
        port = {"actions": self.ports.actions, "rasa": self.ports.rasa, "web": self.ports.web}[name]
        return f"http://127.0.0.1:{port}{HEALTH_CHECKS[name].path}"

    def _answers(self, name: str) -> bool:
        try:
            with urllib.request.urlopen(self.health_url(name), timeout=HEALTH_CHECKS[name].timeout_s) as response:
                return response.status == 200
        except (OSError, http.client.HTTPException):  # refused, reset, timed out, or not HTTP at all
            return False

    def supervise_once(self) -> None:
        """One round of supervision: notices what has exited, starts again what is due, and every
        CHECK_INTERVAL_S checks the health of the rest (all at once, so one slow check delays no other).
        Raises GaveUp."""
        with self._lock:
            if self._stopping:
                return
            now = time.monotonic()
            for name, process in list(self.processes.items()):
                watch = self._watches[name]
                if watch.restart_at is not None:
                    if now >= watch.restart_at:
                        self._restart(name)
                elif process.poll() is not None:
                    self._schedule_restart(name, "exited")
            if now < self._next_check_at:
                return
            self._next_check_at = now + CHECK_INTERVAL_S
            alive = [(name, process) for name, process in self.processes.items()
                     if self._watches[name].restart_at is None and process.poll() is None]
        if not alive:
            return
        with ThreadPoolExecutor(max_workers=len(alive)) as pool:
            answers = list(pool.map(lambda item: self._answers(item[0]), alive))
        with self._lock:
            for (name, process), answered in zip(alive, answers):
                watch = self._watches[name]
                if self._stopping or self.processes[name] is not process or watch.restart_at is not None:
                    continue
                if answered:
                    watch.answered, watch.failures = True, 0
                    continue
                watch.failures += 1
                if watch.answered and watch.failures >= HEALTH_CHECKS[name].failures:
                    self._kill(process)
                    self._schedule_restart(name, "stopped answering")
                elif not watch.answered and time.monotonic() - watch.started_at > HEALTH_CHECKS[name].start_timeout_s:
                    self._kill(process)
                    self._schedule_restart(name, "did not start")

    def _schedule_restart(self, name: str, reason: str) -> None:
        now = time.monotonic()
        recent = [t for t in self.restarts.get(name, []) if now - t < 60]
        if len(recent) >= RESTARTS_PER_MINUTE:
            raise GaveUp(f"The {name} process keeps stopping ({len(recent)} restarts within a minute)")
        pause = RESTART_BACKOFF_S[len(recent)]
        log.warning("The %s process %s; starting it again in %.1f s", name, reason, pause)
        self._watches[name].restart_at = now + pause

    def _restart(self, name: str) -> None:
        self._kill(self.processes[name])
        self.restarts.setdefault(name, []).append(time.monotonic())
        self._spawn(name, self._commands[name])
        log.warning("Started the %s process again", name)

    @staticmethod
    def _kill(process: subprocess.Popen) -> None:
        """Stops a process that has exited or hung (a stopped one included) and all it started, at once."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.error("Process %s did not stop after SIGKILL", process.pid)

    def stop(self) -> None:
        with self._lock:
            self._stopping = True  # the supervisor starts nothing again from now on
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    os.killpg(process.pid, signal.SIGCONT)  # a stopped (SIGSTOP) process handles SIGTERM only then
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for output in self._logs.values():
            output.close()


class Supervisor(threading.Thread):
    """Runs Stack.supervise_once() every POLL_INTERVAL_S until stopped, or until a process keeps stopping
    (then `gave_up` says which, and the caller stops the assistant)."""

    def __init__(self, stack: Stack, interval_s: float = POLL_INTERVAL_S) -> None:
        super().__init__(name="supervisor", daemon=True)
        self.stack = stack
        self.interval_s = interval_s
        self.gave_up: Optional[GaveUp] = None
        self._stop_requested = threading.Event()

    def run(self) -> None:
        while not self._stop_requested.is_set():
            try:
                self.stack.supervise_once()
            except GaveUp as error:
                self.gave_up = error
                return
            except Exception:  # noqa: BLE001  (supervision must outlive its own mistakes)
                log.exception("Supervising the processes failed; trying again")
            self._stop_requested.wait(self.interval_s)

    def stop(self) -> None:
        self._stop_requested.set()
        if self.is_alive():
            self.join(timeout=30)


def main() -> int:
    settings = load_settings()
    from bot.callbacks.store import CallbackStore, StoreUnavailable

    # The one place `make run` creates or upgrades the database: the services it starts only open an existing one.
    try:
        CallbackStore.create_or_upgrade(settings.database_url)
    except StoreUnavailable as exc:
        print(f"{exc} Check RG_DATABASE_URL.", file=sys.stderr)
        return 1
    try:
        model = ensure_model()
    except subprocess.CalledProcessError:
        print("Training failed; see the messages above.", file=sys.stderr)
        return 1
    stack = Stack(model=model, ports=Ports(web=settings.web_port, actions=settings.action_server_port))
    stopping = False

    def request_stop(signum, frame):  # noqa: ARG001
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # restarts, on this terminal
    supervisor = Supervisor(stack)
    stack.start()
    try:
        print("Starting the action server, the Rasa server and the website (about 30 seconds)...", flush=True)
        stack.wait_until_ready(should_stop=lambda: stopping)
        if stopping:
            return 0
        print(
            f"\nThe assistant is ready. Talk to it at {stack.web_url}/\n"
            f"Staff page: {stack.web_url}/staff    Embed snippet: {stack.web_url}/embed\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        supervisor.start()
        while not stopping and supervisor.is_alive():
            time.sleep(0.5)
        if supervisor.gave_up is not None and not stopping:
            print(f"{supervisor.gave_up}; stopping the others.", file=sys.stderr)
            return 1
        return 0
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        supervisor.stop()
        print("Stopping...", flush=True)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
