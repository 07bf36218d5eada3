"""Bad input: one clear message naming the key, a non-zero exit, and no results.json.

The cases are the table in docs/bad-inputs.md (the documentation is the test list)."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_forks import run_forked
from tests.helpers import REPO

TABLE = REPO / "docs" / "bad-inputs.md"


def table_rows() -> list[tuple[str, str, list[str]]]:
    rows = []
    for line in TABLE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].isdigit():
            command = re.findall(r"`([^`]+)`", cells[2])[0]
            rows.append((cells[1], command, re.findall(r"`([^`]+)`", cells[3])))
    return rows


ROWS = table_rows()


# The kinds of command `command_line` runs (it would run any other word as a multirun).
COMMAND_KINDS = (
    "evaluate",
    "multirun",
    "multirun-without-slurm",
    "multirun-on-slurm",
    "evallaunch",
)


def table_lines() -> list[list[str]]:
    """The cells of every line of the table's body (the lines after `|---|`)."""
    lines = [line.strip() for line in TABLE.read_text().splitlines()]
    lines = [line for line in lines if line.startswith("|")]
    body = next(i for i, line in enumerate(lines) if set(line) <= set("|-: ")) + 1
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[body:]]


def test_every_table_line_is_a_numbered_case() -> None:
    """Numbers run 1..N without gaps or repeats, every line is a case the tests read (a
    stray `|` or number would drop it silently), and the case names, the test ids, are
    unique."""
    lines = table_lines()
    assert [cells[0] for cells in lines] == [str(n) for n in range(1, len(lines) + 1)]
    assert [len(cells) for cells in lines] == [4] * len(lines)
    cases = [case for case, _, _ in ROWS]
    assert cases == [cells[1] for cells in lines]
    assert not {case for case in cases if cases.count(case) > 1}, "a case name is used twice"
    assert [case for case, _, expected in ROWS if not expected] == []
    assert set(IN_A_PROCESS) | NEEDS_MODEL <= set(cases), "a case named below is not a row"


def test_every_row_runs_a_command_that_exists() -> None:
    """Each command is of a kind `command_line` knows; an `evallaunch` command parses (its
    failure is the bad input, not a usage error); every {placeholder} is one the page
    explains above the table."""
    from evallaunch.cli.main import build_parser

    explained = set(re.findall(r"`\{(\w+)\}`", TABLE.read_text().split("\n|")[0]))
    for case, command, expected in ROWS:
        kind, *args = command.split()
        assert kind in COMMAND_KINDS, f"{case}: {kind!r} is not one of {COMMAND_KINDS}"
        used = set(re.findall(r"\{(\w+)\}", " ".join([command, *expected])))
        assert used <= explained, f"{case}: {used - explained} not explained above the table"
        if kind == "evallaunch":
            words = [arg.format(**dict.fromkeys(used, "/x")) for arg in args]
            try:
                build_parser().parse_args(words)
            except SystemExit as err:
                raise AssertionError(f"{case}: `{command}` does not parse") from err


def message_key(message: ast.expr) -> str | None:
    """The key of a message `KEY=VALUE is invalid...` (a string or an f-string), its
    formatted parts as \\0; None for other messages."""
    values = message.values if isinstance(message, ast.JoinedStr) else [message]
    text = "".join(
        v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "\0"
        for v in values
    )
    key, _, rest = text.partition("=")
    return key if "is invalid" in rest else None


def calls_of(tree: ast.AST, names: set[str]) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in names and node.args
    ]


def invalid_value_keys() -> dict[str, str]:
    """Every key an EvallaunchError message `KEY=VALUE is invalid` in evallaunch/ names, as
    a regular expression (a formatted part matches any name), with where it is raised. A
    message whose whole key is formatted (`{key}=...`) stands for the first argument of
    each call of its function in the module."""
    keys: dict[str, str] = {}
    for path in sorted((REPO / "evallaunch").rglob("*.py")):
        tree = ast.parse(path.read_text())
        checkers = set()
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            for call in calls_of(function, {"EvallaunchError"}):
                key = message_key(call.args[0])
                if key == "\0":
                    checkers.add(function.name)
                elif key is not None:
                    pattern = r"\w+".join(re.escape(part) for part in key.split("\0"))
                    keys[pattern] = f"{path.relative_to(REPO)}:{call.lineno}"
        for call in calls_of(tree, checkers):
            first = call.args[0]
            assert isinstance(first, ast.Constant), f"{path}:{call.lineno}: key not a literal"
            keys[re.escape(str(first.value))] = f"{path.relative_to(REPO)}:{call.lineno}"
    return keys


