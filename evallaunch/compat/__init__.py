"""Every place evallaunch reaches into a library's internals, one module per library:
`lighteval`, `lm_eval`, `math_verify`, `hydra`, `submitit`, `tqdm`; and the harnesses'
model arguments read from their source (`signatures`).

Each patch says in its docstring which internal it relies on and why, checks the installed
version of its library against `PINNED` where it is used, and has a test in
tests/test_compat.py proving it still does what it claims.
"""

from __future__ import annotations

import functools
import importlib.metadata

from evallaunch.errors import EvallaunchError

#: The versions the patches were written for (distribution names; "4.*": any 4.x).
PINNED = {
    "lighteval": "0.13.0",
    "lm-eval": "0.4.13",
    "math-verify": "0.5.2",
    "hydra-core": "1.4.0rc3",
    "submitit": "1.5.4",
    "tqdm": "4.*",
}


@functools.cache
def _installed(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_version(package: str) -> None:
    """Fail clearly when `package` is not the version evallaunch's patches expect."""
    found = _installed(package)
    if found is None:
        return  # the import itself reports the missing package
    pinned = PINNED[package]
    if found != pinned and not (pinned.endswith("*") and found.startswith(pinned[:-1])):
        raise EvallaunchError(
            f"{package} {found} is installed; evallaunch works with {package}=={pinned}",
            hint=f"pip install '{package}=={pinned}' (the version evallaunch.compat was "
            "written for; see requirements.lock)",
        )


# The console's import (evallaunch.runtime.console).
from evallaunch.compat.tqdm import silence_progress_bars  # noqa: E402

__all__ = ["PINNED", "check_version", "silence_progress_bars"]
