"""Compose evallaunch's config outside a Hydra job (CLI commands, callbacks, tests)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from evallaunch import schema

CONFIG_DIR = Path(__file__).resolve().parents[1] / "conf"


def compose_config(overrides: Sequence[str] = (), return_hydra_config: bool = False) -> DictConfig:
    """Compose `conf/evaluate.yaml` with command-line style overrides."""
    schema.register()
    with initialize_config_dir(config_dir=str(CONFIG_DIR)):
        return compose(
            config_name="evaluate",
            overrides=list(overrides),
            return_hydra_config=return_hydra_config,
        )


def group_options(group: str) -> list[str]:
    """The option names of a config group, e.g. group_options("benchmark")."""
    return sorted(path.stem for path in (CONFIG_DIR / group).glob("*.yaml"))
