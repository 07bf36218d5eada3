"""One benchmark problem, ready to prompt a model with."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    """A problem's id, its full prompt and its gold answer."""

    id: str
    prompt: str
    answer: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)
