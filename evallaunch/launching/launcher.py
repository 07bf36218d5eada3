"""Hydra launchers `evallaunch_slurm` / `evallaunch_local`: submitit, one job array per shape.

The stock submitit launcher gives every job of a sweep the same resources and re-reads
`conf/` on the node. This one composes every job at submit time, skips jobs whose results
already exist (same config fingerprint) or are still queued, plans each job's resources,
groups jobs into one array per resource shape, optionally runs several benchmarks of one
model in one job, and records the sweep for `evallaunch status / cancel / resubmit`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher
from omegaconf import OmegaConf, open_dict

from evallaunch.launching import config as _config  # noqa: F401  (registers the launcher configs)
from evallaunch.runtime.offline import OFFLINE_ENV

log = logging.getLogger(__name__)

# Exported to every job: multiprocessing-safe vLLM workers, no Hub access from compute nodes.
JOB_ENV = {"VLLM_WORKER_MULTIPROC_METHOD": "spawn", **OFFLINE_ENV}


class EvallaunchSubmititLauncher(BaseSubmititLauncher):
    """Base of the evallaunch launchers (see the module docstring)."""

    def __init__(self, **params: Any) -> None:
        hardware = params.pop("hardware", {})
        super().__init__(**params)
        if OmegaConf.is_config(hardware):
            hardware = OmegaConf.to_container(hardware, resolve=True)
        self.hardware: dict[str, Any] = dict(hardware)
        # Jobs the evallaunch sweeper has composed already, by their overrides.
        self.composed: dict[tuple[str, ...], Any] = {}

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from evallaunch.errors import EvallaunchError, exit_with_error

        try:
            return self._launch(job_overrides, initial_job_idx)
        except EvallaunchError as err:
            exit_with_error(err)

    def _launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from evallaunch.launching import plan_arrays
        from evallaunch.launching.sweep_record import append_jobs

        assert self.config is not None
        launch = self.config.launch
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        specs = [self._compose(list(o), initial_job_idx + i) for i, o in enumerate(job_overrides)]
        plan_arrays.check_distinct_dirs(specs)
        todo, skipped = plan_arrays.split_finished(specs, sweep_dir, force=launch.force)
        for spec, reason in skipped:
            log.info("skip #%d %s: %s", spec.index, spec.label, reason)
        limit = self.params.get("timeout_min")
        arrays, reasons = plan_arrays.group(todo, launch.benchmarks_per_job, limit)
        print(plan_arrays.format_table(specs, skipped, arrays))
        for reason in reasons:
            print(reason)
        if launch.dry_run:
            if self._EXECUTOR == "slurm":  # rendered without Slurm: no sbatch/srun needed
                for shape, batches in arrays.items():
                    init, generic, specific = self._executor_parameters(dict(shape))
                    renderer = plan_arrays.sbatch_renderer(
                        self._folder(dict(shape)), init, generic, specific
                    )
                    print(plan_arrays.render_sbatch(renderer, len(batches)))
            return [JobReturn(status=JobStatus.COMPLETED, _return_value=None) for _ in specs]
        # Sweeps submitted at once into one directory (e.g. by a training callback) share
        # the code snapshot and the record: one at a time.
        lock_path = sweep_dir / ".evallaunch" / "submit.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            submitted = self._submit(arrays, sweep_dir, launch.snapshot)
            append_jobs(
                sweep_dir,
                [sys.executable, "-m", "evallaunch.evaluate", *sys.argv[1:]],
                os.getcwd(),
                plan_arrays.record_entries(specs, skipped, submitted),
            )
        if not launch.wait:
            return [JobReturn(status=JobStatus.COMPLETED, _return_value=None) for _ in specs]
        return plan_arrays.collect_returns(specs, skipped, submitted)

    def _compose(self, overrides: list[str], index: int) -> Any:
        from evallaunch.config.spec import job_spec
        from evallaunch.launching.specs import JobSpec, compose_job, job_dir_of, planned_resources
        from evallaunch.planning.batching import member_of

        assert self.hydra_context is not None and self.config is not None
        job = self.composed.pop(tuple(overrides), None)
        if job is None:  # not composed by the evallaunch sweeper
            job = compose_job(self.hydra_context, self.config, overrides)
        cfg = job.config
        with open_dict(cfg):
            cfg.hydra.job.num = index
            for key in ("output_root", "data_dir", "cache_dir"):  # the node's cwd differs
                cfg.paths[key] = str(Path(str(cfg.paths[key])).expanduser().resolve())
        resources, plan = planned_resources(cfg, self.params, self.hardware)
        spec = JobSpec(
            index=index,
            overrides=overrides,
            config=cfg,
            job_dir=job_dir_of(cfg),
            fingerprint=job.fingerprint,
            resources=resources,
        )
        spec.member = member_of(job_spec(cfg), plan, spec.batch_key)
        return spec

    def _folder(self, resources: dict[str, Any]) -> str:
        return str({**self.params, **resources}["submitit_folder"])

    def _executor_parameters(
        self, resources: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """The executor's constructor arguments, submitit's generic parameters (timeout_min,
        gpus_per_node, ...) and the executor's own ones (partition, setup, ...)."""
        params = dict(self.params)
        params.update(resources)
        init: dict[str, Any] = {k: params[k] for k in ("max_num_timeout", "python") if k in params}
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        generic: dict[str, Any] = {}
        specific: dict[str, Any] = {}
        for key, value in params.items():
            if key in {"submitit_folder", *init} or value is None:
                continue
            (generic if key in base else specific)[key] = value
        if self._EXECUTOR == "slurm":
            setup = [line for line in specific.pop("setup", None) or [] if _safe(line)]
            setup += [f"export {key}={value}" for key, value in JOB_ENV.items()]
            specific["setup"] = setup
        return init, generic, specific

    def _executor(self, resources: dict[str, Any]) -> Any:
        import submitit

        init, generic, specific = self._executor_parameters(resources)
        prefix = f"{self._EXECUTOR}_"
        executor = submitit.AutoExecutor(
            cluster=self._EXECUTOR,
            folder=self._folder(resources),
            **{prefix + k: v for k, v in init.items()},
        )
        executor.update_parameters(**generic, **{prefix + k: v for k, v in specific.items()})
        return executor

    def _submit(
        self, arrays: dict[Any, list[Any]], sweep_dir: Path, snapshot: bool
    ) -> dict[int, Any]:
        import submitit

        from evallaunch.errors import EvallaunchError
        from evallaunch.launching.task import BatchTask

        assert self.hydra_context is not None and self.task_function is not None
        if self._EXECUTOR == "slurm" and shutil.which("sbatch") is None:
            raise EvallaunchError(
                "Slurm is not available here: sbatch is not on PATH",
                hint="run from a Slurm login node, start the local one with `make slurm-up`, "
                "or use cluster=local",
            )
        task = BatchTask(self.hydra_context, self.task_function, Singleton.get_state())
        root = _code_root()
        use_snapshot = snapshot and root is not None and submitit.helpers.RsyncSnapshot.available()
        context = (
            submitit.helpers.RsyncSnapshot(
                snapshot_dir=sweep_dir / ".evallaunch" / "code", root_dir=root
            )
            if use_snapshot
            else nullcontext()
        )
        submitted: dict[int, Any] = {}
        with context:
            for shape, batches in arrays.items():
                executor = self._executor(dict(shape))
                try:
                    jobs = executor.map_array(
                        task,
                        [[spec.config for spec in batch] for batch in batches],
                        [[spec.fingerprint for spec in batch] for batch in batches],
                    )
                except (submitit.core.utils.FailedJobError, OSError) as err:
                    raise EvallaunchError(
                        f"sbatch rejected the job array: {str(err).strip().splitlines()[-1]}",
                        hint="check hydra.launcher.partition / account / qos / gres against "
                        "`sinfo` and `sacctmgr show assoc`",
                    ) from None
                for batch, job in zip(batches, jobs, strict=True):
                    log.info("submitted %s: %s", job.job_id, ", ".join(s.label for s in batch))
                    for position, spec in enumerate(batch):
                        submitted[spec.index] = (job, position)
        return submitted


def _safe(line: str) -> bool:
    """Setup lines that would write a secret into the sbatch script are dropped: Slurm
    passes the submitting shell's environment (HF_TOKEN included) to the job anyway."""
    from evallaunch.runtime.secrets import config_secrets, env_secrets

    if config_secrets([line]) or any(secret in line for secret in env_secrets()):
        log.warning("dropped a setup line that holds a secret (the job inherits the env)")
        return False
    return True


def _code_root() -> Path | None:
    """The git checkout evallaunch runs from (what a snapshot copies), if it is one."""
    import subprocess

    import evallaunch

    package_dir = Path(evallaunch.__file__).resolve().parent
    proc = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"],
        cwd=package_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    return Path(proc.stdout.strip()) if proc.returncode == 0 else None


class EvallaunchSlurmLauncher(EvallaunchSubmititLauncher):
    _EXECUTOR = "slurm"


class EvallaunchLocalLauncher(EvallaunchSubmititLauncher):
    _EXECUTOR = "local"
