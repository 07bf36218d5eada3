"""Inference server processes a job starts itself: launch, health check, shutdown.

Each server runs in its own process group (session), so stopping it reaches the processes
it spawned (vLLM's engine and worker processes). Servers end with the job on every path:
`ServerPool.stop` (the `with` block), an `atexit` hook, SIGTERM/SIGINT handlers that stop
the servers and then hand the signal to the handler installed before them, and a parent-death
signal that reaches a server even when the job itself is SIGKILLed.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from evallaunch.errors import EvallaunchError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
TAIL_LINES = 20
# Health checks go straight to 127.0.0.1, whatever http_proxy says.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Runs in the server's process before the server itself: asks the kernel to send SIGTERM
# when the job's process dies (even by SIGKILL), then execs the server command.
_LAUNCHER = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit('evallaunch: the job ended before its server started')\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def find_executable(name: str) -> str:
    """`name` on PATH, else beside this Python (an un-activated venv), else in `.venv-vllm`."""
    if os.sep in name or shutil.which(name):
        return name
    repo = Path(__file__).resolve().parents[2]
    for folder in (Path(sys.executable).parent, repo / ".venv-vllm" / "bin"):
        if (folder / name).is_file() and os.access(folder / name, os.X_OK):
            return str(folder / name)
    raise EvallaunchError(
        f"inference server command '{name}' not found on PATH",
        hint="for vLLM run `make setup-vllm` (creates .venv-vllm) or activate the venv that "
        "has it; or set backend.server.command",
    )


def free_port(preferred: int, taken: Sequence[int] = ()) -> int:
    """`preferred` when nothing listens there on 127.0.0.1, else a free port from the OS."""
    if preferred > 0 and preferred not in taken:
        with socket.socket() as sock:
            try:
                sock.bind((HOST, preferred))
                return preferred
            except OSError:
                log.info("Port %d is in use; taking a free one", preferred)
    while True:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            return port


@dataclass
class Server:
    """One server process: its command line (a list, no shell), port and log file."""

    index: int
    argv: list[str]
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    ready_after_s: float | None = None
    # Where it listens: this machine, or the node it was started on (`srun`).
    host: str = HOST

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


class ServerPool:
    """Starts `servers`, waits until each answers `health_path`, and stops them all."""

    def __init__(
        self,
        servers: list[Server],
        health_path: str = "/health",
        startup_timeout_s: float = 900.0,
        stop_timeout_s: float = 15.0,
    ) -> None:
        self.servers = servers
        self.health_path = "/" + health_path.lstrip("/")
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s

    def __enter__(self) -> ServerPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Launch every server, then wait for all of them; on any failure stop them all."""
        _register(self)
        try:
            for server in self.servers:
                self._launch(server)
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise

    def _launch(self, server: Server) -> None:
        server.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-c", _LAUNCHER, str(os.getpid()), *server.argv]
        log.info("Starting inference server %d: %s", server.index, shlex.join(server.argv))
        with server.log_path.open("wb") as handle:
            server.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env={**os.environ, **server.env},
                start_new_session=True,  # its own process group: stop() reaches its children
            )
        server.started = time.monotonic()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        waiting = list(self.servers)
        while waiting:
            for server in list(waiting):
                if not server.alive():
                    code = server.proc.returncode if server.proc else None
                    self._fail(server, f"exited with status {code} while starting")
                if self.healthy(server):
                    if not server.alive():  # something else answers on its port
                        self._fail(server, "exited while another process answered its port")
                    server.ready_after_s = round(time.monotonic() - server.started, 1)
                    log.info(
                        "Inference server %d ready at %s after %.1fs",
                        server.index,
                        server.url,
                        server.ready_after_s,
                    )
                    waiting.remove(server)
            if waiting and time.monotonic() > deadline:
                self._fail(
                    waiting[0],
                    f"did not answer GET {waiting[0].url}{self.health_path} within "
                    f"{self.startup_timeout_s:g}s (backend.server.startup_timeout_s)",
                )
            if waiting:
                time.sleep(0.25)

    def healthy(self, server: Server) -> bool:
        """Whether the server answers its health route with 200."""
        try:
            with _NO_PROXY.open(server.url + self.health_path, timeout=2) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def _fail(self, server: Server, what: str) -> None:
        indent = "\n    "
        raise EvallaunchError(
            f"inference server {server.index + 1} of {len(self.servers)} {what}; "
            f"command: {shlex.join(server.argv)}; log: {server.log_path}",
            hint=f"last lines of its log:{indent}{server.log_tail().replace(chr(10), indent)}",
        )

    def stop(self) -> None:
        """Terminate every server's process group, then kill what is left (idempotent)."""
        running = [s for s in self.servers if s.proc is not None]
        for server in running:
            _signal_group(server, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout_s
        for server in running:
            assert server.proc is not None
            try:
                server.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("Inference server %d ignored SIGTERM; killing it", server.index)
            # SIGKILL the group also when its leader has exited: its children may remain.
            _signal_group(server, signal.SIGKILL)
            try:
                server.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log.error("Inference server %d (pid %d) did not die", server.index, server.proc.pid)
        for server in running:
            if server.proc is not None and server.proc.returncode is not None:
                log.info("Inference server %d stopped (%s)", server.index, server.proc.returncode)
        _unregister(self)


def _signal_group(server: Server, signum: int) -> None:
    if server.proc is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.proc.pid, signum)


# --- every live pool ends with the job: atexit and SIGTERM/SIGINT ---------------------------

_POOLS: list[ServerPool] = []
_PREVIOUS: dict[int, Any] = {}
_LOCK = threading.RLock()
_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_atexit_done = False


def stop_all() -> None:
    """Stop every running pool of this process."""
    with _LOCK:
        pools = list(_POOLS)
    for pool in pools:
        pool.stop()


def _register(pool: ServerPool) -> None:
    global _atexit_done
    with _LOCK:
        if pool in _POOLS:
            return
        _POOLS.append(pool)
        if not _atexit_done:
            atexit.register(stop_all)
            _atexit_done = True
        if len(_POOLS) == 1 and threading.current_thread() is threading.main_thread():
            for signum in _SIGNALS:
                _PREVIOUS[signum] = signal.signal(signum, _on_signal)


def _unregister(pool: ServerPool) -> None:
    with _LOCK:
        if pool in _POOLS:
            _POOLS.remove(pool)
        if not _POOLS and _PREVIOUS:
            _restore_handlers()


def _restore_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum, previous in list(_PREVIOUS.items()):
        if signal.getsignal(signum) is _on_signal:  # leave a handler installed after ours
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        del _PREVIOUS[signum]


def _on_signal(signum: int, frame: FrameType | None) -> None:
    previous = _PREVIOUS.get(signum, signal.SIG_DFL)
    if previous == signal.SIG_IGN:
        return
    log.warning("Received %s: stopping the inference servers", signal.Signals(signum).name)
    stop_all()  # also restores the previous handlers
    if callable(previous):
        previous(signum, frame)
    elif signum == signal.SIGINT:
        raise KeyboardInterrupt
    else:
        raise SystemExit(128 + signum)
