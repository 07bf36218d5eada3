"""submitit: the sbatch script of a job array, rendered without submitting it."""

from __future__ import annotations

from typing import Any

from evallaunch.compat import check_version


def sbatch_renderer(
    folder: str, init: dict[str, Any], generic: dict[str, Any], specific: dict[str, Any]
) -> Any:
    """submitit's SlurmExecutor with a sweep's parameters, for rendering sbatch scripts only:
    it builds where Slurm is not installed and refuses to submit. `generic` are submitit's
    shared parameters (timeout_min, ...), converted as submitit's AutoExecutor converts them;
    `specific` are sbatch's own.

    Relies on SlurmExecutor checking for `srun` through its `affinity()` at construction,
    on every submission (`submit`, `map_array`, batches) going through the private
    `_internal_process_submissions`, and on the private `_convert_parameters` turning
    generic parameters into sbatch's (timeout_min -> time, mem_gb -> mem, ...)."""
    check_version("submitit")
    from submitit.slurm.slurm import SlurmExecutor

    class SbatchRenderer(SlurmExecutor):
        @classmethod
        def affinity(cls) -> int:
            return 1  # renders anywhere; never submits

        def _internal_process_submissions(self, delayed_submissions: Any) -> Any:
            raise RuntimeError("a dry run submits nothing")

    renderer = SbatchRenderer(folder, **init)
    renderer.update_parameters(**renderer._convert_parameters(generic), **specific)
    return renderer


def render_sbatch(executor: Any, num_tasks: int) -> str:
    """The sbatch script submitit would submit for an array of `num_tasks` tasks, from a
    SlurmExecutor (e.g. `sbatch_renderer`'s) or an AutoExecutor on Slurm.

    Relies on submitit writing an array's script with the private
    `slurm._make_sbatch_string(command, folder, map_count=n, **executor.parameters)`, with
    the command of the private `_submitit_command_str`, and on an AutoExecutor holding its
    SlurmExecutor as the private `_executor`."""
    check_version("submitit")
    from submitit.slurm.slurm import _make_sbatch_string

    inner = getattr(executor, "_executor", executor)
    parameters = dict(inner.parameters)
    if num_tasks > 1:
        parameters["map_count"] = num_tasks
    return str(
        _make_sbatch_string(command=inner._submitit_command_str, folder=inner.folder, **parameters)
    )
