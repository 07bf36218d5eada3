"""Ray clusters for replicas over several nodes (evallaunch.serving.ray_cluster): the real
Ray of .venv-vllm on this machine, two Ray nodes standing for two Slurm nodes. The whole
job on the local Slurm is in tests/test_slurm.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from evallaunch.errors import EvallaunchError
from evallaunch.serving.ray_cluster import (
    RAY_HEADS_ENV,
    RayCluster,
    RayRole,
    check_tasks,
    on_ray_cluster,
    ray_heads,
)
from evallaunch.serving.ray_nodes import require_ray
from evallaunch.serving.servers import Server
from tests.helpers import REPO

RAY_PYTHON = REPO / ".venv-vllm" / "bin" / "python"


def ray_python() -> str:
    if not RAY_PYTHON.is_file():
        pytest.skip("Ray lives in .venv-vllm (make setup-vllm)")
    return str(RAY_PYTHON)


def group_gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.ports
@pytest.mark.slow
def test_a_node_that_never_joins_is_named_and_the_head_is_stopped(tmp_path: Path) -> None:
    """Task 0 of a 2-node replica starts the head; task 1 never comes: waiting for the
    cluster fails naming it, and leaving the block stops every process of the head."""
    role = RayRole(rank=0, tasks=2, nodes_per_replica=2, host="localhost")
    cluster = RayCluster(role, ray_python(), tmp_path / "ray", timeout_s=8, gpus=0)
    never_joined = r"node\(s\) rank-1 never joined .*rank-0@"
    with pytest.raises(EvallaunchError, match=never_joined), cluster:
        assert json.loads((tmp_path / "ray" / "replica-0.json").read_text())["address"]
        cluster.heads()
    assert cluster.process is not None and group_gone(cluster.process.pid)
    assert (tmp_path / "ray" / "released").exists()  # the other tasks would leave too


def test_ray_missing_in_the_serving_environment_says_how_to_install_it() -> None:
    with pytest.raises(EvallaunchError, match="Ray is not installed in the serving env"):
        require_ray(sys.executable)  # .venv: no Ray (it lives with vLLM)


def test_tasks_make_whole_replicas_and_know_their_role() -> None:
    with pytest.raises(EvallaunchError, match="nodes_per_replica=2 is invalid for a job of 3"):
        check_tasks(3, 2)
    roles = [RayRole(rank, 4, 2, f"node{rank}") for rank in range(4)]
    assert [(r.replica, r.is_head) for r in roles] == [(0, True), (0, False), (1, True), (1, False)]
    assert roles[3].member_names() == ["rank-2@", "rank-3@"]


def test_a_replica_s_server_runs_on_its_head_node(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replica 1's `vllm serve` starts on its own head node through srun, listening there,
    on the Ray cluster of that replica."""
    with pytest.raises(EvallaunchError, match="nodes_per_replica=2 is invalid here"):
        ray_heads(2, 2)  # outside a Slurm job of evallaunch's launcher: no clusters
    heads = [{"address": "n0:6379", "host": "n0"}, {"address": "n2:6380", "host": "n2"}]
    monkeypatch.setenv(RAY_HEADS_ENV, json.dumps(heads))
    assert ray_heads(2, 2) == heads
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    fake_srun = Path(sys.executable).parent / "srun"
    if not fake_srun.exists() and not any(
        (Path(d) / "srun").exists() for d in os.environ["PATH"].split(":")
    ):
        pytest.skip("needs srun (the local Slurm: make slurm-up)")
    server = Server(1, ["python", "-m", "vllm.entrypoints.openai.api_server"], 8001, Path("x"))
    on_ray_cluster(server, heads[1], remote=True)
    assert Path(server.argv[0]).name == "srun" and "--nodelist=n2" in server.argv
    assert server.argv[-2:] == ["--distributed-executor-backend", "ray"]
    assert (server.url, server.env["RAY_ADDRESS"]) == ("http://n2:8001", "n2:6380")


HOLDER = """
import signal, sys
from pathlib import Path
from evallaunch.serving.ray_cluster import RayCluster, RayRole
if sys.argv[3] == "bypass":  # a handler there already, like submitit's on the first task
    signal.signal(signal.SIGTERM, lambda *_: print("bypassed", flush=True))
role = RayRole(rank=0, tasks=1, nodes_per_replica=1, host="localhost")
with RayCluster(role, sys.argv[1], Path(sys.argv[2]), timeout_s=60, gpus=0) as cluster:
    cluster.heads()
    print(cluster.process.pid, flush=True)
    while True:
        signal.pause()
"""


@pytest.mark.ports
@pytest.mark.slow
@pytest.mark.parametrize("before", ["nothing", "bypass"])
def test_sigterm_stops_the_ray_node_first(tmp_path: Path, before: str) -> None:
    """Slurm's SIGTERM (time limit, scancel, requeue) stops the task's Ray node at once:
    then a task exits, or the first task's own handler (submitit's) goes on."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, ray_python(), str(tmp_path / "ray"), before],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    ray_pid = int(holder.stdout.readline())  # the cluster is up
    holder.send_signal(signal.SIGTERM)
    if before == "bypass":
        assert holder.stdout.readline().strip() == "bypassed"
        assert group_gone(ray_pid)
        holder.kill()
    holder.wait(timeout=60)
    assert group_gone(ray_pid)
    assert before == "bypass" or holder.returncode == 128 + signal.SIGTERM
