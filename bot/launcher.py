"""Run the whole assistant: action server, Rasa server and the website app, together.

`python -m bot.launcher` (what `make run` calls) trains the model if needed, starts the three
processes on loopback, says where to talk to the assistant, and stops every one of them on Ctrl-C
or when any of them exits.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, TextIO

from bot.nlu.training import ensure_model, rasa_executable
from bot.settings import PROJECT_ROOT, load_settings

READY_TIMEOUT_S = 240


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
    processes: Dict[str, subprocess.Popen] = field(default_factory=dict)
    _logs: List[TextIO] = field(default_factory=list)

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.web}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.rasa}"

    def _environment(self) -> Dict[str, str]:
        return {
            **os.environ,
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "SANIC_HOST": "127.0.0.1",  # rasa-sdk's action server reads its interface from here
            "RG_RASA_URL": self.rasa_url,
            "RG_WEB_PORT": str(self.ports.web),
            "RG_ACTION_SERVER_PORT": str(self.ports.actions),
            **self.env,
        }

    def _endpoints_file(self) -> Path:
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
            output = open(self.log_dir / f"{name}.log", "w")
            self._logs.append(output)
        self.processes[name] = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=self._environment(),
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            start_new_session=True,  # Ctrl-C reaches the launcher only; it stops each child itself
        )

    def start_rasa_and_actions(self) -> None:
        self._spawn("actions", [rasa_executable(), "run", "actions", "--actions", "actions",
                                "--port", str(self.ports.actions)])
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

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for log in self._logs:
            log.close()


def main() -> int:
    settings = load_settings()
    from bot.callbacks.store import CallbackStore

    CallbackStore.from_settings(settings).close()  # creates or migrates the database before anything uses it
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
        while not stopping and stack.first_exited() is None:
            time.sleep(0.5)
        exited = stack.first_exited()
        if exited and not stopping:
            print(f"The {exited} process stopped unexpectedly; stopping the others.", file=sys.stderr)
            return 1
        return 0
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        print("Stopping...", flush=True)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
