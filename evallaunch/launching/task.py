"""What a submitted Slurm (or submitit-local) job runs: one or more pre-composed Hydra jobs."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict, read_write

log = logging.getLogger(__name__)


class BatchTask:
    """Runs the jobs of one batch (configs fixed at submit time): those on the same inference
    servers at once, the others one after another.

    The configs were composed when the sweep was submitted, so editing `conf/` while the
    job waits in the queue does not change what it runs. A job that fails does not stop
    the others of its batch. On a time-out or preemption signal, submitit calls
    `checkpoint`, which requeues the same batch; finished jobs are then skipped.
    """

    def __init__(
        self,
        hydra_context: HydraContext,
        task_function: TaskFunction,
        singleton_state: dict[Any, Any],
    ) -> None:
        self.hydra_context = hydra_context
        self.task_function = task_function
        self.singleton_state = singleton_state
        # The serving environment's Python, found at submit time (the job runs from a
        # snapshot of the code, without the git-ignored .venv-vllm).
        from evallaunch.engines.vllm_python import find_vllm_python

        self.serving_python = find_vllm_python()

    def __call__(self, configs: list[DictConfig], fingerprints: list[str]) -> list[JobReturn]:
        import submitit

        from evallaunch.engines.vllm_python import VLLM_PYTHON_ENV

        Singleton.set_state(self.singleton_state)
        setup_globals()
        if self.serving_python:
            os.environ.setdefault(VLLM_PYTHON_ENV, self.serving_python)
        env = submitit.JobEnvironment()
        nodes_per_replica = int(configs[0].parallelism.get("nodes_per_replica") or 1)
        if nodes_per_replica > 1:
            return self._on_ray_clusters(configs, fingerprints, env, nodes_per_replica)
        return self._run_all(configs, fingerprints, env.job_id)

    def _on_ray_clusters(
        self, configs: list[DictConfig], fingerprints: list[str], env: Any, per_replica: int
    ) -> list[JobReturn]:
        """Replicas over several nodes: every task runs its node of a Ray cluster; the
        first task runs the jobs once every cluster is complete, the others wait for it."""
        from evallaunch.engines.vllm_python import vllm_python
        from evallaunch.serving.ray_cluster import (
            RAY_HEADS_ENV,
            RayCluster,
            RayRole,
            check_tasks,
            replica_gpus,
        )

        role = RayRole(env.global_rank, env.num_tasks, per_replica, env.hostname)
        check_tasks(role.tasks, per_replica)
        par = configs[0].parallelism
        rendezvous = Path(str(configs[0].hydra.sweep.dir)) / ".evallaunch" / "ray" / env.job_id
        timeout = float(par.ray_join_timeout_s)
        with RayCluster(role, vllm_python(), rendezvous, timeout, replica_gpus(par)) as cluster:
            if role.rank != 0:
                cluster.wait_for_release()
                return []
            os.environ[RAY_HEADS_ENV] = json.dumps(cluster.heads())
            return self._run_all(configs, fingerprints, env.job_id)

    def _run_all(
        self, configs: list[DictConfig], fingerprints: list[str], job_id: str
    ) -> list[JobReturn]:
        """Run the batch's jobs. Once a job's servers are up, the jobs that would start the
        very same ones run at once on them, each in its own process (BatchMembers): every
        benchmark's requests in the one balancer queue, each replica's engine loaded once."""
        from evallaunch.launching.batch_members import BatchMembers, same_servers
        from evallaunch.launching.specs import is_finished, job_dir_of
        from evallaunch.serving.batch_servers import shared_servers

        returns: dict[int, JobReturn] = {}
        todo: list[int] = []
        for index, (cfg, fingerprint) in enumerate(zip(configs, fingerprints, strict=True)):
            if is_finished(job_dir_of(cfg), fingerprint):  # done before a requeue
                returns[index] = JobReturn(status=JobStatus.COMPLETED, _return_value=None)
                continue
            with read_write(cfg.hydra.job), open_dict(cfg.hydra.job):  # read-only now
                cfg.hydra.job.id = job_id
            todo.append(index)
        sweep_dir = Path(str(configs[0].hydra.sweep.dir))
        members = BatchMembers(self, sweep_dir / ".evallaunch" / "batch" / job_id)
        current: list[int] = []  # the job running here

        def run_sharing(announcement: dict[str, Any]) -> None:
            starter = configs[current[-1]]
            for index in [i for i in todo if same_servers(configs[i], starter)]:
                todo.remove(index)
                members.start(index, configs[index], announcement)

        with shared_servers(on_start=run_sharing), members:
            while todo:
                current.append(todo.pop(0))
                returns[current[-1]] = self._run(configs[current[-1]])
                returns.update(members.wait())  # before other servers may start
        return [returns[index] for index in range(len(configs))]

    def _run(self, cfg: DictConfig) -> JobReturn:
        try:
            return run_job(
                hydra_context=self.hydra_context,
                task_function=self.task_function,
                config=cfg,
                job_dir_key="hydra.sweep.dir",
                job_subdir_key="hydra.sweep.subdir",
            )
        except SystemExit as exit_:  # the entrypoint exits non-zero on user errors
            error = RuntimeError(f"job exited with status {exit_.code}")
            return JobReturn(status=JobStatus.FAILED, _return_value=error)

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """Requeue this batch with the same arguments (submitit's preemption hook)."""
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)
