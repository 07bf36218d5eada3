"""`evallaunch plan`: every job of a (multirun) sweep planned on its cluster, nothing launched."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from evallaunch.errors import EvallaunchError
from evallaunch.planning.planner import Plan

# Overrides of these keys pick a config file; all others only set values.
GROUPS = ("model", "benchmark", "backend", "parallelism", "cluster", "experiment")


def expand_sweep(overrides: Sequence[str]) -> list[list[str]]:
    """The override lists of every job of a sweep (Hydra's basic-sweeper expansion)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(overrides))
    return [list(job) for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def _is_group(override: str) -> bool:
    key = override.lstrip("+~").split("=", 1)[0]
    return key in GROUPS or key.startswith("hydra/")


class SweepComposer:
    """Composes job configs, re-using one composition per combination of group choices
    (a checkpoint sweep changes only values, so it composes once)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, ...], DictConfig] = {}

    def compose(self, overrides: list[str]) -> DictConfig:
        from evallaunch.compose import compose_config

        groups = tuple(o for o in overrides if _is_group(o))
        if groups not in self._cache:
            self._cache[groups] = compose_config(list(groups), return_hydra_config=True)
        cfg = copy.deepcopy(self._cache[groups])
        with open_dict(cfg):
            for override in overrides:
                if not _is_group(override):
                    key, _, value = override.partition("=")
                    OmegaConf.update(cfg, key.lstrip("+"), _parse_value(value), merge=True)
        return cfg


def _parse_value(text: str) -> Any:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    override = OverridesParser.create().parse_override(f"x={text}")
    return override.value()


def hardware_of(cfg: DictConfig) -> dict[str, Any]:
    """The `hardware` block of the cluster's launcher, or an error for CPU-only clusters."""
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


def plan_sweep(overrides: Sequence[str], multirun: bool) -> list[tuple[str, Plan]]:
    """(job label, plan) for every job the overrides describe."""
    from evallaunch.planning.jobs import plan_for_config

    jobs = expand_sweep(overrides) if multirun else [list(overrides)]
    composer = SweepComposer()
    rows = []
    for job in jobs:
        cfg = composer.compose(job)
        label = f"{cfg.model.name}@{cfg.model.version} {cfg.benchmark.name}"
        rows.append((label, plan_for_config(cfg, hardware_of(cfg))))
    return rows
