"""Ray clusters for replicas that span several nodes (`parallelism.nodes_per_replica` > 1).

A job of `replicas x nodes_per_replica` Slurm tasks, one per node, runs this on every task:
the first task of each replica starts a Ray head, the others join it as workers, each
started from the serving environment's Python (the one with vLLM). The heads' addresses
pass through files in a directory every node sees (the sweep directory). The first task
waits until every replica's cluster reports all its nodes and GPUs, runs the job (its `vllm
serve` replicas use the clusters), then releases the others; every task stops its own Ray
node's processes on the way out, whatever ends it (`with` block). The queries of a
cluster's nodes and stopping a node's processes are in `evallaunch.serving.ray_nodes`. A
job's `vllm serve` replica is put on its cluster by `ray_heads` and `on_ray_cluster`.

    with RayCluster(role, python, rendezvous, timeout_s, gpus) as cluster:
        if role.rank == 0:
            heads = cluster.heads()     # one address per replica, every node joined
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evallaunch.config.running import ParallelismConfig
from evallaunch.errors import EvallaunchError
from evallaunch.serving.ray_nodes import (
    POLL_S,
    RAY_ENV,
    node_ip,
    require_ray,
    stop_process_group,
    wait_for_nodes,
)
from evallaunch.serving.servers import Server, find_executable, free_port

log = logging.getLogger(__name__)

RAY_PORT = 6379
# The environment variable through which the first task hands the heads to the job.
RAY_HEADS_ENV = "EVALLAUNCH_RAY_HEADS"
RELEASED = "released"


@dataclass(frozen=True)
class RayRole:
    """One Slurm task of a multi-node job: its rank, the replica it belongs to, and whether
    it runs that replica's Ray head."""

    rank: int
    tasks: int
    nodes_per_replica: int
    host: str

    @property
    def replica(self) -> int:
        """The replica this task's node serves."""
        return self.rank // self.nodes_per_replica

    @property
    def is_head(self) -> bool:
        """Whether this task runs its replica's Ray head."""
        return self.rank % self.nodes_per_replica == 0

    @property
    def replicas(self) -> int:
        """Replicas of the job."""
        return self.tasks // self.nodes_per_replica

    @property
    def node_name(self) -> str:
        """This task's Ray node name (unique when several tasks share a machine)."""
        return f"rank-{self.rank}@{self.host}"

    def member_names(self) -> list[str]:
        """The Ray node names of this task's replica (filled in with each task's host)."""
        first = self.replica * self.nodes_per_replica
        return [f"rank-{rank}@" for rank in range(first, first + self.nodes_per_replica)]


def announced_heads() -> list[dict[str, Any]]:
    """Each replica's head (address, host, nodes) that the job's first task handed on
    (RAY_HEADS_ENV); [] outside a job whose replicas span several nodes."""
    return list(json.loads(os.environ.get(RAY_HEADS_ENV) or "[]"))


def announced_clusters() -> dict[str, Any]:
    """{"ray_clusters": announced_heads()} for results.json's engine section, else {}."""
    heads = announced_heads()
    return {"ray_clusters": heads} if heads else {}


def replica_gpus(parallelism: ParallelismConfig) -> int:
    """GPUs of one replica (TP x PP) when this machine has GPUs, else 0."""
    try:
        import torch

        has_gpus = torch.cuda.is_available()
    except ImportError:
        has_gpus = False
    tp = parallelism.tensor_parallel_size or 1
    return tp * (parallelism.pipeline_parallel_size or 1) if has_gpus else 0


def check_tasks(tasks: int, nodes_per_replica: int) -> None:
    """The job's tasks make whole replicas."""
    if tasks < nodes_per_replica or tasks % nodes_per_replica:
        raise EvallaunchError(
            f"parallelism.nodes_per_replica={nodes_per_replica} is invalid for a job of "
            f"{tasks} Slurm task(s): each replica needs that many tasks, one per node",
            hint="submit it through evallaunch's Slurm launcher (cluster=...), which sizes "
            "the allocation from the plan",
        )


