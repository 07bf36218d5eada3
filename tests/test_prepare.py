"""`evallaunch prepare`: the local mirror is filled once, verified, with provenance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def prepare(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "evallaunch.cli", "prepare", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_prepare_from_a_local_source_is_verified_and_idempotent(
    tmp_path: Path, shared_datasets: Path
) -> None:
    mirror = tmp_path / "mirror"
    first = prepare("--source", str(shared_datasets), "--data-dir", str(mirror))
    assert first.returncode == 0, first.stderr
    assert "aime25         skipped" in first.stdout  # not in the offline source
    names = sorted(p.name for p in mirror.iterdir())
    assert names == [
        "PROVENANCE.json",
        "aime24.jsonl",
        "gpqa_dataset.zip",
        "lcb_v5.jsonl",
        "math500.jsonl",
    ]
    for name in names[1:]:
        assert (mirror / name).read_bytes() == (shared_datasets / name).read_bytes()
    provenance = json.loads((mirror / "PROVENANCE.json").read_text())
    assert provenance["gpqa_dataset.zip"]["rows"] == 198
    assert provenance["aime24.jsonl"]["origin"] == str((shared_datasets / "aime24.jsonl").resolve())
    again = prepare("--source", str(shared_datasets), "--data-dir", str(mirror))
    assert again.returncode == 0 and again.stdout.count(" kept ") == 4


def test_a_corrupted_mirror_file_is_replaced(tmp_path: Path, shared_datasets: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "aime24.jsonl").write_text("{}\n")
    proc = prepare("aime24", "--source", str(shared_datasets), "--data-dir", str(mirror))
    assert proc.returncode == 0 and " copied " in proc.stdout
    assert (mirror / "aime24.jsonl").read_bytes() == (shared_datasets / "aime24.jsonl").read_bytes()
