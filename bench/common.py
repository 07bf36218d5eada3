"""Shared helpers of the benchmark scripts: timed subprocesses with peak RSS, statistics,
machine facts, the embedded model and the benchmark data.

Every script measures the variants it compares side by side in one run (repetitions
interleaved: A B A B ...) and prints ratios, because this machine's load changes from one
minute to the next.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DATA_DIR = Path(os.environ.get("EVALLAUNCH_BENCH_DATA", REPO.parent / "shared" / "datasets"))
EMBEDDED = "embedded:smollm2-135m-instruct"
MB = 1 << 20
# Marker of the machine-readable result line every script prints (run_all.py collects them).
RESULT_PREFIX = "BENCH-RESULT "


# ------------------------------------------------------------------------------ arguments


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every script takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="fast smoke mode (smaller sizes)")
    p.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    return p


def emit(name: str, results: dict, path: Path | None = None) -> None:
    """Print the machine-readable result line (and write it to `path`)."""
    payload = {"bench": name, **results}
    print(RESULT_PREFIX + json.dumps(payload, default=str), flush=True)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, default=str) + "\n")


# ------------------------------------------------------------------------ measurement


@dataclass
class Measurement:
    """One timed subprocess run."""

    label: str
    wall_s: float
    # CPU time (user + system) of the process and its waited-for descendants: less
    # sensitive than wall time to other work on a shared machine.
    cpu_s: float
    # Peak resident memory of the whole process tree: the larger of the sampled sum over
    # the tree and the kernel's exact peak of its largest single process (wait4).
    peak_rss_mb: float
    tree_rss_mb: float
    max_process_rss_mb: float
    returncode: int
    log: Path | None = None
    extra: dict = field(default_factory=dict)


def _tree_rss(pid: int) -> int:
    """Current RSS (bytes) summed over a process and all its descendants.

    A child that has the same command line as its parent is a fork (or vfork) that has not
    exec'd yet: its RSS is the parent's shared memory, so it is left out (otherwise every
    `subprocess` call of a big process would count that process twice). Forked workers that
    never exec are left out with it: none of the benchmarked programs uses them.
    """
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    cmdlines: dict[int, list[str]] = {}
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            cmdline = cmdlines[proc.pid] = proc.cmdline()
            if proc.pid != pid and cmdline == cmdlines.get(proc.ppid()):
                continue
            total += proc.memory_info().rss
    return total


def run_measured(
    label: str,
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    timeout_s: float = 1800,
    interval_s: float = 0.1,
) -> Measurement:
    """Run `command`, returning its wall time and peak RSS (whole process tree).

    stdout and stderr go to `log` (or are discarded). RSS of the tree is sampled every
    `interval_s` with psutil (when installed); the exact peak of the largest single process
    comes from wait4's ru_maxrss. A run past `timeout_s` is killed (process group).
    """
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        sampler = _TreeRssSampler(proc.pid, interval_s)
        status, usage, ended = _wait_or_kill(proc, timeout_s)
        wall = ended - start
        peak_tree = sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
        with contextlib.suppress(ProcessLookupError):  # leftovers of the session
            os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    max_proc = usage.ru_maxrss * 1024  # KiB on Linux
    return Measurement(
        label=label,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=max(peak_tree, max_proc) / MB,
        tree_rss_mb=peak_tree / MB,
        max_process_rss_mb=max_proc / MB,
        returncode=proc.returncode,
        log=log,
    )


class _TreeRssSampler:
    """The peak RSS of a process tree, sampled every `interval_s` by a thread from its
    creation to `stop` (no sampling without psutil: the peak stays 0)."""

    def __init__(self, pid: int, interval_s: float) -> None:
        self.pid, self.interval_s, self.peak = pid, interval_s, 0
        self.done = threading.Event()
        try:
            import psutil  # noqa: F401
        except ImportError:
            self.thread = None
            return
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, _tree_rss(self.pid))
            self.done.wait(self.interval_s)

    def stop(self) -> int:
        self.done.set()
        if self.thread:
            self.thread.join()
        return self.peak


def _wait_or_kill(proc: subprocess.Popen, timeout_s: float) -> tuple[int, Any, float]:
    """wait4 on the process, its process group killed past `timeout_s`: (wait status,
    resource usage, perf_counter when it ended)."""

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    timer = threading.Timer(timeout_s, kill)
    timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    ended = time.perf_counter()
    timer.cancel()
    return status, usage, ended


def tail(path: Path | None, lines: int = 25) -> str:
    """The last lines of a log file (for error messages)."""
    if path is None or not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) so `peak_rss_mb` measures from now on (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_kb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return float(line.split()[1])
    return float("nan")


def peak_rss_mb() -> float:
    """This process's peak RSS since start or the last `reset_peak_rss` (MiB)."""
    try:
        return _status_kb("VmHWM") / 1024
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """This process's current RSS (MiB)."""
    try:
        return _status_kb("VmRSS") / 1024
    except OSError:
        return float("nan")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> str:
    """`median [min-max]` of a list of numbers."""
    if not values:
        return "n/a"
    return f"{median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def interleave(labels: Sequence[str], rounds: int, seed: int = 0) -> Iterator[tuple[int, str]]:
    """(round, label) in interleaved order; the order within a round rotates each round so
    no variant always runs first (or right after the same one)."""
    for r in range(rounds):
        shift = (r + seed) % len(labels)
        for label in [*labels[shift:], *labels[:shift]]:
            yield r, label


