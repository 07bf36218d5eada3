"""A dry run prints each job array's sbatch script and the job table: checked as golden files.

Regenerate after an intended change with: UPDATE_GOLDEN=1 pytest tests/test_dry_run.py
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from tests.helpers import path_without_slurm

GOLDEN = Path(__file__).parent / "golden"


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


# A 70B model on 4 x 40 GB nodes: one replica needs 2 nodes (TP 4 x PP 2); two replicas.
MULTI_NODE_SWEEP = [
    "experiment=open_r1",
    "cluster=slurm_h100_example",
    "model=r1_distill_llama_70b",
    "benchmark=aime24",
    "hydra.launcher.hardware.gpu_type=A100-40GB",
    "hydra.launcher.hardware.gpu_memory_gb=40",
    "hydra.launcher.hardware.gpus_per_node=4",
    "parallelism.data_parallel_size=2",
]


def test_two_replicas_of_two_nodes_each_get_four_nodes_one_task_each(
    tmp_path: Path, shared_datasets: Path
) -> None:
    """Every node runs one task: the first task of each replica its Ray head, the others
    its workers (evallaunch.serving.ray_cluster); the job config carries the planned sizes."""
    text = dry_run(tmp_path, shared_datasets, *MULTI_NODE_SWEEP)
    check_golden("dry_run_multi_node.txt", text)
    assert "#SBATCH --nodes=4" in text and "#SBATCH --ntasks-per-node=1" in text
    assert "#SBATCH --gpus-per-node=4" in text
    from evallaunch.config.compose import compose_config
    from evallaunch.launching.specs import job_resources

    full = compose_config(MULTI_NODE_SWEEP, return_hydra_config=True)
    hardware = dict(OmegaConf.to_container(full.hydra.launcher.hardware, resolve=True))  # type: ignore[arg-type]
    cfg = compose_config(MULTI_NODE_SWEEP[:4] + MULTI_NODE_SWEEP[-1:])
    resources = job_resources(cfg, {}, hardware)
    assert (resources["nodes"], resources["tasks_per_node"]) == (4, 1)
    par = cfg.parallelism
    assert (par.tensor_parallel_size, par.pipeline_parallel_size) == (4, 2)
    assert (par.data_parallel_size, par.nodes_per_replica) == (2, 2)


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
