"""Structured-config schema: every config group is validated against these dataclasses
(the sections: evallaunch.config.evaluated and evallaunch.config.running).

The schema is registered in Hydra's ConfigStore as ``evaluate_schema`` and is the first
entry of ``conf/evaluate.yaml``'s defaults list, so an unknown key, a value of the wrong
type or a missing required value fails while the config is composed, before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

from evallaunch.config.evaluated import (
    BenchmarkConfig,
    GenerationConfig,
    ModelConfig,
    SamplingConfig,
)
from evallaunch.config.frozen import Frozen
from evallaunch.config.naming import RESOLVERS
from evallaunch.config.running import (
    BackendConfig,
    LaunchConfig,
    ParallelismConfig,
    PathsConfig,
    SuiteConfig,
)


@dataclass
class EvaluateConfig(Frozen):
    """The composed configuration of one evaluation job."""

    model: ModelConfig = field(default_factory=ModelConfig)
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    parallelism: ParallelismConfig = field(default_factory=ParallelismConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    launch: LaunchConfig = field(default_factory=LaunchConfig)
    # A suite to sweep (`--multirun suite=NAME`): one job per member.
    suite: SuiteConfig | None = None
    # Experiment name: the first level of the output tree.
    experiment_name: str = "default"
    # Set HF_HUB_OFFLINE=1 (and the datasets/transformers equivalents) for the job.
    offline: bool = True
    # Print the harnesses' own logging and progress bars on the terminal too (they always
    # go to the job's evaluate.log); evallaunch's progress and the results table always show.
    verbose: bool = False


def unknown_keys(cfg: Any, prefix: str = "") -> list[tuple[str, list[str]]]:
    """Keys that a `+key=value` override added under a schema section (Hydra's `+` adds keys
    even to structured configs), each with the section's known keys; the free-form
    mappings (e.g. backend.model_args) take any key."""
    found: list[tuple[str, list[str]]] = []
    if isinstance(cfg, ListConfig):
        for index, item in enumerate(cfg):
            found += unknown_keys(item, f"{prefix}{index}.")
        return found
    if not isinstance(cfg, DictConfig) or cfg._is_none() or cfg._is_missing():
        return found
    kind = OmegaConf.get_type(cfg)
    known = [f.name for f in fields(kind)] if kind is not None and is_dataclass(kind) else None
    for key in map(str, cfg):
        if key == "hydra" and not prefix:  # Hydra's own, in a sweep's job configs
            continue
        if known is not None and key not in known:
            found.append((f"{prefix}{key}", [f"{prefix}{name}" for name in known]))
        elif known is not None:
            found += unknown_keys(cfg._get_node(key), f"{prefix}{key}.")
    return found


def missing_keys(cfg: DictConfig) -> list[str]:
    """Required values (`???`) that are still unset, as dotted keys. Read without resolving
    interpolations (resolving costs most of a spec's build); Hydra's own `hydra` node (in a
    sweep's job configs) is not looked at."""

    def gather(value: Any, key: str) -> list[str]:
        if isinstance(value, dict):
            return [k for name, v in value.items() for k in gather(v, f"{key}{name}.")]
        if isinstance(value, list):
            return [k for i, v in enumerate(value) for k in gather(v, f"{key}{i}.")]
        return [key[:-1]] if value == MISSING else []

    plain = OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(plain, dict)
    return sorted(gather({k: v for k, v in plain.items() if k != "hydra"}, ""))


def register() -> None:
    """Register the schema and evallaunch's resolvers with Hydra and OmegaConf (idempotent)."""
    for name, resolver in RESOLVERS.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_resolver(name, resolver)
    store = ConfigStore.instance()
    if "evaluate_schema.yaml" not in store.repo:
        store.store(name="evaluate_schema", node=EvaluateConfig)


register()
