"""The lab's child processes: each in its own process group, and every one stopped on exit.

A child is started in a new session, so a Ctrl-C in the terminal reaches the lab alone and the lab
stops its children in order (a hung nginx is resumed first, then asked to stop, then killed). The
registry is emptied by `stop_all`, which runs from `finally` blocks, from `atexit` and, once
`install_signal_handlers` was called, on SIGTERM and SIGHUP too.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType
from typing import IO

_lock = threading.Lock()
_processes: dict[int, subprocess.Popen[bytes] | subprocess.Popen[str]] = {}
_names: dict[int, str] = {}


def _port_share() -> tuple[int, int]:
    """(this process's share, shares): under pytest-xdist (make test runs test files in several worker
    processes at once) worker gwN of PYTEST_XDIST_WORKER_COUNT takes share N; otherwise (0, 1)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if worker.startswith("gw") and worker[2:].isdigit() and count.isdigit() and int(worker[2:]) < int(count):
        return int(worker[2:]), int(count)
    return 0, 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    The kernel's free port stays free only until the server it is for binds it: two test workers
    asking at once could both be handed it. So each worker keeps to its own share of the ports (pairs
    of ports dealt round-robin, the kernel hands out odd ones first), and no two workers hold one port.
    """
    share, shares = _port_share()
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if (port >> 1) % shares == share:
            return port


def register(process: subprocess.Popen[bytes] | subprocess.Popen[str], name: str) -> None:
    with _lock:
        _processes[process.pid] = process
        _names[process.pid] = name


def unregister(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    with _lock:
        _processes.pop(process.pid, None)
        _names.pop(process.pid, None)


def running() -> dict[int, str]:
    """The registered children that have not been reaped yet: pid -> name."""
    with _lock:
        return {pid: _names[pid] for pid, process in _processes.items() if process.poll() is None}


def signal_group(pid: int, sig: int) -> bool:
    """Send `sig` to the process group `pid` leads; False if the group is gone."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def terminate_group(process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 5.0) -> None:
    """Stop a child started with start_new_session=True and everything in its group."""
    pid = process.pid
    signal_group(pid, signal.SIGCONT)  # a stopped (hung) process cannot act on SIGTERM
    if process.poll() is None:
        signal_group(pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
    # Whatever is left in the group (a worker, a grandchild) does not get a second chance.
    signal_group(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout)
    unregister(process)


def stop_all() -> None:
    """Stop every registered child; safe to call more than once and from any thread.

    In the main thread, a second Ctrl-C or SIGTERM during the cleanup is ignored, so the cleanup
    cannot itself be interrupted half-way.
    """
    main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)} if main else {}
    try:
        with _lock:
            children = list(_processes.values())
        for process in children:
            terminate_group(process, timeout=3.0)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class ManagedProcess:
    """A long-running child (the moto server, an nginx master) with its output in a log file."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._process.poll() if self._process is not None else None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self._env,
            cwd=self._cwd,
            start_new_session=True,
        )
        register(self._process, self.name)

    def send_signal(self, sig: int) -> bool:
        """Signal the whole process group (a master and its workers)."""
        if self._process is None or self._process.poll() is not None:
            return False
        return signal_group(self._process.pid, sig)

    def stop(self, timeout: float = 5.0) -> None:
        if self._process is not None:
            terminate_group(self._process, timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> bool:
    """Poll `predicate()` until it is true or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


_installed = False


def _on_signal(signum: int, frame: FrameType | None) -> None:
    # Turn the signal into an exception in the main thread: `finally` blocks and atexit run.
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    """SIGINT (Ctrl-C) raises KeyboardInterrupt; SIGTERM and SIGHUP end the lab the same way."""
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    # Also when started in the background by a shell, which sets SIGINT to "ignore".
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _installed = True


atexit.register(stop_all)
