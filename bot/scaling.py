"""The scaled set-up on one machine: Redis, PostgreSQL and nginx from Debian's packages on loopback, in front of
several replicas of the assistant (action server, Rasa server, website app), all configured as production would
be (deploy/endpoints.scaled.yml, deploy/nginx.conf.j2, RG_REDIS_URL, a PostgreSQL RG_DATABASE_URL).

`python -m bot.scaling run --replicas 2` (make run-scaled) starts it to try by hand; `make test-scale` and the
throughput benchmark start it from Python (LocalCluster). `python -m bot.scaling nginx ...` renders the load
balancer's configuration for real machines. Nothing here replaces Rasa's own scaling: the replicas share
conversations through Rasa's RedisTrackerStore and take turns through its RedisLockStore.
"""
from __future__ import annotations

import argparse
import glob
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.launcher import Ports, Stack, Supervisor, free_port
from bot.settings import PROJECT_ROOT

DEPLOY_DIR = PROJECT_ROOT / "deploy"
SCALED_ENDPOINTS = DEPLOY_DIR / "endpoints.scaled.yml"
# Rasa forgets a conversation an hour after its last message on one machine; Redis does the same here.
CONVERSATION_EXPIRY_S = 60 * 60
READY_TIMEOUT_S = 600.0


def render_nginx(upstreams: Dict[str, Sequence[str]], *, run_dir: Path, web_port: int, rasa_port: int,
                 actions_port: int, listen_host: str = "127.0.0.1", private_host: str = "127.0.0.1",
                 user: Optional[str] = None) -> str:
    environment = Environment(loader=FileSystemLoader(str(DEPLOY_DIR)), undefined=StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return environment.get_template("nginx.conf.j2").render(
        upstreams=upstreams, run_dir=run_dir, web_port=web_port, rasa_port=rasa_port, actions_port=actions_port,
        listen_host=listen_host, private_host=private_host, user=user,
    )


def server_binary(name: str) -> str:
    """A server program from Debian's packages: on PATH, or where Debian puts PostgreSQL's."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)),
                                       None) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if not found:
        raise RuntimeError(f"{name} is not installed: `make test-setup` installs it from Debian's packages")
    return found


def _wait_for(url: str, timeout_s: float, process: Optional[subprocess.Popen] = None) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"stopped while starting (exit code {process.returncode}): {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"not ready after {timeout_s:.0f} s: {url}")
        time.sleep(0.5)


@dataclass
class LocalCluster:
    model: Path
    replicas: int = 2
    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rg-cluster-")))
    env: Dict[str, str] = field(default_factory=dict)
    conversation_expiry_s: int = CONVERSATION_EXPIRY_S
    # Start a process again when it stops or hangs, as a cluster's restart policy does (bot.launcher.Supervisor).
    supervise: bool = True
    stacks: List[Stack] = field(default_factory=list)
    supervisors: List[Supervisor] = field(default_factory=list)
    ports: Dict[str, int] = field(default_factory=dict)
    _services: Dict[str, subprocess.Popen] = field(default_factory=dict)
    _run_as: List[str] = field(default_factory=list)
    _postgres_dir: Optional[Path] = None

    @property
    def web_url(self) -> str:
        """The public address: nginx in front of the website apps."""
        return f"http://127.0.0.1:{self.ports['web']}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['rasa']}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports['redis']}/2"

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.ports['postgres']}/postgres"

    def start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.ports = {name: free_port() for name in ("redis", "postgres", "web", "rasa", "actions")}
        self._start_redis()
        self._start_postgres()
        from bot.callbacks.store import CallbackStore

        CallbackStore.create_or_upgrade(self.database_url)
        token = secrets.token_urlsafe(32)
        secret_key = secrets.token_urlsafe(32)
        for number in range(self.replicas):
            stack = Stack(
                model=self.model, ports=Ports.free(), log_dir=self.work_dir / f"replica-{number + 1}",
                action_token=token, endpoints=SCALED_ENDPOINTS,
                env={
                    "RG_DATABASE_URL": self.database_url,
                    "RG_REDIS_URL": self.redis_url,
                    "RG_SECRET_KEY": secret_key,
                    "RG_RASA_URL": self.rasa_url,
                    "RG_ACTION_SERVER_URL": f"http://127.0.0.1:{self.ports['actions']}/webhook",
                    "RG_REDIS_HOST": "127.0.0.1",
                    "RG_REDIS_PORT": str(self.ports["redis"]),
                    "RG_CONVERSATION_EXPIRY_S": str(self.conversation_expiry_s),
                    "RG_REAL_IP_HEADER": "X-Real-IP",
                    "RG_ALLOWED_ORIGINS": self.web_url,
                    **self.env,
                },
            )
            self.stacks.append(stack)
        self._start_nginx()
        for stack in self.stacks:
            stack.start()
        for stack in self.stacks:
            stack.wait_until_ready(READY_TIMEOUT_S)
        _wait_for(self.web_url + "/healthz", 30, self._services["nginx"])
        if self.supervise:
            self.supervisors = [Supervisor(stack) for stack in self.stacks]
            for supervisor in self.supervisors:
                supervisor.start()

    def _spawn(self, name: str, command: List[str]) -> subprocess.Popen:
        log = open(self.work_dir / f"{name}.log", "w")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._services[name] = process
        return process

    def _start_redis(self) -> None:
        self._spawn("redis", [server_binary("redis-server"), "--port", str(self.ports["redis"]),
                              "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.work_dir)])
        deadline = time.monotonic() + 30
        import redis

        while True:
            try:
                redis.Redis(port=self.ports["redis"], socket_timeout=1).ping()
                return
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError("Redis did not start") from None
                time.sleep(0.2)

    def _start_postgres(self) -> None:
        # Its own folder, outside work_dir: a test's temporary folder is open to its owner only.
        data = self._postgres_dir = Path(tempfile.mkdtemp(prefix="rg-cluster-pg-"))
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            self._run_as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(data, "postgres")
        subprocess.run([*self._run_as, server_binary("initdb"), "-D", str(data / "db"), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8"], check=True, capture_output=True, timeout=120)
        subprocess.run([*self._run_as, server_binary("pg_ctl"), "-D", str(data / "db"), "-w", "-l",
                        str(data / "log"), "-o", f"-p {self.ports['postgres']} -k {data} -h 127.0.0.1", "start"],
                       check=True, capture_output=True, timeout=60)

    def nginx_config(self) -> str:
        return render_nginx(
            {
                "web": [f"127.0.0.1:{s.ports.web}" for s in self.stacks],
                "rasa": [f"127.0.0.1:{s.ports.rasa}" for s in self.stacks],
                "actions": [f"127.0.0.1:{s.ports.actions}" for s in self.stacks],
            },
            run_dir=self.work_dir / "nginx", web_port=self.ports["web"], rasa_port=self.ports["rasa"],
            actions_port=self.ports["actions"], user="root" if os.geteuid() == 0 else None,
        )

    def _start_nginx(self) -> None:
        run_dir = self.work_dir / "nginx"
        run_dir.mkdir()
        config = run_dir / "nginx.conf"
        config.write_text(self.nginx_config())
        nginx = server_binary("nginx")
        subprocess.run([nginx, "-t", "-c", str(config), "-p", str(run_dir)], check=True, capture_output=True)
        self._spawn("nginx", [nginx, "-c", str(config), "-p", str(run_dir), "-g", "daemon off;"])

    def stop(self) -> None:
        for supervisor in self.supervisors:
            supervisor.stop()
        for stack in self.stacks:
            stack.stop()
        for process in self._services.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
        if self._postgres_dir is not None:
            data = self._postgres_dir / "db"
            if data.exists():
                subprocess.run([*self._run_as, server_binary("pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                               capture_output=True, timeout=60)
            shutil.rmtree(self._postgres_dir, ignore_errors=True)

    def __enter__(self) -> "LocalCluster":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.scaling", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start the scaled set-up on this machine, on loopback")
    run.add_argument("--replicas", type=int, default=2)
    nginx = commands.add_parser("nginx", help="print nginx's configuration for the given replicas")
    for name in ("web", "rasa", "actions"):
        nginx.add_argument(f"--{name}", required=True, help=f"{name} replicas, host:port,host:port")
    nginx.add_argument("--listen", default="0.0.0.0:80", help="public address for the website apps")
    nginx.add_argument("--private", default="127.0.0.1", help="interface for Rasa's and the actions' balancers")
    nginx.add_argument("--rasa-port", type=int, default=5005)
    nginx.add_argument("--actions-port", type=int, default=5055)
    nginx.add_argument("--run-dir", default="/run/nginx")
    args = parser.parse_args(argv)
    if args.command == "nginx":
        host, _, port = args.listen.rpartition(":")
        print(render_nginx({name: getattr(args, name).split(",") for name in ("web", "rasa", "actions")},
                           run_dir=Path(args.run_dir), web_port=int(port), rasa_port=args.rasa_port,
                           actions_port=args.actions_port, listen_host=host, private_host=args.private), end="")
        return 0
    from bot.nlu.training import ensure_model

    with LocalCluster(model=ensure_model(), replicas=args.replicas, work_dir=PROJECT_ROOT / "var" / "cluster"
                      ) as cluster:
        print(f"\nThe scaled set-up is ready: {cluster.web_url}/ ({args.replicas} replicas; logs in "
              f"{cluster.work_dir}). Ctrl+C stops it.", flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
