"""The one exception type evallaunch raises for problems a user can fix."""

from __future__ import annotations

import importlib
from types import ModuleType


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
