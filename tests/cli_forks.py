"""Run evallaunch's two commands in forks of a process that has already imported them.

A command that refuses its input spends most of its time importing Hydra, pandas, sympy
and the harnesses before it reaches the line that refuses. `run_forked` runs the command's
own entry point (`evallaunch.evaluate.cli`, `evallaunch.cli.main.main`) in a child forked
from a multiprocessing fork server that imported them once, with the command's arguments,
environment and working directory, and its standard output and error in files: the exit
status and output are the command's own, for a few milliseconds instead of seconds.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# What the refusals import; the fork server imports it once (tests.cli_forks_preload).
_CONTEXT: Any = None


def _context() -> Any:
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(["tests.cli_forks_preload"])
    return _CONTEXT


def _child(
    argv: list[str], env: dict[str, str], cwd: str, out: str, err: str, umask: int | None
) -> None:
    """The command, in the forked child: fds 1 and 2 go to files (output from C code too)."""
    if umask is not None:
        os.umask(umask)
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(target, fd)
        os.close(target)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    module, *args = argv
    if module == "evallaunch.evaluate":
        from evallaunch.evaluate import cli

        sys.argv = ["evallaunch-evaluate", *args]
        cli()
        code = 0
    else:
        from evallaunch.cli.main import main

        sys.argv = ["evallaunch", *args]
        code = main(args)
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


def run_forked(
    argv: list[str],
    env: dict[str, str],
    cwd: Path | str,
    timeout: float = 600,
    umask: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS...` (argv without the interpreter: `[MODULE, *ARGS]`, MODULE
    `evallaunch.evaluate` or `evallaunch.cli`) as a forked child (with `umask`, if given);
    its exit status and output as `subprocess.run` gives them."""
    with tempfile.TemporaryDirectory(prefix="cli-fork-") as folder:
        out, err = f"{folder}/stdout", f"{folder}/stderr"
        process = _context().Process(target=_child, args=(argv, env, str(cwd), out, err, umask))
        process.start()
        process.join(timeout)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired(argv, timeout)
        return subprocess.CompletedProcess(
            argv, process.exitcode, Path(out).read_text(), Path(err).read_text()
        )
