"""What a job prints on the terminal: evallaunch's own progress and results, and the
harnesses' errors. Everything else (lighteval's and lm-eval's logging) still goes to the
job's log file (`evaluate.log`); `verbose=true` prints it all, progress bars included."""

from __future__ import annotations

import logging
import os

#: The Hugging Face libraries' progress bars, off unless verbose (the harnesses' draw
#: into /dev/null: evallaunch.compat.silence_progress_bars).
QUIET_ENV = {
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    # vLLM's records go through the job's handlers (to evaluate.log), not its own.
    "VLLM_CONFIGURE_LOGGING": "0",
}


class _OwnLines(logging.Filter):
    """evallaunch's records from INFO up, other libraries' only from ERROR up."""

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name == "evallaunch" or record.name.startswith("evallaunch.")
        return record.levelno >= (logging.INFO if own else logging.ERROR)


def quiet_progress_bars(verbose: bool) -> None:
    """Turn the Hugging Face libraries' progress bars off unless verbose (the harnesses'
    own tqdm bars: `evallaunch.compat.silence_progress_bars`)."""
    if not verbose:
        for name, value in QUIET_ENV.items():
            os.environ.setdefault(name, value)


def configure_console(verbose: bool) -> None:
    """Filter the terminal handlers Hydra installed (the log file keeps every record)."""
    if verbose:
        return
    short = logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler, logging.FileHandler
        ):
            handler.addFilter(_OwnLines())
            handler.setFormatter(short)
