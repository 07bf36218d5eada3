"""The embedded model is converted once, atomically, and reused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evallaunch.errors import EvallaunchError
from evallaunch.models.embedded import COMPLETE_MARKER, embedded_checkpoint

pytestmark = pytest.mark.slow

CONVERT = (
    "import sys; from evallaunch.models.embedded import embedded_checkpoint; "
    "embedded_checkpoint(sys.argv[1], sys.argv[2])"
)


def test_killed_conversion_leaves_nothing_that_is_used(tmp_path: Path) -> None:
    ref = "embedded:smollm2-135m-instruct"
    proc = subprocess.Popen([sys.executable, "-c", CONVERT, ref, str(tmp_path)])
    models = tmp_path / "models"
    # Kill it while it writes the checkpoint: a file in the staging directory, none complete.
    deadline = time.monotonic() + 300
    while not any(any(d.iterdir()) for d in models.glob(".smollm2-135m-instruct.*")):
        assert proc.poll() is None, "the conversion ended before it could be killed"
        assert time.monotonic() < deadline, "the conversion wrote nothing in time"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(models.glob(".smollm2-135m-instruct.*")), "killed after the conversion ended"
    target = models / "smollm2-135m-instruct"
    assert not (target / COMPLETE_MARKER).exists(), "a killed conversion looked complete"

    path = embedded_checkpoint(ref, tmp_path)  # converts again, from scratch
    assert path == target
    assert json.loads((path / COMPLETE_MARKER).read_text())["dtype"] == "float32"
    config = json.loads((path / "config.json").read_text())
    assert "quantization_config" not in config
    assert (path / "model.safetensors").stat().st_size > 400e6  # fp32, de-quantized
    assert not list(models.glob(".smollm2-135m-instruct.*")), "staging dirs are cleaned up"

    mtime = (path / "model.safetensors").stat().st_mtime
    assert embedded_checkpoint(ref, tmp_path) == path  # reused, not converted again
    assert (path / "model.safetensors").stat().st_mtime == mtime


def test_unknown_embedded_model_lists_the_choices(tmp_path: Path) -> None:
    with pytest.raises(EvallaunchError, match="embedded:smollm2-135m-instruct"):
        embedded_checkpoint("embedded:llama-9000", tmp_path)
