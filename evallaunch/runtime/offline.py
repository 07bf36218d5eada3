"""The environment that keeps the Hugging Face libraries off the network (`offline=true`)."""

from __future__ import annotations

import os

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def go_offline(offline: bool = True) -> None:
    """Set OFFLINE_ENV in this process (a variable already set is left as it is)."""
    if offline:
        for name, value in OFFLINE_ENV.items():
            os.environ.setdefault(name, value)
