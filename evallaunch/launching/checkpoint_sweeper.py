"""Hydra sweeper `evallaunch`: the basic sweeper, plus checkpoint sweeps and dedup.

- `model.checkpoints=<glob or hf://org/name>` (with `model.checkpoint_select`) expands
  into one job per selected checkpoint; the resolved list is written to the sweep dir as
  `checkpoints.json` (model, path or revision, step, tokens trained).
- `suite=NAME` (conf/suite/NAME.yaml) runs the sweep once per member of the suite.
- Jobs whose complete results already exist with the same config fingerprint are skipped
  (`launch.force=true` reruns them), whatever the launcher, and so are the jobs already in
  the published table `launch.published` (evallaunch.launching.published).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)
CHECKPOINT_KEYS = ("model.checkpoints", "model.checkpoint_select", "model.tokens_per_step")


@dataclass
class EvallaunchSweeperConf:
    _target_: str = "evallaunch.launching.checkpoint_sweeper.EvallaunchSweeper"
    max_batch_size: int | None = None
    params: dict[str, str] | None = None


ConfigStore.instance().store(
    group="hydra/sweeper", name="evallaunch", node=EvallaunchSweeperConf, provider="evallaunch"
)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class EvallaunchSweeper(Sweeper):
    """Hydra's basic sweeper (the cartesian product of sweep overrides, launched in batches
    of `max_batch_size`; `params` are overrides of the sweep config) with checkpoint
    expansion and dedup of finished jobs."""

    def __init__(self, max_batch_size: int | None, params: dict[str, str] | None = None) -> None:
        super().__init__()
        self.max_batch_size = max_batch_size
        self.params = params or {}
        self.hydra_context: HydraContext | None = None
        self.config: DictConfig | None = None
        self.launcher: Launcher | None = None
        self.published: Any = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        from evallaunch.config.suites import suite_argument_sets
        from evallaunch.errors import EvallaunchError, exit_with_error

        assert self.config is not None
        try:
            arguments = self._expand_checkpoints(arguments)
            suite = self.config.get("suite")
            if suite is not None:  # the spec's SuiteConfig, from Hydra's sweep config
                suite = OmegaConf.to_object(suite)
            sets = [arguments] if suite is None else suite_argument_sets(suite, arguments)
            return self._sweep(sets)
        except EvallaunchError as err:
            exit_with_error(err)

    def _expand_checkpoints(self, arguments: list[str]) -> list[str]:
        from evallaunch.checkpoints import discovery as ckpts

        assert self.config is not None
        given = {a.split("=", 1)[0].lstrip("+"): a.split("=", 1)[1] for a in arguments if "=" in a}
        model = self.config.model
        spec = given.get("model.checkpoints", model.get("checkpoints"))
        if spec in (None, "null", ""):
            return arguments
        selector = str(given.get("model.checkpoint_select", model.checkpoint_select))
        per_step = given.get("model.tokens_per_step", model.get("tokens_per_step"))
        per_step = int(per_step) if per_step not in (None, "null") else None
        found = ckpts.resolve(str(spec), selector, per_step)
        rest = [a for a in arguments if a.split("=", 1)[0].lstrip("+") not in CHECKPOINT_KEYS]
        rest.append("model.checkpoints=null")
        if per_step is not None:
            rest.append(f"model.tokens_per_step={per_step}")
        if str(spec).startswith(ckpts.HUB_PREFIX):
            rest.append(f"model.name_or_path={_quote(found[0].name_or_path)}")
            rest.append("model.revision=" + ",".join(_quote(c.revision) for c in found))
        else:
            rest.append("model.name_or_path=" + ",".join(_quote(c.name_or_path) for c in found))
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        ckpts.write_manifest(sweep_dir / "checkpoints.json", str(spec), found)
        for c in found:
            log.info(
                "checkpoint %s %s: step %s, %s tokens",
                c.name_or_path,
                c.revision,
                c.step,
                ckpts.human_tokens(c.tokens_trained),
            )
        return rest

    def _sweep(self, argument_sets: list[list[str]]) -> Sequence[Sequence[JobReturn]]:
        """Launch the jobs of each argument set (one set; a suite's: one per member)."""
        assert self.config is not None and self.launcher is not None
        assert self.hydra_context is not None
        from evallaunch.compat.hydra import expand_overrides

        params = [f"{key}={value}" for key, value in self.params.items()]
        loader = self.hydra_context.config_loader
        batches = [
            batch
            for arguments in argument_sets
            for batch in expand_overrides(params + arguments, self.max_batch_size, loader)
        ]
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        from evallaunch.runtime.secrets import redact_config

        container = OmegaConf.to_container(self.config, resolve=False)
        OmegaConf.save(OmegaConf.create(redact_config(container)), sweep_dir / "multirun.yaml")
        returns: list[Sequence[JobReturn]] = []
        index = 0
        for batch in batches:
            tic = time.perf_counter()
            todo = self._unfinished(batch)
            log.debug("composed %d jobs in %.2f s", len(batch), time.perf_counter() - tic)
            if todo:
                results = self.launcher.launch(todo, initial_job_idx=index)
                for result in results:
                    _ = result.return_value  # raises if the job failed
                returns.append(results)
            index += len(batch)
        return returns

    def _unfinished(self, batch: Sequence[Sequence[str]]) -> list[list[str]]:
        """The jobs of a batch that have no finished results yet (all with launch.force).
        The evallaunch launchers are handed the jobs composed here, not to compose them
        again."""
        from evallaunch.job.checks import validate_job
        from evallaunch.launching.launcher import EvallaunchSubmititLauncher
        from evallaunch.launching.published import PublishedResults
        from evallaunch.launching.specs import compose_job, is_finished, job_dir_of

        assert self.hydra_context is not None and self.config is not None
        launcher = self.launcher if isinstance(self.launcher, EvallaunchSubmititLauncher) else None
        if self.published is None:
            self.published = PublishedResults(self.config.launch.get("published"))
        todo = []
        for overrides in batch:
            job = compose_job(self.hydra_context, self.config, list(overrides))
            cfg = job.config
            validate_job(job.spec)
            if not cfg.launch.force and is_finished(job_dir_of(cfg), job.fingerprint):
                log.info("skip (finished): %s", " ".join(overrides))
                print(f"skip (already finished): {job_dir_of(cfg)}")
                continue
            if not cfg.launch.force and self.published.has(cfg, job.fingerprint):
                print(f"skip (already published in {self.published.source}): {job_dir_of(cfg)}")
                continue
            todo.append(list(overrides))
            if launcher is not None:
                launcher.composed[tuple(overrides)] = job
        return todo