# ------------------------------------------------------------------------------ machine


def machine() -> dict[str, str]:
    """nproc, CPU model, RAM, OS, Python and the date, for RESULTS.md."""
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        ram = f"{kb / (1 << 20):.1f} GiB"
    load = "unknown"
    with contextlib.suppress(OSError):
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "os": platform.platform(),
        "python": platform.python_version(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg": load,
    }


# ---------------------------------------------------------------------- model and data


def torch_threads_env(threads: int | None) -> dict[str, str]:
    """Environment that pins torch's intra-op threads (None: torch's default, all cores)."""
    if not threads:
        return {}
    value = str(threads)
    return {"OMP_NUM_THREADS": value, "MKL_NUM_THREADS": value}


def base_env(work: Path, threads: int | None) -> dict[str, str]:
    """Environment of a model run: offline, fresh datasets cache, pinned threads."""
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_CACHE=str(work / "hf-datasets-cache"),
        PYTHONUNBUFFERED="1",
        TOKENIZERS_PARALLELISM="false",
    )
    env.update(torch_threads_env(threads))
    return env


def bench_model_cache(root: Path) -> Path:
    """An evallaunch cache dir whose embedded model links to the real converted checkpoint.

    lighteval writes its sample cache into ``<cache_dir>/<model_name>/``, and model_name is
    the (absolute) checkpoint path, so runs would write into the user's model directory.
    Here every file of the converted checkpoint is symlinked into `root`, so both the raw
    and the evallaunch runs load the same weights and write only under `root`.
    Returns the cache dir (pass as ``paths.cache_dir``); the model is ``models/<name>``.
    """
    from evallaunch.models.embedded import embedded_checkpoint

    real = embedded_checkpoint(EMBEDDED, os.environ.get("EVALLAUNCH_CACHE", "~/.cache/evallaunch"))
    name = EMBEDDED.split(":", 1)[1]
    target = root / "models" / name
    target.mkdir(parents=True, exist_ok=True)
    for item in Path(real).iterdir():
        if item.is_file():
            link = target / item.name
            if not link.exists():
                link.symlink_to(item.resolve())
    return root


def model_dir(cache: Path) -> Path:
    return cache / "models" / EMBEDDED.split(":", 1)[1]


def math500_rows(limit: int) -> list[dict]:
    """The first `limit` rows of the MATH-500 mirror file."""
    path = DATA_DIR / "math500.jsonl"
    if not path.is_file():
        sys.exit(f"benchmark data not found: {path} (set EVALLAUNCH_BENCH_DATA)")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                rows.append(json.loads(line))
            if len(rows) >= limit:
                break
    return rows


def math500_template() -> str:
    """evallaunch's MATH-500 prompt template (conf/benchmark/math_500.yaml)."""
    import yaml

    conf = yaml.safe_load((REPO / "conf" / "benchmark" / "math_500.yaml").read_text())
    return str(conf["prompt_template"])


def evallaunch_command(
    backend: str, out: Path, cache: Path, limit: int, tokens: int, seed: int = 1234
) -> list[str]:
    """`python -m evallaunch.evaluate` for the shared benchmark job (greedy, n=1)."""
    return [
        sys.executable,
        "-m",
        "evallaunch.evaluate",
        f"backend={backend}",
        f"paths.output_root={out}",
        f"paths.data_dir={DATA_DIR}",
        f"paths.cache_dir={cache}",
        "benchmark=math_500",
        f"benchmark.limit={limit}",
        "benchmark.n=1",
        f"generation.max_new_tokens={tokens}",
        "generation.temperature=0",
        "generation.top_p=1.0",
        f"generation.seed={seed}",
    ]


def evallaunch_job_dir(out: Path, backend: str) -> Path:
    return out / "default" / "smollm2-135m-instruct" / "main" / "math_500" / backend


@contextlib.contextmanager
def workdir(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A temporary directory (kept with keep=True, for debugging)."""
    path = Path(tempfile.mkdtemp(prefix=f"evallaunch-bench-{prefix}-"))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table (also valid markdown)."""
    cells = [[str(c) for c in head], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), sep, *[line(r) for r in cells[1:]]])
