"""Running harness-task jobs in tests: evallaunch's commands in a child process, a mirror
holding GSM8K (from ../shared) and MATH-500, and metrics read back from details."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.cli_forks import run_forked


def run(
    *argv: str, cwd: Path, check: bool = True, forked: bool = False
) -> subprocess.CompletedProcess[str]:
    """`python ARGV...`; forked (ARGV `-m MODULE ...`, MODULE one of evallaunch's two
    commands): in a fork of a process that imported evallaunch (tests/cli_forks.py), for
    commands that load no model."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if forked:
        assert argv[0] == "-m", argv
        proc = run_forked(list(argv[1:]), env, cwd=cwd, timeout=1200)
    else:
        proc = subprocess.run(
            [sys.executable, *argv], cwd=cwd, capture_output=True, text=True, env=env, timeout=1200
        )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{argv} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def prepare_mirror(tmp_path: Path, shared_datasets: Path) -> Path:
    """A mirror holding GSM8K for the harness tasks (and MATH-500)."""
    data = tmp_path / "mirror"
    run(
        "-m",
        "evallaunch.cli",
        "prepare",
        "--task",
        "gsm8k",
        "--source",
        str(shared_datasets / "gsm8k"),
        "--data-dir",
        str(data),
        cwd=tmp_path,
        forked=True,
    )
    run(
        "-m",
        "evallaunch.cli",
        "prepare",
        "math_500",
        "--source",
        str(shared_datasets),
        "--data-dir",
        str(data),
        cwd=tmp_path,
        forked=True,
    )
    return data


def evaluate(
    tmp_path: Path, mirror: Path, *overrides: str, check: bool = True, forked: bool = False
) -> subprocess.CompletedProcess[str]:
    """`evallaunch-evaluate benchmark=harness` with `overrides`, outputs under tmp_path."""
    return run(
        "-m",
        "evallaunch.evaluate",
        f"paths.output_root={tmp_path / 'outputs'}",
        f"paths.data_dir={mirror}",
        "benchmark=harness",
        *overrides,
        cwd=tmp_path,
        check=check,
        forked=forked,
    )


def mean_by(details: pd.DataFrame, task: str, metric: str, filter_name: str) -> float:
    rows = details[(details["task"] == task) & (details["filter"] == filter_name)]
    return float(rows["metrics"].map(lambda m: json.loads(m)[metric]).mean())
