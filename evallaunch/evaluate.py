"""`evallaunch-evaluate`: the one Hydra entrypoint. It only delegates to `evallaunch.job.runner`.

evallaunch-evaluate model=r1_distill_qwen_1_5b benchmark=math_500 backend=lmeval
evallaunch-evaluate --multirun benchmark=math_500,aime24 benchmark.limit=5
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import warnings
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from evallaunch.config import schema  # noqa: F401  (registers the structured-config schema)
from evallaunch.config.compose import CONFIG_DIR
from evallaunch.config.schema import EvaluateConfig
from evallaunch.errors import EvallaunchError, exit_with_error

log = logging.getLogger("evallaunch")
# evallaunch's own configs name its own classes in `_target_` (backends, callbacks).
warnings.filterwarnings("ignore", message="(?s).*_execution_whitelist_")


@hydra.main(config_path=str(CONFIG_DIR), config_name="evaluate")
def main(cfg: DictConfig) -> float | None:
    """Evaluate one (model, benchmark, backend) job; returns its pass@1."""
    from evallaunch.config.spec import job_spec
    from evallaunch.runtime.console import configure_console, quiet_progress_bars

    quiet_progress_bars(cfg.verbose)
    if not cfg.verbose:
        from evallaunch.compat import silence_progress_bars

        silence_progress_bars()
    configure_console(cfg.verbose)
    from evallaunch.job.runner import run_job
    from evallaunch.job.summary import print_results

    job_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        spec = job_spec(cfg)  # the one conversion: below here, the frozen spec
        results = _reused(spec, job_dir) or run_job(spec, job_dir)
    except EvallaunchError as err:
        exit_with_error(err)
    except KeyboardInterrupt as err:
        _exit_interrupted(
            f"{job_dir}/status.json says so; run the same command again to resume (the "
            "samples already recorded are kept)",
            err,
        )
    except OSError as err:  # out of disk, permissions, ... while writing outputs
        exit_with_error(f"{err.strerror or err}: {err.filename or job_dir}")
    print_results(results, job_dir)
    # Hydra's return value (e.g. for sweepers that optimize): pass@1, or a harness task's
    # first metric.
    metrics = results["metrics"]
    main = metrics.get("pass@1") or next(iter(metrics.values()), {"value": float("nan")})
    return float(main["value"])


def _reused(cfg: EvaluateConfig, job_dir: Path) -> dict[str, Any] | None:
    """The results of this job if it already finished with this very config."""
    from evallaunch.launching.specs import reusable_results

    results = reusable_results(cfg, job_dir)
    if results is not None:
        print(
            f"{job_dir} already holds this job's results (config fingerprint "
            f"{results['config_fingerprint']}, finished {results.get('finished_at')}): "
            "nothing to run. launch.force=true runs it again."
        )
    return results


class Terminated(KeyboardInterrupt):
    """SIGTERM (`timeout`, systemd, a container stop, `kill`), raised where the job is, as
    Ctrl-C raises KeyboardInterrupt: the job stops the same clean way."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def _exit_interrupted(detail: str, err: BaseException | None = None) -> NoReturn:
    # A second Ctrl-C or SIGTERM must not cut the clean exit short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    terminated = isinstance(err, Terminated)
    print(f"evallaunch: {'terminated' if terminated else 'interrupted'}; {detail}", file=sys.stderr)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # Not sys.exit: when the Ctrl-C landed inside a C extension's PyRun_* call (torch's
    # imports do that), CPython ends the process with SIGINT at exit although the
    # KeyboardInterrupt was handled, and the caller would see a kill instead of status 130.
    os._exit(128 + (signal.SIGTERM if terminated else signal.SIGINT))


def cli() -> None:
    """The console script: `main`, exiting with status 130 wherever Ctrl-C lands and 143
    wherever SIGTERM does."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        main()
    except KeyboardInterrupt as err:
        _exit_interrupted("before the job started", err)


if __name__ == "__main__":
    cli()
