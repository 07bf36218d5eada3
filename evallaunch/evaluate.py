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
from typing import NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from evallaunch import schema  # noqa: F401  (registers the structured-config schema)
from evallaunch.compose import CONFIG_DIR
from evallaunch.errors import EvallaunchError, exit_with_error

log = logging.getLogger("evallaunch")
# evallaunch's own configs name its own classes in `_target_` (backends, callbacks).
warnings.filterwarnings("ignore", message="(?s).*_execution_whitelist_")


@hydra.main(config_path=str(CONFIG_DIR), config_name="evaluate")
def main(cfg: DictConfig) -> float | None:
    """Evaluate one (model, benchmark, backend) job; returns its pass@1."""
    from evallaunch.console import configure_console, quiet_progress_bars

    quiet_progress_bars(cfg.verbose)
    configure_console(cfg.verbose)
    from evallaunch.job.runner import run_job
    from evallaunch.job.summary import print_results

    job_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        results = run_job(cfg, job_dir)
    except EvallaunchError as err:
        exit_with_error(err)
    except KeyboardInterrupt:
        _exit_interrupted(f"{job_dir}/status.json says so")
    except OSError as err:  # out of disk, permissions, ... while writing outputs
        exit_with_error(f"{err.strerror or err}: {err.filename or job_dir}")
    print_results(results, job_dir)
    # Hydra's return value (e.g. for sweepers that optimize): pass@1, or a harness task's
    # first metric.
    metrics = results["metrics"]
    main = metrics.get("pass@1") or next(iter(metrics.values()), {"value": float("nan")})
    return float(main["value"])


def _exit_interrupted(detail: str) -> NoReturn:
    # A second Ctrl-C must not cut the clean exit short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print(f"evallaunch: interrupted; {detail}", file=sys.stderr)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # Not sys.exit: when the Ctrl-C landed inside a C extension's PyRun_* call (torch's
    # imports do that), CPython ends the process with SIGINT at exit although the
    # KeyboardInterrupt was handled, and the caller would see a kill instead of status 130.
    os._exit(130)


def cli() -> None:
    """The console script: `main`, exiting with status 130 wherever Ctrl-C lands."""
    try:
        main()
    except KeyboardInterrupt:
        _exit_interrupted("before the job started")


if __name__ == "__main__":
    cli()
