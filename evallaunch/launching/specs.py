"""The jobs of a sweep, composed at submit time: config, output dir, fingerprint, resources."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from evallaunch.benchmarks.mirror import mirror_file, sha256_of
from evallaunch.config.schema import EvaluateConfig
from evallaunch.config.spec import job_spec
from evallaunch.job.fingerprint import config_fingerprint
from evallaunch.job.record import finished_results
from evallaunch.planning.batching import Member

log = logging.getLogger(__name__)

RESOURCE_KEYS = (
    "nodes",
    "gpus_per_node",
    "tasks_per_node",
    "cpus_per_task",
    "mem_gb",
    "timeout_min",
)


@dataclass
class JobSpec:
    """One job of a sweep (one model x benchmark x backend), fixed at submit time."""

    index: int
    overrides: list[str]
    config: DictConfig
    job_dir: Path
    fingerprint: str
    resources: dict[str, Any] = field(default_factory=dict)
    #: How the batching sees it (its plan's estimates): None, none to share.
    member: Member | None = None

    @property
    def label(self) -> str:
        cfg = self.config
        return f"{cfg.model.name}@{cfg.model.version} {cfg.benchmark.name} {cfg.backend.name}"

    @property
    def shape(self) -> tuple[tuple[str, Any], ...]:
        """The Slurm resources as a hashable key: one job array per distinct shape."""
        return tuple(sorted(self.resources.items()))

    @property
    def batch_key(self) -> tuple[Any, ...]:
        """Jobs with the same key may share one allocation: same model, backend and GPUs
        (their time limits are added up)."""
        cfg = self.config
        gpus = tuple(sorted((k, v) for k, v in self.resources.items() if k != "timeout_min"))
        return (cfg.model.name_or_path, cfg.model.revision, cfg.backend.name, gpus)


def job_fingerprint(config: DictConfig | EvaluateConfig) -> str:
    """The fingerprint the job's results.json will carry (data hash read from the mirror)."""
    cfg = job_spec(config)
    if cfg.benchmark.format == "harness":
        from evallaunch.job.harness_task import harness_inputs

        return harness_inputs(cfg).config_fingerprint
    data = mirror_file(cfg.benchmark, cfg.paths.data_dir)
    return config_fingerprint(cfg, sha256_of(data))


@dataclass
class ComposedJob:
    """One job's config composed from the sweep's config and its overrides, composed and
    fingerprinted once at submit time (the sweeper hands it on to the evallaunch launcher)."""

    config: DictConfig

    @cached_property
    def spec(self) -> EvaluateConfig:
        """The job's spec, built once (validation and the fingerprint read it)."""
        return job_spec(self.config)

    @cached_property
    def fingerprint(self) -> str:
        return job_fingerprint(self.spec)


def compose_job(hydra_context: Any, sweep_config: DictConfig, overrides: list[str]) -> ComposedJob:
    """Compose one job of a sweep (Hydra's per-job composition)."""
    return ComposedJob(hydra_context.config_loader.load_sweep_config(sweep_config, overrides))


def job_dir_of(cfg: DictConfig) -> Path:
    return Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)


def is_finished(job_dir: Path, fingerprint: str) -> bool:
    """Whether `job_dir` holds complete, valid results with this fingerprint."""
    return finished_results(job_dir, fingerprint) is not None


def reusable_results(cfg: EvaluateConfig, job_dir: Path) -> dict[str, Any] | None:
    """The finished results of this very job in `job_dir` (same config fingerprint), unless
    launch.force asks to run it again. A config that cannot be fingerprinted reuses nothing
    (the job itself then says what is wrong)."""
    from evallaunch.errors import EvallaunchError
    from evallaunch.job.checks import validate_job

    if cfg.launch.force or finished_results(job_dir) is None:
        return None
    validate_job(cfg)  # only here: a job that runs is validated by the runner
    try:
        return finished_results(job_dir, job_fingerprint(cfg))
    except EvallaunchError:
        return None


def base_resources(params: dict[str, Any]) -> dict[str, Any]:
    """The launcher's own resource settings (what every job gets without a plan)."""
    return {key: params[key] for key in RESOURCE_KEYS if params.get(key) is not None}


def job_resources(
    cfg: DictConfig, params: dict[str, Any], hardware: dict[str, Any]
) -> dict[str, Any]:
    """Resources of one job: the launcher's settings, refined by the planner on GPU clusters."""
    return planned_resources(cfg, params, hardware)[0]


def planned_resources(
    cfg: DictConfig, params: dict[str, Any], hardware: dict[str, Any]
) -> tuple[dict[str, Any], Any]:
    """(resources of one job, the plan they come from: None without one)."""
    resources = base_resources(params)
    from evallaunch.serving.endpoint import endpoint_of

    spec = job_spec(cfg)
    if endpoint_of(spec) is not None:  # a server someone else runs: no GPU here
        return {k: v for k, v in resources.items() if k != "gpus_per_node"}, None
    if (
        float(hardware.get("gpu_memory_gb") or 0) <= 0
        or int(hardware.get("gpus_per_node") or 0) <= 0
    ):
        return check_ray_tasks(cfg, resources), None  # CPU-only cluster: nothing to plan
    from evallaunch.errors import EvallaunchError
    from evallaunch.planning.job_plan import plan_for_config

    try:
        plan = plan_for_config(spec, hardware)
    except EvallaunchError as err:  # e.g. a checkpoint that does not exist yet
        if str(err).startswith("parallelism."):  # the user's sizes do not fit: say so
            raise
        log.warning("cannot plan %s (%s): using the launcher's resources", cfg.model.name, err)
        return {**resources, "gpus_per_node": 1}, None
    apply_plan(cfg, plan)
    planned = {**resources, **plan.slurm_resources()}
    # Tasks per node the launcher asks for explicitly (several Ray nodes on one machine).
    planned["tasks_per_node"] = max(planned["tasks_per_node"], resources.get("tasks_per_node", 1))
    return check_ray_tasks(cfg, planned), plan


def check_ray_tasks(cfg: DictConfig, resources: dict[str, Any]) -> dict[str, Any]:
    """`resources`, which must give a job whose replicas span several nodes one Slurm task
    per node of each replica (evallaunch.serving.ray_cluster)."""
    par = cfg.parallelism
    per_replica = int(par.get("nodes_per_replica") or 1)
    if per_replica <= 1:
        return resources
    replicas = int(par.get("data_parallel_size") or 1)
    tasks = int(resources.get("nodes") or 1) * int(resources.get("tasks_per_node") or 1)
    if tasks != per_replica * replicas:
        from evallaunch.errors import EvallaunchError

        raise EvallaunchError(
            f"parallelism.nodes_per_replica={per_replica} is invalid here: {replicas} "
            f"replica(s) of {per_replica} nodes need {per_replica * replicas} Slurm tasks, "
            f"and the job gets {tasks}",
            hint="leave the sizes to the plan (parallelism=auto on a GPU cluster), or set "
            "hydra.launcher.nodes / tasks_per_node to match",
        )
    return resources


def apply_plan(cfg: DictConfig, plan: Any) -> None:
    """Write the plan's sizes into the job's `parallelism` where the user left them null,
    so the job runs the engines its allocation was sized for."""
    from omegaconf import open_dict

    with open_dict(cfg.parallelism):
        for key, value in plan.parallelism_sizes().items():
            if cfg.parallelism.get(key) is None:
                cfg.parallelism[key] = value
