"""A dry run prints each job array's sbatch script and the job table: checked as golden files.

Regenerate after an intended change with: UPDATE_GOLDEN=1 pytest tests/test_dry_run.py
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
SLURM_COMMANDS = {"sbatch", "srun", "squeue", "sacct", "scontrol", "scancel", "sinfo", "salloc"}


def path_without_slurm(tmp_path: Path) -> str:
    """A PATH holding every command of the current one except Slurm's (symlinks in one
    folder), so a test sees a machine where Slurm is not installed."""
    folder = tmp_path / "bin-without-slurm"
    folder.mkdir(exist_ok=True)
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or not Path(directory).is_dir():
            continue
        for tool in Path(directory).iterdir():
            link = folder / tool.name
            if tool.name in SLURM_COMMANDS or link.is_symlink():
                continue
            if tool.is_file() and os.access(tool, os.X_OK):
                link.symlink_to(tool.resolve())
    path = str(folder)
    assert all(shutil.which(command, path=path) is None for command in SLURM_COMMANDS)
    return path


def dry_run(tmp_path: Path, shared: Path, *args: str, path: str | None = None) -> str:
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
        **({"PATH": path} if path is not None else {}),
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


H100_SWEEP = [
    "cluster=slurm_h100_example",
    "parallelism=auto",
    "model=r1_distill_qwen_1_5b,r1_distill_llama_70b",
    "benchmark=aime24,math_500",
    "launch.benchmarks_per_job=2",
]


def test_open_r1_sweep_on_an_h100_cluster(tmp_path: Path, shared_datasets: Path) -> None:
    text = dry_run(tmp_path, shared_datasets, *H100_SWEEP)
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


def test_dry_run_needs_no_slurm(tmp_path: Path, shared_datasets: Path) -> None:
    """A laptop without Slurm prints the same scripts as a login node."""
    path = path_without_slurm(tmp_path)
    text = dry_run(tmp_path, shared_datasets, *H100_SWEEP, path=path)
    assert text == (GOLDEN / "dry_run_open_r1_h100.txt").read_text()
    text = dry_run(tmp_path, shared_datasets, "cluster=slurm", path=path)
    assert text.count("#!/bin/bash") == 1 and "#SBATCH --partition=debug" in text