class RayCluster:
    """This task's Ray node (head or worker) for the life of a `with` block; on the first
    task, `heads()` waits for every replica's cluster to be complete."""

    def __init__(
        self, role: RayRole, python: str, rendezvous: Path, timeout_s: float, gpus: int
    ) -> None:
        self.role, self.python, self.rendezvous = role, python, rendezvous
        self.timeout_s, self.gpus = timeout_s, gpus
        self.process: subprocess.Popen[bytes] | None = None
        self._previous: Any = signal.SIG_DFL

    def __enter__(self) -> RayCluster:
        require_ray(self.python)
        self.rendezvous.mkdir(parents=True, exist_ok=True)
        # SIGTERM (Slurm's time limit, scancel, a requeue) stops this node first; then the
        # handler that was there runs (submitit's, on the first task), or the task exits.
        self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        role = self.role
        if role.is_head:
            port = free_port(RAY_PORT + role.replica)
            address = f"{node_ip(role.host)}:{port}"
            self._start(["--head", f"--port={port}", "--include-dashboard=false"])
            # The workers join once the head's own node is up (not while it starts).
            wait_for_nodes(self.python, address, [f"{role.node_name}"], 0, self.timeout_s)
            _write_json(self._head_file(role.replica), {"address": address, "host": role.host})
        else:
            address = self._wait_for_head(role.replica)["address"]
            self._start([f"--address={address}"])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.role.rank == 0:
            (self.rendezvous / RELEASED).touch()
        stop_process_group(self.process)
        signal.signal(signal.SIGTERM, self._previous)

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        stop_process_group(self.process, grace_s=5)
        if callable(self._previous):
            self._previous(signum, frame)
        elif self._previous != signal.SIG_IGN:
            raise SystemExit(128 + signum)

    def heads(self) -> list[dict[str, Any]]:
        """Every replica's head ({address, host}), once its cluster has all its nodes and
        GPUs."""
        heads = []
        for replica in range(self.role.replicas):
            head = self._wait_for_head(replica)
            first = RayRole(replica * self.role.nodes_per_replica, self.role.tasks,
                            self.role.nodes_per_replica, "")  # fmt: skip
            nodes = wait_for_nodes(
                self.python, head["address"], first.member_names(), self.gpus, self.timeout_s
            )
            heads.append({**head, "nodes": sorted(str(n["name"]) for n in nodes)})
        _write_json(self.rendezvous / "clusters.json", {"heads": heads})
        return heads

    def wait_for_release(self) -> None:
        """Keep this node in its cluster until the first task is done (or its node fails)."""
        while not (self.rendezvous / RELEASED).exists():
            if self.process is not None and self.process.poll() is not None:
                raise EvallaunchError(
                    f"the Ray node of {self.role.node_name} exited "
                    f"({self.process.returncode}) before the job ended"
                )
            time.sleep(POLL_S)

    def _start(self, args: list[str]) -> None:
        gpus = self.gpus // self.role.nodes_per_replica
        command = [self.python, "-m", "ray.scripts.scripts", "start", "--block",
                   f"--node-name={self.role.node_name}", f"--num-gpus={gpus}",
                   f"--node-ip-address={node_ip(self.role.host)}",
                   "--disable-usage-stats", *args]  # fmt: skip
        log_file = self.rendezvous / f"ray-{self.role.node_name}.log"
        log.info("Ray node %s: %s", self.role.node_name, " ".join(command))
        with log_file.open("ab") as out:
            self.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its raylet and workers: one process group to stop
                env={**os.environ, **RAY_ENV},
            )

    def _head_file(self, replica: int) -> Path:
        return self.rendezvous / f"replica-{replica}.json"

    def _wait_for_head(self, replica: int) -> dict[str, Any]:
        path = self._head_file(replica)
        deadline = time.monotonic() + self.timeout_s
        while not path.is_file():
            if time.monotonic() > deadline:
                raise EvallaunchError(
                    f"replica {replica}'s Ray head (task {replica * self.role.nodes_per_replica}"
                    f") did not start within {self.timeout_s:g} s"
                )
            time.sleep(POLL_S)
        return dict(json.loads(path.read_text()))


def _write_json(path: Path, data: Any) -> None:
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


def ray_heads(nodes_per_replica: int, replicas: int) -> list[dict[str, Any]]:
    """The Ray heads of a job whose replicas span several nodes ([] for one node), which
    the job's Slurm tasks started (evallaunch.launching.task, RAY_HEADS_ENV)."""
    if nodes_per_replica <= 1:
        return []
    heads = announced_heads()
    if len(heads) != replicas:
        raise EvallaunchError(
            f"parallelism.nodes_per_replica={nodes_per_replica} is invalid here: a replica "
            f"over several nodes needs the Ray clusters of the job's Slurm tasks, and "
            f"{len(heads)} of {replicas} are up",
            hint="submit the job with --multirun to a Slurm cluster (cluster=...), which "
            "starts them",
        )
    return heads


def on_ray_cluster(server: Server, head: dict[str, Any], remote: bool) -> None:
    """Run a `vllm serve` replica on its Ray cluster (pipeline parallel over its nodes),
    started on the cluster's head node (`srun` onto it when that is another node)."""
    server.env["RAY_ADDRESS"] = head["address"]
    server.argv += ["--distributed-executor-backend", "ray"]
    if remote:
        node = ["--nodes=1", "--ntasks=1", f"--nodelist={head['host']}"]
        server.argv = [find_executable("srun"), "--overlap", *node, *server.argv]
        server.host = head["host"]