def test_every_invalid_value_message_has_a_row() -> None:
    keys = invalid_value_keys()
    assert keys, "no `KEY=VALUE is invalid` message found in evallaunch/"
    texts = [text for _, _, expected in ROWS for text in expected]
    missing = {
        where: pattern
        for pattern, where in keys.items()
        if not any(re.match(rf"{pattern}=\S+ is invalid", text) for text in texts)
    }
    assert not missing, f"no row of {TABLE.name} shows these messages: {missing}"


@pytest.fixture
def places(tmp_path: Path, shared_datasets: Path) -> dict[str, str]:
    (tmp_path / "empty").mkdir()
    corrupt = tmp_path / "corrupt_data"
    corrupt.mkdir()
    lines = (shared_datasets / "aime24.jsonl").read_text().splitlines()
    (corrupt / "aime24.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    broken = tmp_path / "broken_model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    (tmp_path / "run" / "checkpoint-5").mkdir(parents=True)
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text('{"id": "test/precalculus/807.json", "completion": "\\\\boxed{1}"}\n')
    return {
        "tmp": str(tmp_path),
        "data": str(shared_datasets),
        "corrupt_data": str(corrupt),
        "broken_model": str(broken),
        "foreign": str(foreign),
    }


def command_line(command: str, places: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The row's command as `[MODULE, *ARGS]` (run as `python -m MODULE ARGS...`), and its
    environment."""
    words = command.format(**places).split()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    job = [f"paths.output_root={places['tmp']}/out", f"paths.data_dir={places['data']}"]
    kind, args = words[0], words[1:]
    if kind == "evallaunch":
        return ["evallaunch.cli", *args], env
    if not any(a.startswith("benchmark.limit") for a in args):
        job.append("benchmark.limit=1")
    job = [j for j in job if j.split("=")[0] not in {a.split("=")[0] for a in args}]
    if kind == "evaluate":
        return ["evallaunch.evaluate", *job, *args], env
    if kind == "multirun-without-slurm":
        empty = Path(places["tmp"]) / "empty"
        env["PATH"] = str(empty)
    elif kind == "multirun-on-slurm" and shutil.which("sbatch") is None:
        pytest.skip("needs Slurm (make slurm-up)")
    return ["evallaunch.evaluate", "--multirun", *job, *args], env


def fails_cleanly(
    proc: subprocess.CompletedProcess[str], case: str, expected: list[str], places: dict[str, str]
) -> None:
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"{case}: exit 0\n{output[-2000:]}"
    for text in expected:
        assert text.format(**places) in output, f"{text!r} not in:\n{output[-2000:]}"
    assert "Traceback" not in output, output[-3000:]
    assert not list(Path(places["tmp"]).rglob("results.json"))


# Rows that read the embedded model's tokenizer (the model is converted once, in minutes),
# and rows that submit to a running Slurm: `make test` runs them, `make test-fast` does not.
NEEDS_MODEL = {"a context the prompts fill"}


def is_slow(case: str, command: str) -> bool:
    return case in NEEDS_MODEL or command.startswith("multirun-on-slurm")


@pytest.mark.parametrize(
    ("case", "command", "expected"),
    [pytest.param(*row, marks=[pytest.mark.slow] if is_slow(*row[:2]) else []) for row in ROWS],
    ids=[r[0] for r in ROWS],
)
def test_bad_input_fails_cleanly(
    case: str, command: str, expected: list[str], places: dict[str, str]
) -> None:
    """Each row's command, in a fork of a process that imported evallaunch once
    (tests/cli_forks.py): its own exit status and output, in milliseconds."""
    argv, env = command_line(command, places)
    fails_cleanly(run_forked(argv, env, cwd=places["tmp"]), case, expected, places)


# One row of each kind of command also runs as its own process, as a user runs it.
IN_A_PROCESS = [
    "unknown group option",
    "no samples",
    "checkpoint glob matches nothing",
    "Slurm not available",
    "unknown benchmark to prepare",
    "harness task with no name",
]


@pytest.mark.parametrize(
    ("case", "command", "expected"),
    [row for row in ROWS if row[0] in IN_A_PROCESS],
    ids=[case for case, _, _ in ROWS if case in IN_A_PROCESS],
)
def test_bad_input_fails_cleanly_as_a_process(
    case: str, command: str, expected: list[str], places: dict[str, str]
) -> None:
    argv, env = command_line(command, places)
    proc = subprocess.run(
        [sys.executable, "-m", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=places["tmp"],
        timeout=600,
    )
    fails_cleanly(proc, case, expected, places)


def default_sigint() -> None:
    """Ctrl-C reaches a foreground job, whose SIGINT is not ignored; a suite started in the
    background (`make test &`, nohup) would pass its ignored SIGINT on to the job."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "code", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["ctrl-c", "sigterm-from-evallaunch-cancel"],
)
def test_ctrl_c_and_sigterm_leave_an_interrupted_status(
    signum: int, code: int, word: str, tmp_path: Path, shared_datasets: Path
) -> None:
    """Ctrl-C, and SIGTERM (what `evallaunch cancel`, `timeout`, systemd and a container
    stop send), stop a local job the same clean way: status `interrupted`, a message that
    rerunning resumes, the shell's exit status for the signal. `evallaunch status` shows
    the job running, with its progress, then interrupted."""
    # Far more work than can finish between the first unit starting and the signal.
    command = [
        sys.executable,
        "-m",
        "evallaunch.evaluate",
        f"paths.output_root={tmp_path}",
        f"paths.data_dir={shared_datasets}",
        "benchmark.limit=5",
        "generation.max_new_tokens=1024",
    ]
    stderr = tmp_path / "stderr.txt"  # a file: a full pipe would stall the job
    with stderr.open("w") as sink:
        proc = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            preexec_fn=default_sigint,
        )

    def running_unit() -> Path | None:
        """The job's status.json once it says running and a unit has started generating."""
        for status in tmp_path.rglob("status.json"):
            units = status.parent / "backend" / "units"
            try:
                state = json.loads(status.read_text())["status"]
            except (OSError, ValueError, KeyError):
                continue
            if state == "running" and units.is_dir() and any(units.iterdir()):
                return status
        return None

    deadline = time.monotonic() + 600
    while (status := running_unit()) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError(
                f"no unit started (exit {proc.returncode}):\n{stderr.read_text()[-2000:]}"
            )
        time.sleep(0.05)
    assert proc.poll() is None, "the job ended before the signal"

    def evallaunch(*args: str) -> subprocess.CompletedProcess[str]:
        return run_forked(["evallaunch.cli", *args, str(tmp_path)], dict(os.environ), tmp_path)

    running = evallaunch("status")
    assert running.returncode == 1 and "1 running" in running.stdout, running.stderr
    assert re.search(r"running\s+\d+/20 samples", running.stdout), running.stdout  # 5 x n=4
    assert "evaluate.log" in running.stdout
    if signum == signal.SIGTERM:
        stopped = evallaunch("cancel")
        assert f"(pid {proc.pid})" in stopped.stdout, stopped.stdout + stopped.stderr
    else:
        proc.send_signal(signum)
    proc.wait(timeout=120)
    err = stderr.read_text()
    assert proc.returncode == code, err[-2000:]
    assert f"evallaunch: {word};" in err and "Traceback" not in err
    assert "run the same command again to resume" in err
    assert "1 interrupted" in evallaunch("status").stdout
    assert json.loads(status.read_text())["status"] == "interrupted"
    assert not list(tmp_path.rglob("results.json"))


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_full_disk_gives_one_clear_line(tmp_path: Path, shared_datasets: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40k", "tmpfs", str(disk)])
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "evallaunch.evaluate",
                f"paths.output_root={disk}",
                f"paths.data_dir={shared_datasets}",
                "benchmark.limit=2",
                "generation.max_new_tokens=16",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode != 0
        assert "No space left on device" in proc.stderr, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr
        assert not list(disk.rglob("results.json"))
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def test_corrupt_model_config_is_reported_by_file(places: dict[str, str]) -> None:
    argv, env = command_line("evaluate model.name_or_path={broken_model}", places)
    proc = run_forked(argv, env, cwd=places["tmp"])
    assert f"{places['broken_model']}/config.json" in proc.stderr
