"""Imported once by the fork server of tests.cli_forks: the modules evallaunch's commands
import before they refuse a bad input. The Hugging Face libraries read their offline
switches when imported, so the switches are set first, as evallaunch sets them."""

from evallaunch.offline import go_offline

go_offline()

import lm_eval.tasks  # noqa: E402, F401

import evallaunch.cli.main  # noqa: E402, F401
import evallaunch.evaluate  # noqa: E402, F401
import evallaunch.job.runner  # noqa: E402, F401
