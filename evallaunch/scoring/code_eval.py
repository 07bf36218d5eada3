"""The harnesses' `code_eval` metric (Hugging Face `evaluate`'s, which lm-eval's humaneval and
mbpp tasks load from the Hub), run offline in evallaunch's sandbox.

Each candidate program is checked as `code_eval` checks it: ``candidate + "\\n" + test`` is
`exec`-ed in a fresh interpreter behind the same reliability guard, its input and output
swallowed, with a wall-clock alarm of ``timeout`` seconds; it passes when nothing is raised.
Here that interpreter runs in `evallaunch.scoring.sandbox` (no network, a private tmpfs,
rlimits, an unprivileged uid), never in the scoring process. pass@k is `code_eval`'s: the
unbiased estimator per problem, averaged, for each k every problem has samples for.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from evallaunch.errors import EvallaunchError
from evallaunch.scoring.metrics import pass_at_k
from evallaunch.scoring.sandbox import SandboxLimits, execute

__all__ = ["CodeCheck", "SandboxedCodeEval", "check_program", "code_eval_pass_at_k"]

log = logging.getLogger(__name__)

ALLOW_UNSANDBOXED_ENV = "EVALLAUNCH_ALLOW_UNSANDBOXED"
DEFAULT_TIMEOUT_S = 3.0  # code_eval's default, which lm-eval's tasks keep

# What the check program runs in the sandbox: the candidate and its tests come on stdin.
_CHECKER = """\
import builtins, contextlib, faulthandler, io, os, shutil, signal, subprocess, sys
program = sys.stdin.read()
class _NoInput(io.StringIO):
    def read(self, *a, **k): raise OSError
    def readline(self, *a, **k): raise OSError
    def readlines(self, *a, **k): raise OSError
    def readable(self, *a, **k): return False
class _Timeout(Exception):
    pass
def _alarm(signum, frame):
    raise _Timeout("Timed out!")
faulthandler.disable()
builtins.exit = builtins.quit = builtins.help = None
os.environ["OMP_NUM_THREADS"] = "1"
for _module, _names in ((os, %(os)r), (shutil, ("rmtree", "move", "chown")),
                        (subprocess, ("Popen",))):
    for _name in _names:
        setattr(_module, _name, None)
for _name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
    sys.modules[_name] = None
out = sys.stdout
signal.signal(signal.SIGALRM, _alarm)
try:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        sys.stdin = _NoInput()
        signal.setitimer(signal.ITIMER_REAL, %(timeout)r)
        try:
            exec(program, {})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    result = "passed"
except _Timeout:
    result = "timed out"
except BaseException as error:
    result = f"failed: {error}"
