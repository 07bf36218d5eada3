"""Files evallaunch writes: atomically (never half-written), with the mode the umask gives
new files, so that a team's shared outputs tree and mirror are readable as the umask says."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any


def current_umask() -> int:
    """The process's umask (read without setting it: other threads may be creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no /proc: set and restore at once
    os.umask(mask)
    return mask


def shared_mode(directory: bool = False) -> int:
    """The mode `open()` and `mkdir()` give a new file or directory under the umask (a
    temporary file or directory is created private; renamed into place, it gets this)."""
    return (0o777 if directory else 0o666) & ~current_umask()


@contextmanager
def atomic_open(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary sibling of `path`; on success fsync it and rename it over `path`,
    with the mode the umask gives new files (as `open()` would).

    A crash or exception leaves `path` untouched (old content or absent), never half-written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, shared_mode())
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically."""
    with atomic_open(path) as handle:
        json.dump(data, handle, indent=2, sort_keys=False, default=str)
        handle.write("\n")


def apply_umask(value: str | None) -> None:
    """Set the process's umask from paths.umask (an octal string such as "027"); None
    keeps the one the process has."""
    if value is None:
        return
    from evallaunch.errors import EvallaunchError

    text = str(value)
    if not (1 <= len(text) <= 4 and all(c in "01234567" for c in text)):
        raise EvallaunchError(
            f"paths.umask={value} is invalid: expected an octal umask such as 022, 027 or 077",
            hint="quote it on the command line so that it stays a string: paths.umask='027'",
        )
    os.umask(int(text, 8))


def utc_now() -> str:
    """The time now, as the records evallaunch writes stamp it (UTC, ISO 8601, seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
