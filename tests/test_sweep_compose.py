"""A sweep's jobs are composed and fingerprinted once each at submit time: the sweeper
(which skips finished jobs) hands the jobs it composed to the evallaunch launcher."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO

# Runs the entrypoint with Hydra's per-job composition and evallaunch's fingerprint wrapped
# to count their calls per job (by the overrides), printed as JSON at exit.
COUNTING = """
import atexit, collections, json, sys
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from evallaunch.launching import specs

composed, hashed = collections.Counter(), collections.Counter()
load, fingerprint = ConfigLoaderImpl.load_sweep_config, specs.job_fingerprint

def counted_load(self, master_config, sweep_overrides):
    composed[" ".join(sweep_overrides)] += 1
    return load(self, master_config, sweep_overrides)

def counted_fingerprint(cfg):
    hashed[f"{cfg.experiment_name} {cfg.benchmark.name}"] += 1
    return fingerprint(cfg)

ConfigLoaderImpl.load_sweep_config = counted_load
specs.job_fingerprint = counted_fingerprint
atexit.register(lambda: print("COUNTS " + json.dumps([composed, hashed])))
sys.argv = ["evallaunch-evaluate", *sys.argv[1:]]
from evallaunch.evaluate import cli
cli()
"""


def test_each_job_is_composed_and_fingerprinted_once(tmp_path: Path, shared_datasets: Path):
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            COUNTING,
            "--multirun",
            f"paths.data_dir={shared_datasets}",
            "launch.dry_run=true",
            "cluster=slurm",
            "benchmark=aime24,math_500",
            "experiment_name=a,b",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "EVALLAUNCH_OUTPUTS": str(tmp_path / "out"),
            "PYTHONPATH": str(REPO),
        },
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("COUNTS "))
    composed, hashed = json.loads(line.removeprefix("COUNTS "))
    assert len(composed) == 4 and set(composed.values()) == {1}, composed
    assert len(hashed) == 4 and set(hashed.values()) == {1}, hashed
