"""Runs an untrusted Python program on one input in a throwaway sandbox (a fresh process tree).

Isolation is probed once (a program checks it from inside), then cached: ``unshare --net
--mount --pid --ipc --uts --fork --kill-child --mount-proc`` (``--user --map-root-user`` added
for non-root users) gives no network, a private process table (the kernel kills what is left
when its first process ends) and private mounts, in which this file, run as the launcher, puts a
tmpfs on the working directory and makes every other mount read-only. The program runs as a
spare uid (root) or in a nested user namespace (non-root), under rlimits (CPU, memory, file size
incl. stdout, processes, no core), killed with its process group at the wall-clock limit.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import math
import os
import re
import resource
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

# logging, shutil, subprocess, tempfile: imported where used, so the launcher starts faster.

__all__ = ["Execution", "SandboxLimits", "execute", "sandbox_available"]

_SETUP_FAILED = 125  # launcher exit status when it could not set the sandbox up
_MS = {"ro": 1, "nosuid": 2, "nodev": 4, "noexec": 8, "remount": 32, "noatime": 1024}
_MS |= {"nodiratime": 2048, "bind": 4096, "relatime": 1 << 21, "strictatime": 1 << 24}
_KEPT_FLAGS = ("nosuid", "nodev", "noexec", "noatime", "nodiratime", "relatime", "strictatime")


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one run of a program on one input."""

    cpu_seconds: float = 4
    wall_seconds: float = 10
    memory_mb: int = 512
    output_bytes: int = 1_000_000
    max_processes: int = 32


@dataclass(frozen=True)
class Execution:
    """What one run did.

    Attributes:
        status: "exited" (status 0), "runtime_error", "timeout", "memory" or "output_limit".
        detail: A short explanation (empty when it exited normally).
        stdout: What it printed (at most ``output_bytes``).
    """

    status: str
    detail: str
    stdout: str


@dataclass(frozen=True)
class _Plan:
    prefix: tuple[str, ...]  # command that isolates the launcher (empty: none)
    drop_uid: bool  # run the program as a spare unprivileged uid
    interpreter: str  # Python for the untrusted program (one that uid can read)


_LOCK = threading.Lock()  # guards _PLAN
_UID_LOCK = threading.Lock()  # guards _FREE_UIDS and _NEW_UIDS
_PLAN: list[_Plan | None] = []  # filled once by _plan()
_FREE_UIDS: list[int] = []  # spare uids: unused by any account, distinct per scorer process
_NEW_UIDS = itertools.count(1_900_000_000 + (os.getpid() % 100_000) * 1_000)


def sandbox_available() -> bool:
    """Whether namespace isolation works here (probed on first use, then cached)."""
    return _plan() is not None


def execute(
    code: str, stdin: str, limits: SandboxLimits, *, allow_unsandboxed: bool = False
) -> Execution | None:
    """Runs a Python program once in a fresh sandboxed process tree.

    Args:
        code: Program source.
        stdin: Its standard input.
        limits: Resource limits.
        allow_unsandboxed: Without namespace isolation, run with rlimits only.

    Returns:
        What it did; None when no sandbox is available and ``allow_unsandboxed`` is False.
    """
    plan = _plan()
    if plan is None:
        if not allow_unsandboxed:
            return None
        plan = _Plan((), False, sys.executable)
    return _run(plan, code, stdin, limits)


def _plan() -> _Plan | None:
    import logging

    with _LOCK:
        if not _PLAN:
            _PLAN.append(_detect())
            logging.getLogger(__name__).info("code sandbox (None: unavailable): %s", _PLAN[0])
        return _PLAN[0]


def _detect() -> _Plan | None:
    """The first isolation (and interpreter) that passes the probe."""
    import shutil
    import tempfile

    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    spaces = ("--net", "--mount", "--pid", "--ipc", "--uts", "--fork", "--kill-child")
    modes: list[tuple[tuple[str, ...], bool]]
    modes = [((unshare, "--user", "--map-root-user", *spaces, "--mount-proc"), False)]
    if os.geteuid() == 0:
        modes.insert(0, ((unshare, *spaces, "--mount-proc"), True))
    candidates = [sys.executable, os.path.realpath(sys.executable), "/usr/bin/python3"]
    candidates.append(shutil.which("python3") or "")
    interpreters = [path for path in dict.fromkeys(candidates) if path and os.path.isfile(path)]
    for prefix, drop_uid in modes:
        for interpreter in interpreters:
            outside = os.path.join(tempfile.gettempdir(), f"evallaunch-probe-{os.urandom(8).hex()}")
            probe = _PROBE.format(outside=outside)
            try:
                run = _run(_Plan(prefix, drop_uid, interpreter), probe, "", _PROBE_LIMITS)
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(outside)
            if run.status == "exited" and run.stdout == "isolated\n":
                return _Plan(prefix, drop_uid, interpreter)
    return None


_PROBE_LIMITS = SandboxLimits(cpu_seconds=10, wall_seconds=30)
_PROBE = """\
import ctypes, os
ok = open("/proc/net/dev").read().count(":") == 1 and os.getuid() != 0  # lo only, no root
ok = ok and ctypes.CDLL(None).mount(None, b"/", None, 4096 | 32, None) != 0  # stays ro
try:
    open({outside!r}, "w").close()
    ok = False
except OSError:
    open("scratch", "w").write("writable")
print("isolated" if ok else "leaky")
"""


