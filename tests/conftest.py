"""Shared fixtures (the shared benchmark data, a mirror, running evaluate) and how the
suite is spread over pytest-xdist workers; shared helpers are in tests/helpers.py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_forks import run_forked
from tests.helpers import SHARED_DATASETS, Evaluate

# Under pytest-xdist each worker's jobs get a core of their own: the embedded model runs as
# fast on one thread as on two, and the torch (OpenMP) threads of two workers' jobs spinning
# on the same two cores take twice as long as one job after the other.
if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    core = int(worker.removeprefix("gw")) % (os.cpu_count() or 1)
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", str(core))


# The slow files, longest first: under pytest-xdist they start first and the rest fill in.
LONGEST_FIRST = [
    "ports",
    "test_resume",
    "test_endpoint",
    "test_slurm",
    "test_vllm",
    "test_lighteval_tasks",
    "test_evaluate",
    "test_sampling",
    "test_harness_tasks",
    "test_compat",
]


@pytest.hookimpl(wrapper=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> Iterator[None]:
    """How `make test` spreads the suite over two workers (pytest-xdist, `--dist
    loadgroup`): the slow tests of a file stay on one worker, in order, so that a module's
    fixture (one real evaluation several tests read) runs once; tests marked `ports`
    (servers on evallaunch's default ports, Ray's head) run on one worker, one after
    another. The slow groups start first, longest first; the fast tests fill in."""
    for item in items:
        if item.get_closest_marker("ports"):
            item.add_marker(pytest.mark.xdist_group("ports"))
        elif item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.xdist_group(item.path.stem))

    def order(item: pytest.Item) -> int:
        group = item.get_closest_marker("xdist_group")
        if group is None:
            return len(LONGEST_FIRST) + 1
        name = group.args[0] if group.args else group.kwargs.get("name")
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=order)
    return (yield)


# Seconds of test time per worker and per group, printed at the end of a run: the suite's
# wall time is its busiest worker's.
SECONDS: dict[str, dict[str, float]] = {"worker": defaultdict(float), "group": defaultdict(float)}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    gateway = getattr(getattr(report, "node", None), "gateway", None)
    SECONDS["worker"][gateway.id if gateway else "main"] += report.duration
    SECONDS["group"][report.nodeid.rpartition("@")[2] if "@" in report.nodeid else "-"] += (
        report.duration
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for kind, seconds in SECONDS.items():
        ranked = sorted(seconds.items(), key=lambda item: -item[1])
        if not ranked:
            continue
        line = ", ".join(f"{name} {total:.0f} s" for name, total in ranked)
        terminalreporter.write_line(f"test seconds per {kind}: {line}")


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """../shared/datasets beside the repository (benchmark mirror files)."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"benchmark data not found at {SHARED_DATASETS}")
    return SHARED_DATASETS


@pytest.fixture
def mirror(tmp_path: Path, shared_datasets: Path) -> Path:
    """A mirror of the test's own holding GSM8K (for harness tasks) and MATH-500."""
    from tests.harness_jobs import prepare_mirror

    return prepare_mirror(tmp_path, shared_datasets)


@pytest.fixture
def evaluate(tmp_path: Path, shared_datasets: Path) -> Evaluate:
    """Run `python -m evallaunch.evaluate ARGS...` writing under tmp_path/outputs."""

    def run(
        *args: str, check: bool = True, env: dict[str, str] | None = None, forked: bool = False
    ):
        """forked: in a fork of a process that imported evallaunch (tests/cli_forks.py), for
        runs that end before a model loads."""
        command = [
            "evallaunch.evaluate",
            f"paths.output_root={tmp_path / 'outputs'}",
            f"paths.data_dir={shared_datasets}",
            *args,
        ]
        environ = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        if forked:
            proc = run_forked(command, environ, cwd=tmp_path, timeout=900)
        else:
            proc = subprocess.run(
                [sys.executable, "-m", *command],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                env=environ,
                timeout=900,
            )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"evaluate failed ({proc.returncode}):\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return proc

    return run
