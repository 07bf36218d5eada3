"""The jobs of one batch (one model's benchmarks, `launch.benchmarks_per_job`) that run at
the same time, each in its own process, on the servers the batch's first job started.

A job is a whole Hydra job (its logging, umask, environment and working files are its
process's own), so the batch's other jobs cannot run in threads of the first one: each runs
in `python -m evallaunch.launching.batch_members TASK RESULT`, which loads the pickled
batch task and job config, runs the job as the batch would have, and writes its outcome.
The servers' announcement (evallaunch.serving.batch_servers) is in its environment.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import cloudpickle
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, setup_globals
from omegaconf import DictConfig, OmegaConf

import evallaunch
from evallaunch.runtime.files import write_json
from evallaunch.serving.batch_servers import BATCH_SERVERS_ENV

log = logging.getLogger(__name__)

#: What a job's servers depend on: jobs of a batch equal in these share them.
SERVER_KEYS = (
    "model",
    "backend",
    "parallelism",
    "generation.seed",
    "sampling.units_in_flight",
    "paths.cache_dir",
    "offline",
)


def same_servers(cfg: DictConfig, other: DictConfig) -> bool:
    """Whether the jobs of `cfg` and `other` run on the very same servers."""

    def facts(config: DictConfig) -> list[Any]:
        values = [OmegaConf.select(config, key) for key in SERVER_KEYS]
        return [
            OmegaConf.to_container(v, resolve=True) if isinstance(v, DictConfig) else v
            for v in values
        ]

    return facts(cfg) == facts(other)


class BatchMembers:
    """The batch's jobs running in processes of their own; a context manager that stops
    the ones still running when the block ends early (an error, Ctrl-C, SIGTERM)."""

    def __init__(self, task: Any, directory: Path) -> None:
        self.task = task
        self.directory = directory
        self.running: dict[int, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> BatchMembers:
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.running.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.running.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.running.clear()

    def start(self, index: int, cfg: DictConfig, announcement: dict[str, Any]) -> None:
        """Run job `index` of the batch in its own process, on the announced servers."""
        self.directory.mkdir(parents=True, exist_ok=True)
        task_file = self.directory / f"job-{index}.pkl"
        task_file.write_bytes(cloudpickle.dumps((self.task, cfg)))
        code = str(Path(evallaunch.__file__).resolve().parent.parent)  # this very code
        path = os.pathsep.join(p for p in (code, os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, BATCH_SERVERS_ENV: json.dumps(announcement), "PYTHONPATH": path}
        argv = [sys.executable, "-m", __name__, str(task_file), str(self._result(index))]
        self.running[index] = subprocess.Popen(argv, env=env, cwd=code)
        log.info("Batch job %d runs at once in process %d", index, self.running[index].pid)

    def wait(self) -> dict[int, JobReturn]:
        """Wait for every running job; their outcomes by index."""
        returns = {}
        for index, proc in self.running.items():
            code = proc.wait()
            returns[index] = self._outcome(index, code)
        self.running.clear()
        return returns

    def _result(self, index: int) -> Path:
        return self.directory / f"job-{index}.result.json"

    def _outcome(self, index: int, code: int) -> JobReturn:
        try:
            outcome = json.loads(self._result(index).read_text())
        except (OSError, ValueError):
            error = RuntimeError(f"job {index} of the batch exited with status {code}")
            return JobReturn(status=JobStatus.FAILED, _return_value=error)
        if outcome["status"] == JobStatus.COMPLETED.name:
            return JobReturn(status=JobStatus.COMPLETED, _return_value=outcome["value"])
        return JobReturn(status=JobStatus.FAILED, _return_value=RuntimeError(outcome["error"]))


def run_member(task_file: Path, result_file: Path) -> None:
    """Run one job of a batch (what `BatchMembers.start` asked for); write its outcome."""
    task, cfg = cloudpickle.loads(task_file.read_bytes())
    Singleton.set_state(task.singleton_state)
    setup_globals()
    returned = task._run(cfg)
    value = returned._return_value
    if returned.status == JobStatus.COMPLETED:
        outcome = {"status": returned.status.name, "value": value}
    else:
        outcome = {"status": JobStatus.FAILED.name, "error": str(value)}
    write_json(result_file, outcome)


if __name__ == "__main__":
    run_member(Path(sys.argv[1]), Path(sys.argv[2]))
