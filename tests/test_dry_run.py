"""A dry run prints each job array's sbatch script and the job table: checked as golden files.

Regenerate after an intended change with: UPDATE_GOLDEN=1 pytest tests/test_dry_run.py
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def dry_run(tmp_path: Path, shared: Path, *args: str) -> str:
    command = [
        sys.executable,
        "-m",
        "evallaunch.evaluate",
        "--multirun",
        f"paths.data_dir={shared}",
        "launch.dry_run=true",
        *args,
    ]
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "EVALLAUNCH_OUTPUTS": str(tmp_path / "out"),
    }
    proc = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout.replace(str(tmp_path), "<TMP>").replace(sys.executable, "<PYTHON>")
    return "\n".join(line for line in text.splitlines() if not line.startswith("[")) + "\n"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.read_text() == text, f"dry run output differs from {path}"


def test_open_r1_sweep_on_an_h100_cluster(tmp_path: Path, shared_datasets: Path) -> None:
    text = dry_run(
        tmp_path,
        shared_datasets,
        "cluster=slurm_h100_example",
        "parallelism=auto",
        "model=r1_distill_qwen_1_5b,r1_distill_llama_70b",
        "benchmark=aime24,math_500",
        "launch.benchmarks_per_job=2",
    )
    check_golden("dry_run_open_r1_h100.txt", text)
    # A 1.5B and a 70B model in one sweep get different resources: two arrays.
    assert text.count("#!/bin/bash") == 2
    assert "2 task(s)" not in text  # each model's two benchmarks run in one job
    assert "--gpus-per-node=8" in text and "#SBATCH --partition=hopper-prod" in text
    assert "HF_TOKEN" not in text and "WANDB_API_KEY" not in text


def test_quoting_of_paths_in_the_sbatch_script(tmp_path: Path, shared_datasets: Path) -> None:
    odd = tmp_path / "a'; echo foo"
    odd.mkdir()
    text = dry_run(odd, shared_datasets, "cluster=slurm")
    # The folder is quoted for the shell where the command line is built.
    (srun,) = [line for line in text.splitlines() if line.startswith("srun ")]
    assert shlex.split(srun)[-1] == f"{odd}/out/default/.submitit/%j"
    assert "\n; echo foo" not in text
