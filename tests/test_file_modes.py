"""Files evallaunch writes get the mode the umask gives new files, as `open()` would: a
team's shared outputs tree and mirror are group-readable under umask 022, private under 077.
(The files of a real evaluation are checked in tests/test_evaluate.py.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli_forks import run_forked


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mode & 0o777 for p in root.rglob("*")}


def expected(root: Path, umask: int) -> dict[str, int]:
    return {
        str(p.relative_to(root)): (0o777 if p.is_dir() else 0o666) & ~umask for p in root.rglob("*")
    }


@pytest.mark.parametrize("umask", [0o022, 0o077], ids=["022", "077"])
def test_mirror_and_score_outputs_follow_the_umask(
    umask: int, tmp_path: Path, shared_datasets: Path
) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    mirror, scored = tmp_path / "mirror", tmp_path / "scored"
    prepare = ["evallaunch.cli", "prepare", "aime24", "--source", str(shared_datasets)]
    proc = run_forked([*prepare, "--data-dir", str(mirror)], env, tmp_path, umask=umask)
    assert proc.returncode == 0, proc.stderr
    completions = tmp_path / "completions.jsonl"
    row = json.loads((shared_datasets / "aime24.jsonl").read_text().splitlines()[0])
    completions.write_text(json.dumps({"id": row["id"], "completion": "\\boxed{1}"}) + "\n")
    score = ["evallaunch.cli", "score", "aime24", str(completions), "--output", str(scored)]
    proc = run_forked([*score, "--data-dir", str(mirror)], env, tmp_path, umask=umask)
    assert proc.returncode == 0, proc.stderr
    for root in (mirror, scored):
        assert {"results.json", "details.parquet"} <= set(modes(scored))
        assert modes(root) == expected(root, umask), root


def test_paths_umask_sets_the_mode_of_a_job_s_files(tmp_path: Path, shared_datasets: Path) -> None:
    """paths.umask for a team that wants otherwise than the process's umask: here a job
    that stops early (no such model) still leaves its status and log, mode 0640 under 027."""
    out = tmp_path / "outputs"
    argv = ["evallaunch.evaluate", f"paths.output_root={out}", f"paths.data_dir={shared_datasets}"]
    argv += ["paths.umask='027'", f"model.name_or_path={tmp_path / 'nowhere'}"]
    proc = run_forked(argv, {**os.environ}, tmp_path, umask=0o022)
    assert proc.returncode != 0 and "no such model directory" in proc.stderr
    written = {p.name: mode for p in out.rglob("*") if (mode := p.stat().st_mode & 0o777)}
    assert written["status.json"] == written["evaluate.log"] == 0o640
    assert all(mode in (0o640, 0o750) for mode in written.values()), written
