"""Freezing a built spec: its dataclasses refuse attribute assignment, its free-form
mappings and lists refuse changes, and `plain` turns it back into plain containers (as
`OmegaConf.to_container(cfg, resolve=True)` gives the config it was built from)."""

from __future__ import annotations

import dataclasses
from typing import Any, NoReturn

_FROZEN = "_frozen_"


class Frozen:
    """Base of the schema's dataclasses: once `freeze` has walked an instance, setting or
    deleting an attribute raises dataclasses.FrozenInstanceError. (Hydra composes into
    these classes, so they cannot be `frozen=True` dataclasses.) `dataclasses.replace`
    still makes a modified copy, not frozen until frozen itself."""

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__dict__.get(_FROZEN):
            raise dataclasses.FrozenInstanceError(
                f"cannot assign to field {name!r}: the job's spec is frozen "
                "(dataclasses.replace makes a modified copy)"
            )
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if self.__dict__.get(_FROZEN):
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}: frozen")
        object.__delattr__(self, name)


def _refuse(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(f"{type(self).__name__} is read-only: the job's spec is frozen")


class FrozenDict(dict[str, Any]):
    """A read-only dict (a free-form mapping of a frozen spec, e.g. backend.model_args):
    still a dict for isinstance, json and YAML, but every change raises TypeError."""

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[Any, ...]:  # pickling and deepcopy rebuild it whole
        return (FrozenDict, (dict(self),))


class FrozenList(list[Any]):
    """A read-only list (a list of a frozen spec, e.g. benchmark.metrics)."""

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))


def _frozen_value(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return freeze(value)
    if isinstance(value, dict):
        return FrozenDict({str(k): _frozen_value(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return FrozenList(_frozen_value(v) for v in value)
    return value


def freeze(obj: Any) -> Any:
    """Freeze a dataclass tree in place (its mappings and lists become read-only copies);
    returns `obj`."""
    for f in dataclasses.fields(obj):
        object.__setattr__(obj, f.name, _frozen_value(getattr(obj, f.name)))
    object.__setattr__(obj, _FROZEN, True)
    return obj


def is_frozen(obj: Any) -> bool:
    """Whether `freeze` has walked this instance."""
    return bool(getattr(obj, "__dict__", {}).get(_FROZEN))


def plain(value: Any) -> Any:
    """A spec (or a section, or any value of one) as plain dicts and lists, in field order:
    what `OmegaConf.to_container(cfg, resolve=True)` gives for the config it came from."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
