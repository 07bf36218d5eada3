"""`evallaunch plan`: every job of a (multirun) sweep planned on its cluster, nothing launched."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from omegaconf import DictConfig, OmegaConf

from evallaunch.config.compose import CONFIG_GROUPS
from evallaunch.config.schema import EvaluateConfig
from evallaunch.config.spec import spec_from_dict
from evallaunch.errors import EvallaunchError
from evallaunch.planning.planner import Plan

if TYPE_CHECKING:
    from evallaunch.planning.job_details import JobDetails

# Overrides of these keys pick a config file; all others only set values.


def expand_sweep(overrides: Sequence[str]) -> list[list[str]]:
    """The override lists of every job of a sweep (Hydra's basic-sweeper expansion; with
    `suite=NAME`, that of each member of the suite)."""
    from evallaunch.compat.hydra import expand_overrides
    from evallaunch.config.compose import compose_config
    from evallaunch.config.spec import job_spec
    from evallaunch.config.suites import suite_argument_sets

    sets = [list(overrides)]
    if any(o.split("=", 1)[0] == "suite" for o in overrides):
        suite = job_spec(compose_config([o for o in overrides if o.startswith("suite=")])).suite
        assert suite is not None
        sets = suite_argument_sets(suite, list(overrides))
    return [list(job) for args in sets for batch in expand_overrides(args) for job in batch]


def _is_group(override: str) -> bool:
    key = override.lstrip("+~").split("=", 1)[0]
    return key in CONFIG_GROUPS or key.startswith("hydra/")


class SweepComposer:
    """Job configs of a sweep for planning. Hydra composes and resolves once per
    combination of group choices (a checkpoint sweep changes only values, so it composes
    once); each job is then a plain copy with its value overrides applied and the model's
    derived keys (name, version, step, tokens trained) recomputed, made the job's spec."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, ...], tuple[dict[str, Any], dict[str, Any]]] = {}
        self._launcher_plans: dict[tuple[str, ...], bool] = {}
        self._limits: dict[tuple[str, ...], float | None] = {}
        self._parser: Any = None
        self._values: dict[str, Any] = {}

    def compose(self, overrides: list[str]) -> tuple[EvaluateConfig, dict[str, Any]]:
        """(the job's resolved config, the cluster's hardware) for one job."""
        from evallaunch.config.compose import compose_config
        from evallaunch.config.naming import derive_model_keys

        # Group choices and the launcher's settings (its hardware) are composed by Hydra.
        groups = tuple(o for o in overrides if _is_group(o) or o.startswith("hydra."))
        if groups not in self._cache:
            full = compose_config(list(groups), return_hydra_config=True)
            job = OmegaConf.masked_copy(full, [str(key) for key in full if key != "hydra"])
            container = OmegaConf.to_container(job, resolve=True)
            assert isinstance(container, dict)
            self._cache[groups] = ({str(k): v for k, v in container.items()}, hardware_of(full))
            self._launcher_plans[groups] = not plans_on_this_machine(full)
            limit = full.hydra.launcher.get("timeout_min")
            self._limits[groups] = float(limit) if limit else None
        cached, hardware = self._cache[groups]
        cfg = copy.deepcopy(cached)
        touched_model = False
        for override in overrides:
            if not _is_group(override) and not override.startswith("hydra."):
                key, _, value = override.partition("=")
                *parents, leaf = key.lstrip("+").split(".")
                node = cfg
                for part in parents:
                    node = node.setdefault(part, {})
                node[leaf] = self._value(value)
                touched_model |= key.lstrip("+").startswith("model.")
        if touched_model:
            derive_model_keys(cfg["model"], [o.split("=", 1)[0].lstrip("+") for o in overrides])
        bench = cfg["benchmark"]
        if bench.get("format") == "harness" and bench.get("task"):
            bench["name"] = bench["task"]  # named after its task (naming.py: el.task_name)
        return spec_from_dict(cfg), hardware

    def launcher_plans(self, overrides: list[str]) -> bool:
        """Whether the launcher of a job composed before writes the plan's sizes into it
        (a cluster with a `hardware` block), rather than the job planning itself."""
        groups = tuple(o for o in overrides if _is_group(o) or o.startswith("hydra."))
        return self._launcher_plans[groups]

    def time_limit_min(self, overrides: list[str]) -> float | None:
        """The cluster's time limit of a job composed before (hydra.launcher.timeout_min)."""
        return self._limits[tuple(o for o in overrides if _is_group(o) or o.startswith("hydra."))]

    def _value(self, text: str) -> Any:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        if text not in self._values:
            if self._parser is None:
                self._parser = OverridesParser.create()
            self._values[text] = self._parser.parse_override(f"x={text}").value()
        return copy.deepcopy(self._values[text])


