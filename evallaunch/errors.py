"""The one exception type evallaunch raises for problems a user can fix."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import NoReturn


class EvallaunchError(Exception):
    """A problem with the user's input or environment, reported as one clear message.

    Attributes:
        hint: What to do about it (printed on its own line).
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text}\n  hint: {self.hint}" if self.hint else text


def exit_with_error(err: object) -> NoReturn:
    """Print `evallaunch: error: <err>` on stderr and exit with status 2 (bad input)."""
    print(f"evallaunch: error: {err}", file=sys.stderr)
    raise SystemExit(2)


def require(module: str, extra: str) -> ModuleType:
    """Import a heavy optional dependency, or fail naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise EvallaunchError(
            f"'{module}' is not installed ({err}).",
            hint=f"install it with: pip install 'evallaunch[{extra}]'"
            + (
                "  (or run `make setup`)"
                if not extra.startswith("vllm")
                else " in an environment of its own, or use a server backend "
                "(backend=lighteval_server or lmeval_server, with `make setup-vllm`)"
            ),
        ) from err
