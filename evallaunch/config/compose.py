"""Compose evallaunch's config outside a Hydra job (CLI commands, callbacks, tests), and
where the configs come from: the package's own, overlaid by a team's."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import DictConfig

from evallaunch.config import schema

# The configs ship inside the package (conf/ at the repository root links here).
CONFIG_DIR = Path(__file__).resolve().parents[1] / "conf"
# A directory of the team's own configs in the same groups (cluster/our_cluster.yaml,
# model/our_model.yaml, ...): found before the package's, by every command.
USER_CONFIG_ENV = "EVALLAUNCH_CONFIG_DIR"


def user_config_dir() -> Path | None:
    """The directory EVALLAUNCH_CONFIG_DIR names, if set."""
    directory = os.environ.get(USER_CONFIG_ENV)
    return Path(directory).expanduser().resolve() if directory else None


class UserConfigSearchPath(SearchPathPlugin):
    """Hydra's search path with the team's config directory (EVALLAUNCH_CONFIG_DIR) first."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        directory = user_config_dir()
        if directory is not None:
            search_path.prepend(provider="evallaunch-user", path=f"file://{directory}")


def compose_config(overrides: Sequence[str] = (), return_hydra_config: bool = False) -> DictConfig:
    """Compose `evaluate.yaml` with command-line style overrides."""
    schema.register()
    with initialize_config_dir(config_dir=str(CONFIG_DIR)):
        return compose(
            config_name="evaluate",
            overrides=list(overrides),
            return_hydra_config=return_hydra_config,
        )


#: The config groups of conf/ a command line picks options of.
CONFIG_GROUPS = ("model", "benchmark", "backend", "parallelism", "cluster", "experiment", "suite")


def group_options(group: str) -> list[str]:
    """The option names of a config group, e.g. group_options("benchmark"), the team's own
    included."""
    directories = [CONFIG_DIR, *filter(None, [user_config_dir()])]
    return sorted({path.stem for d in directories for path in (d / group).glob("*.yaml")})
