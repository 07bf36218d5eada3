"""Evaluate every checkpoint while training runs: a `transformers.TrainerCallback`.

    from evallaunch.integrations import EvalOnSaveCallback

    trainer.add_callback(EvalOnSaveCallback(
        overrides=["benchmark=aime24,math_500", "cluster=slurm"],
        tokens_per_step=global_batch * seq_len,
    ))

On each save (main process only) the callback resolves the checkpoint (the local
`checkpoint-{step}` directory, or a Hub revision when the trainer pushes), composes the
evaluate config with Hydra's compose API (so a bad override fails at the first save, not
hours later on the cluster), and starts `evallaunch-evaluate --multirun` as a detached
process: on Slurm it submits job arrays and returns; locally it runs the evaluations.
Training never waits for them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evallaunch.errors import require

transformers = require("transformers", extra="embedded")

LAUNCH_LOG = "evallaunch_launches.jsonl"


class EvalOnSaveCallback(transformers.TrainerCallback):  # type: ignore[name-defined]
    """Launch evallaunch evaluations of each checkpoint the Trainer saves.

    Args:
        overrides: Hydra overrides for `evallaunch-evaluate` (benchmarks, cluster, ...);
            comma lists sweep as with --multirun.
        tokens_per_step: Tokens per optimizer step (global batch x sequence length);
            default: per-device batch x accumulation x world size x `sequence_length`.
        sequence_length: Used for the default tokens_per_step.
        hub_revision_template: When the trainer pushes each checkpoint to the Hub, the
            revision name (open-r1 uses "checkpoint-{step}"); evaluations then read the
            Hub revision instead of the local directory.
        python: The interpreter that runs evallaunch (default: this one).
    """

    def __init__(
        self,
        overrides: Sequence[str] = (),
        tokens_per_step: int | None = None,
        sequence_length: int | None = None,
        hub_revision_template: str | None = None,
        python: str = sys.executable,
    ) -> None:
        self.overrides = list(overrides)
        self.tokens_per_step = tokens_per_step
        self.sequence_length = sequence_length
        self.hub_revision_template = hub_revision_template
        self.python = python
        self.launches: list[dict[str, Any]] = []
        self._processes: list[subprocess.Popen[bytes]] = []
        self._check_overrides()

    def _check_overrides(self) -> None:
        from evallaunch.config.compose import compose_config
        from evallaunch.planning.sweep_configs import expand_sweep

        for job in expand_sweep(self.overrides):  # fail now on a bad override
            compose_config([*job, "model.name_or_path=/checkpoint-0"])

    def _tokens_per_step(self, args: Any) -> int | None:
        if self.tokens_per_step:
            return self.tokens_per_step
        if not self.sequence_length:
            return None
        world = max(int(getattr(args, "world_size", 1) or 1), 1)
        batch = args.per_device_train_batch_size * args.gradient_accumulation_steps * world
        return int(batch * self.sequence_length)

    def checkpoint_overrides(self, args: Any, step: int) -> list[str]:
        """Overrides naming the checkpoint saved at `step`."""
        per_step = self._tokens_per_step(args)
        model: list[str]
        if self.hub_revision_template and getattr(args, "push_to_hub", False):
            revision = self.hub_revision_template.format(step=step)
            model = [f"model.name_or_path={args.hub_model_id}", f"model.revision={revision}"]
        else:
            path = (Path(args.output_dir) / f"checkpoint-{step}").resolve()
            model = [f"model.name_or_path='{path}'"]
        tokens = [f"model.tokens_per_step={per_step}"] if per_step else []
        return [*model, f"model.step={step}", *tokens]

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        step = int(state.global_step)
        overrides = [*self.overrides, *self.checkpoint_overrides(args, step)]
        if not any(o.startswith("launch.wait=") for o in overrides):
            overrides.append("launch.wait=false")  # on Slurm: submit and return
        command = [self.python, "-m", "evallaunch.evaluate", "--multirun", *overrides]
        log_path = Path(args.output_dir) / f"evallaunch-step{step}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the trainer; not killed with it
            )
        self._processes.append(process)
        launch = {
            "step": step,
            "tokens_trained": step * (self._tokens_per_step(args) or 0) or None,
            "pid": process.pid,
            "command": command,
            "log": str(log_path),
            "launched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        self.launches.append(launch)
        with (Path(args.output_dir) / LAUNCH_LOG).open("a") as handle:
            handle.write(json.dumps(launch) + "\n")

    def wait(self, timeout: float | None = None) -> list[int]:
        """Wait for the launched processes (local runs finish, Slurm submissions return);
        returns their exit codes."""
        return [process.wait(timeout=timeout) for process in self._processes]
