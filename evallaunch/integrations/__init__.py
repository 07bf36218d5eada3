"""Integrations with training frameworks, for users' training scripts:

    from evallaunch.integrations import EvalOnSaveCallback

Importing this module is cheap: transformers is imported when the callback is first used
(its class lives in `evallaunch.integrations.callback`).
"""

from __future__ import annotations

from typing import Any

# The names below are provided by __getattr__, from evallaunch.integrations.callback.
__all__ = ["LAUNCH_LOG", "EvalOnSaveCallback"]  # noqa: F822


def __getattr__(name: str) -> Any:
    if name in __all__:
        from evallaunch.integrations import callback

        return getattr(callback, name)
    raise AttributeError(f"module 'evallaunch.integrations' has no attribute {name!r}")
