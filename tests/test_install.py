"""evallaunch as a team installs it: a wheel, installed (not editable) into a fresh virtual
environment, run from another directory with the team's own configs beside the package's."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import REPO

OUR_CLUSTER = """\
# @package _global_
# The team's cluster: the package's Slurm settings, on its own partition.
defaults:
  - slurm
hydra:
  launcher:
    partition: our-gpus
"""


def run(*argv: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, f"{argv}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc.stdout + proc.stderr


@pytest.mark.slow  # builds and installs a wheel: about 20 s of pip
def test_the_installed_wheel_runs_with_the_team_s_own_configs(
    tmp_path: Path, shared_datasets: Path
) -> None:
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
        "-w", str(wheels), "-q", cwd=tmp_path)  # fmt: skip
    (wheel,) = wheels.glob("evallaunch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "evallaunch/conf/evaluate.yaml" in names
    assert "evallaunch/conf/cluster/slurm.yaml" in names

    # A fresh environment: the wheel installed, the dependencies seen from the project's
    # environment (a path, not its .pth files: the editable install stays out of it).
    fresh = tmp_path / "fresh"
    run(sys.base_prefix + "/bin/python3", "-m", "venv", "--without-pip", str(fresh), cwd=tmp_path)
    python = str(fresh / "bin" / "python")
    (purelib,) = Path(fresh / "lib").glob("python3*/site-packages")
    run(sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(purelib),
        str(wheel), cwd=tmp_path)  # fmt: skip
    (purelib / "deps.pth").write_text(site.getsitepackages()[0] + "\n")
    team = tmp_path / "team-configs"
    (team / "cluster").mkdir(parents=True)
    (team / "cluster" / "our_cluster.yaml").write_text(OUR_CLUSTER)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "EVALLAUNCH_CONFIG_DIR": str(team), "HF_HUB_OFFLINE": "1"}
    where = run(python, "-c", "import evallaunch; print(evallaunch.__file__)", cwd=elsewhere)
    assert where.strip().startswith(str(purelib)), where

    plan = run(python, "-m", "evallaunch.cli", "plan", "cluster=our_cluster",
               "model=r1_distill_qwen_7b", "benchmark=aime24", cwd=elsewhere, env=env)  # fmt: skip
    assert "r1_distill_qwen_7b" in plan.lower() or "deepseek-r1-distill-qwen-7b" in plan.lower()
    dry = run(python, "-m", "evallaunch.evaluate", "--multirun", "cluster=our_cluster",
              "launch.dry_run=true", f"paths.data_dir={shared_datasets}",
              f"paths.output_root={elsewhere / 'outputs'}", cwd=elsewhere, env=env)  # fmt: skip
    assert "#SBATCH --partition=our-gpus" in dry
    assert f"{python} -u -m submitit.core._submit" in dry  # the job runs the installed copy