out.write(result)
"""
# The os functions the reliability guard of code_eval (and OpenAI's human-eval) disables.
_GUARDED_OS = (
    *("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork"),
    *("forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod"),
    *("fchown", "chmod", "chown", "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir"),
)


@dataclass(frozen=True)
class CodeCheck:
    """One candidate program checked by its tests.

    Attributes:
        passed: Whether the program and its tests ran without raising.
        result: `code_eval`'s word for it: "passed", "timed out" or "failed: <error>".
    """

    passed: bool
    result: str


def unsandboxed_allowed() -> bool:
    """Whether the user set EVALLAUNCH_ALLOW_UNSANDBOXED=1 (programs then run with rlimits
    only where no namespace isolation works)."""
    return os.environ.get(ALLOW_UNSANDBOXED_ENV, "").strip().lower() in {"1", "true", "yes"}


def no_sandbox_error(what: str) -> EvallaunchError:
    """The refusal to run generated programs where the sandbox cannot be set up."""
    return EvallaunchError(
        f"cannot {what}: no sandbox here (`unshare` with user, network, mount and PID "
        "namespaces fails: user namespaces may be disabled, e.g. "
        "kernel.unprivileged_userns_clone=0, or `unshare` is missing)",
        hint="enable unprivileged user namespaces (or run as root), or set "
        f"{ALLOW_UNSANDBOXED_ENV}=1 to run the model's programs with resource limits only, "
        "unsandboxed, at your own risk",
    )


def check_program(program: str, timeout: float = DEFAULT_TIMEOUT_S) -> CodeCheck:
    """Checks one program (a candidate and its tests) in the sandbox, as `code_eval` would.

    Args:
        program: The candidate followed by its tests (``candidate + "\\n" + test``).
        timeout: Seconds of wall-clock time the program may run.

    Returns:
        Whether it passed, and `code_eval`'s result string.

    Raises:
        EvallaunchError: If no sandbox works here and EVALLAUNCH_ALLOW_UNSANDBOXED is unset.
    """
    checker = _CHECKER % {"os": _GUARDED_OS, "timeout": float(timeout)}
    limits = SandboxLimits(cpu_seconds=timeout + 1, wall_seconds=timeout + 2)
    allowed = unsandboxed_allowed()
    run = execute(checker, program, limits, allow_unsandboxed=allowed)
    if run is None:
        raise no_sandbox_error("run the model's programs")
    if run.status == "timeout":
        return CodeCheck(False, "timed out")
    if run.status != "exited":
        return CodeCheck(False, f"failed: {run.detail}")
    return CodeCheck(run.stdout == "passed", run.stdout or "failed: no result")


def sandboxed_output(program: str, stdin: str, limits: SandboxLimits) -> str | None:
    """What a trusted checker `program` prints in the sandbox, reading `stdin` (the
    untrusted program comes that way); None when it did not exit normally.

    Raises:
        EvallaunchError: If no sandbox works here and EVALLAUNCH_ALLOW_UNSANDBOXED is unset.
    """
    run = execute(program, stdin, limits, allow_unsandboxed=unsandboxed_allowed())
    if run is None:
        raise no_sandbox_error("run the model's programs")
    return run.stdout if run.status == "exited" else None


def run_checker(program: str, stdin: str, wall_seconds: float) -> str | None:
    """A harness's checker program run in the sandbox with `wall_seconds` of CPU and wall
    time: its standard output, or None when the sandbox stopped it."""
    limits = SandboxLimits(cpu_seconds=wall_seconds, wall_seconds=wall_seconds, memory_mb=1024)
    return sandboxed_output(program, stdin, limits)


def code_eval_pass_at_k(total: list[int], correct: list[int], ks: list[int]) -> dict[str, Any]:
    """`code_eval`'s pass@k: each k for which every problem has at least k samples, the
    unbiased estimate per problem averaged over problems."""
    counts = np.array(total)
    return {
        f"pass@{k}": np.array(
            [pass_at_k(n, c, k) for n, c in zip(total, correct, strict=True)]
        ).mean()
        for k in ks
        if (counts >= k).all()
    }


class SandboxedCodeEval:
    """What `evaluate.load("code_eval")` gives the harnesses, running every program in the
    sandbox: `compute` takes and returns what `code_eval`'s does."""

    name = "code_eval"

    def compute(
        self,
        *,
        predictions: list[list[str]],
        references: list[str],
        k: list[int] | int = (1, 10, 100),  # type: ignore[assignment]
        num_workers: int = 4,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> tuple[dict[str, Any], dict[int, list[tuple[int, dict[str, Any]]]]]:
        """pass@k of the candidates `predictions[i]` of each problem, checked by the tests
        `references[i]`; and each check, by problem, as `(completion_id, record)` pairs."""
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
        ks = [k] if isinstance(k, int) else list(k)
        jobs = [
            (task_id, completion_id, f"{candidate}\n{test}")
            for task_id, (candidates, test) in enumerate(zip(predictions, references, strict=True))
            for completion_id, candidate in enumerate(candidates)
        ]
        if unsandboxed_allowed():
            log.warning("model programs may run unsandboxed (%s=1)", ALLOW_UNSANDBOXED_ENV)
        workers = max(1, min(len(jobs), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            checks = list(pool.map(lambda job: check_program(job[2], timeout), jobs))
        results: dict[int, list[tuple[int, dict[str, Any]]]] = {}
        for (task_id, completion_id, _), check in zip(jobs, checks, strict=True):
            record = {"task_id": task_id, "passed": check.passed, "result": check.result}
            record["completion_id"] = completion_id
            results.setdefault(task_id, []).append((completion_id, record))
        total = [len(results[task]) for task in sorted(results)]
        correct = [sum(r["passed"] for _, r in results[task]) for task in sorted(results)]
        return code_eval_pass_at_k(total, correct, ks), results
