"""The processes the fault tests start and kill: Celery workers and a gunicorn web server, each on
the test database, in its own process group (so that SIGKILL takes the whole of it, as the kernel's
OOM killer or a lost machine would)."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from celery import Celery

from tests.faults.services import http_request

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
_numbers = itertools.count(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Process:
    """A subprocess in its own session, with its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        self._log_file = open(log, "ab")  # noqa: SIM115 - closed in stop()/kill()
        # The command is this project's own programs (.venv/bin) with arguments the tests wrote.
        self.popen = subprocess.Popen(  # noqa: S603
            command,
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: no handler runs, nothing is acknowledged or cleaned up."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)
        self._log_file.close()

    def stop(self, timeout: float = 10) -> None:
        """A warm shutdown (SIGTERM), then SIGKILL whatever is left."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)
        self._log_file.close()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Worker(Process):
    """`celery worker` (prefork, one child: the production pool) on the test database and the
    broker's real address (not the proxy: the proxy is the web side's way to the broker)."""

    def __init__(self, env: dict[str, str], log_dir: Path, broker_url: str) -> None:
        number = next(_numbers)
        self.hostname = f"faults-{number}@localhost"
        self.application_name = f"faults-worker-{number}"
        command = [
            str(BIN / "celery"),
            "-A",
            "smart_portal",
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            self.hostname,
        ]
        # PGAPPNAME names the worker's database sessions, so a test can find them in pg_stat_activity.
        env = {**env, "PGAPPNAME": self.application_name}
        super().__init__(self.hostname, command, env, log_dir / f"worker-{number}.log")
        self.control = Celery("faults-control", broker=broker_url, set_as_current=False)
        # Celery reads CELERY_BROKER_URL from the environment before any setting (CI sets it for its
        # own worker): the read and write addresses, which it reads first, keep this app on ours.
        self.control.conf.update(broker_read_url=broker_url, broker_write_url=broker_url)

    def wait_ready(self, timeout: float = 45) -> Worker:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise AssertionError(f"the worker exited at start:\n{self.tail()}")
            if self.control.control.ping(destination=[self.hostname], timeout=0.5):
                return self
        raise AssertionError(f"the worker did not answer within {timeout} s:\n{self.tail()}")

    def kill(self) -> None:
        super().kill()
        self.control.close()

    def stop(self, timeout: float = 10) -> None:
        super().stop(timeout)
        self.control.close()


class WebServer(Process):
    """gunicorn as in production (the Dockerfile's command), with threads so that 20 requests are
    really handled at the same moment."""

    def __init__(self, env: dict[str, str], log_dir: Path, *, workers: int = 2, threads: int = 10) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        command = [
            str(BIN / "gunicorn"),
            "smart_portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--timeout",
            "60",
            "--access-logfile",
            "-",
        ]
        super().__init__("gunicorn", command, {**env, "PGAPPNAME": "faults-web"}, log_dir / "gunicorn.log")

    def wait_ready(self, timeout: float = 45) -> WebServer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise AssertionError(f"gunicorn exited at start:\n{self.tail()}")
            with contextlib.suppress(OSError):
                if http_request("GET", self.base_url, "/accounts/login/", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        raise AssertionError(f"gunicorn did not answer within {timeout} s:\n{self.tail()}")