def _run(plan: _Plan, code: str, stdin: str, limits: SandboxLimits) -> Execution:
    import shutil
    import subprocess
    import tempfile

    with _UID_LOCK:
        uid = (_FREE_UIDS.pop() if _FREE_UIDS else next(_NEW_UIDS)) if plan.drop_uid else None
    workdir = os.path.realpath(tempfile.mkdtemp(prefix="evallaunch-sandbox-"))
    cpu, memory = max(1, math.ceil(limits.cpu_seconds)), limits.memory_mb << 20
    rlimits = [("RLIMIT_CPU", (cpu, cpu + 1)), ("RLIMIT_AS", (memory, memory))]
    rlimits += [("RLIMIT_FSIZE", (limits.output_bytes,) * 2), ("RLIMIT_CORE", (0, 0))]
    rlimits += [("RLIMIT_NPROC", (limits.max_processes,) * 2)]
    config = {"workdir": workdir, "uid": uid, "interpreter": plan.interpreter}
    config["alarm"] = math.ceil(limits.wall_seconds) + 5  # in case the scorer dies
    command = [*plan.prefix, sys.executable, "-I", "-S", "-B", __file__]
    timed_out = False
    try:
        Path(workdir, "main.py").write_text(code, encoding="utf-8")
        config_json = json.dumps({**config, "isolated": bool(plan.prefix), "rlimits": rlimits})
        with (
            tempfile.TemporaryFile() as inp,
            tempfile.TemporaryFile() as out,
            tempfile.TemporaryFile() as err,
        ):
            inp.write(stdin.encode("utf-8"))
            inp.seek(0)
            proc = subprocess.Popen(
                [*command, config_json],
                stdin=inp,
                stdout=out,
                stderr=err,
                cwd=workdir,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"},
                start_new_session=True,
            )
            try:
                proc.wait(limits.wall_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:  # the leader is not reaped yet, so its process group is intact
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            err.seek(0)
            stderr = err.read(20_000).decode("utf-8", "replace").strip()
            out.seek(0)
            stdout = out.read(limits.output_bytes + 1)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if uid is not None:
            with _UID_LOCK:
                _FREE_UIDS.append(uid)
    status, detail = _classify(timed_out, proc.returncode, len(stdout), stderr, limits)
    return Execution(status, detail, stdout[: limits.output_bytes].decode("utf-8", "replace"))


def _classify(
    timed_out: bool, rc: int, out_size: int, stderr: str, limits: SandboxLimits
) -> tuple[str, str]:
    if timed_out:
        return "timeout", f"wall-clock limit of {limits.wall_seconds:g}s exceeded"
    if rc in (128 + signal.SIGXCPU, 128 + signal.SIGKILL):
        return "timeout", f"CPU limit of {limits.cpu_seconds:g}s exceeded"
    if rc != 0 and ("MemoryError" in stderr or "Cannot allocate memory" in stderr):
        return "memory", f"memory limit of {limits.memory_mb} MB exceeded"
    too_big = rc == 128 + signal.SIGXFSZ or "[Errno 27] File too large" in stderr
    if out_size >= limits.output_bytes or (rc != 0 and too_big):
        return "output_limit", f"output or a file reached the {limits.output_bytes}-byte limit"
    if rc != 0:
        return "runtime_error", f"exit status {rc}: {stderr[-300:]}"
    return "exited", ""


# ---------------------------------------------------------------- launcher (in the sandbox)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    args = [s.encode() if s else None for s in (source, target, fstype, data)]
    if libc.mount(args[0], args[1], args[2], ctypes.c_ulong(flags), args[3]) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")


def _confine_filesystem(workdir: str, uid: int | None) -> None:
    """Swaps the working directory for a private tmpfs; makes every other mount read-only."""
    code = Path(workdir, "main.py").read_text(encoding="utf-8")
    owner = f",uid={uid},gid={uid}" if uid is not None else ""
    options = f"size=64m,nr_inodes=4096,mode=0700{owner}"
    _mount("tmpfs", workdir, "tmpfs", _MS["nosuid"] | _MS["nodev"], options)
    Path(workdir, "main.py").write_text(code, encoding="utf-8")
    mounts = Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines()
    for fields in map(str.split, mounts):
        target = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        if target == workdir:
            continue
        kept = sum(_MS[opt] for opt in fields[5].split(",") if opt in _KEPT_FLAGS)
        # MS_BIND: change this mount's flags only, never the (shared) filesystem's.
        with contextlib.suppress(FileNotFoundError):  # under another mount: unreachable
            _mount(None, target, None, kept | _MS["remount"] | _MS["bind"] | _MS["ro"])


def _launch(config_json: str) -> None:
    config = json.loads(config_json)
    workdir, uid = config["workdir"], config["uid"]
    try:
        if config["isolated"]:
            _confine_filesystem(workdir, uid)
        os.chdir(workdir)
    except OSError as exc:
        print(f"sandbox setup failed: {exc}", file=sys.stderr)
        os._exit(_SETUP_FAILED)
    pid = os.fork()
    if pid == 0:
        try:
            if uid is not None:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            elif config["isolated"] and ctypes.CDLL(None).unshare(0x10000000) != 0:
                raise OSError("unshare(CLONE_NEWUSER) failed")  # else ns root could remount
            for name, value in config["rlimits"]:
                resource.setrlimit(getattr(resource, name), tuple(value))
            argv = [config["interpreter"], "-I", "-S", "-B", "main.py"]
            os.execve(argv[0], argv, {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"})
        except BaseException as exc:
            os.write(2, f"sandbox setup failed: {exc!r}\n".encode())
            os._exit(_SETUP_FAILED)
    signal.signal(signal.SIGALRM, lambda *_: os.killpg(0, signal.SIGKILL))
    signal.alarm(config["alarm"])
    done, status = 0, 0
    while done != pid:  # as a namespace's init, orphans are ours to reap too
        done, status = os.waitpid(-1, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    _launch(sys.argv[1])