def plans_on_this_machine(cfg: DictConfig) -> bool:
    """Whether the cluster runs jobs here (cluster=local: Hydra's basic launcher), where
    each job plans for the GPUs it sees, as `evaluate` does."""
    return cfg.hydra.runtime.choices.get("hydra/launcher") == "basic"


def hardware_of(cfg: DictConfig) -> dict[str, Any]:
    """The `hardware` block of the cluster's launcher; on this machine (cluster=local), its
    GPUs, as a job sees them; an error for CPU-only clusters and a machine without GPUs."""
    if plans_on_this_machine(cfg):
        from evallaunch.planning.local_gpus import local_gpu_hardware

        found = local_gpu_hardware()
        if found is None:
            raise EvallaunchError(
                "cluster=local plans for the GPUs of this machine, and this machine has no "
                "GPU (CUDA sees none)",
                hint="plan for a GPU cluster instead: cluster=slurm_h100_example, or a "
                "cluster file of yours with hydra.launcher.hardware (conf/cluster/)",
            )
        return found
    launcher = cfg.hydra.launcher
    hardware = launcher.get("hardware") if "hardware" in launcher else None
    if not hardware or float(hardware.get("gpu_memory_gb") or 0) <= 0:
        choice = cfg.hydra.runtime.choices.get("cluster")
        raise EvallaunchError(
            f"cluster={choice} describes no GPUs to plan for (hydra.launcher.hardware)",
            hint="pick a GPU cluster config, e.g. cluster=slurm_h100_example or cluster=slurm",
        )
    container = OmegaConf.to_container(hardware, resolve=True)
    assert isinstance(container, dict)
    return {str(k): v for k, v in container.items()}


class PlannedJob(NamedTuple):
    """One job of `evallaunch plan`: its label, plan and details (None for a job that
    sends its requests to a server someone else runs, model.endpoint: no GPU)."""

    label: str
    plan: Plan | None
    details: JobDetails | None
    #: Why the job shares a job with other benchmarks of its model, or does not ("": no
    #: choice to explain; launch.benchmarks_per_job, evallaunch.planning.batching).
    batching: str = ""


def plan_sweep(overrides: Sequence[str], multirun: bool) -> list[tuple[str, Plan | None]]:
    """(job label, plan) for every job the overrides describe (see `describe_sweep`)."""
    return [(job.label, job.plan) for job in describe_sweep(overrides, multirun)]


def describe_sweep(overrides: Sequence[str], multirun: bool) -> list[PlannedJob]:
    """Every job the overrides describe, planned on its cluster, with its model facts,
    engine and engine settings, and the jobs that run together (launch.benchmarks_per_job)."""
    from evallaunch.planning.batching import Member, batches, member_of
    from evallaunch.planning.job_details import job_details
    from evallaunch.planning.job_plan import model_facts, plan_for_config
    from evallaunch.serving.endpoint import endpoint_of

    jobs = expand_sweep(overrides) if multirun else [list(overrides)]
    composer = SweepComposer()
    rows: list[PlannedJob] = []
    members: list[Member] = []
    for job in jobs:
        cfg, hardware = composer.compose(job)
        label = f"{cfg.model.name}@{cfg.model.version} {cfg.benchmark.name}"
        if endpoint_of(cfg) is not None:
            rows.append(PlannedJob(label, None, None))
            members.append(Member(("endpoint", len(members)), label, ""))
            continue
        plan = plan_for_config(cfg, hardware)
        facts = model_facts(cfg)
        launcher_plans = composer.launcher_plans(job)
        details = job_details(cfg, plan, facts, launcher_plans)
        rows.append(PlannedJob(label, plan, details))
        shape = (plan.total_gpus, plan.nodes, plan.gpus_per_node, launcher_plans)
        key = (cfg.model.name_or_path, cfg.model.revision, cfg.backend.name, shape)
        # cluster=local runs the jobs one after another, each with its own engines.
        members.append(member_of(cfg, plan if launcher_plans else None, key))
    if not jobs:
        return rows
    per_job = cfg.launch.benchmarks_per_job
    for choice in batches(members, per_job, composer.time_limit_min(jobs[-1])):
        for index in choice.members:
            rows[index] = rows[index]._replace(batching=choice.reason)
    return rows
