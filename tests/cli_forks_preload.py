"""Imported once by the fork server of tests.cli_forks: the modules evallaunch's commands
import before they refuse a bad input. The Hugging Face libraries read their offline
switches when imported, so the switches are set first, as evallaunch sets them."""

from evallaunch.runtime.offline import go_offline

go_offline()

import importlib  # noqa: E402

import torch  # noqa: E402, F401  (evaluate looks for a GPU)

import evallaunch.cli.main  # noqa: E402, F401
import evallaunch.evaluate  # noqa: E402, F401
import evallaunch.job.runner  # noqa: E402, F401
from evallaunch.backends.lmeval_backend import LmevalBackend  # noqa: E402

# lm-eval's backend (lighteval's imports take seconds more than they save here)
for module in LmevalBackend.imports:
    importlib.import_module(module)
