"""Hydra callbacks of evallaunch's entrypoint (conf/evaluate.yaml `hydra.callbacks`)."""

from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from evallaunch.config.preflight import check_writable
from evallaunch.config.spec import job_spec
from evallaunch.errors import EvallaunchError, exit_with_error
from evallaunch.job.checks import validate_job


class Preflight(Callback):
    """Hydra callback: validate the config and the output root before any job runs.

    Hydra turns exceptions raised by callbacks into warnings, so a failed check prints
    its message and exits (status 2) instead.
    """

    def _check(self, config: DictConfig, run_dir: str | None = None) -> None:
        from evallaunch.runtime.files import apply_umask

        try:
            spec = job_spec(config)
            apply_umask(spec.paths.umask)  # before Hydra creates the job's directory
            validate_job(spec)
            check_writable(spec.paths.output_root)
            if run_dir is not None:  # where Hydra is about to create the job's directory
                check_writable(run_dir, "hydra.run.dir")
        except EvallaunchError as err:
            exit_with_error(err)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.get("suite") is not None:
            exit_with_error(
                EvallaunchError(
                    f"suite={config.suite.name} is invalid without --multirun: a suite runs "
                    "one job per member",
                    hint="add --multirun",
                )
            )
        self._check(config, str(config.hydra.run.dir))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)
