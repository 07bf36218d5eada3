"""Integrations with training frameworks, for users' training scripts:

    from evallaunch.integrations import EvalOnSaveCallback

Importing this module is cheap: transformers is imported when the callback is first used
(its class lives in `evallaunch.checkpoints.callback`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["EvalOnSaveCallback"]  # noqa: F822  (provided by __getattr__)


def __getattr__(name: str) -> Any:
    if name == "EvalOnSaveCallback":
        from evallaunch.checkpoints.callback import EvalOnSaveCallback

        return EvalOnSaveCallback
    raise AttributeError(f"module 'evallaunch.integrations' has no attribute {name!r}")
