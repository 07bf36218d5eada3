"""Each patch in evallaunch.compat still does what it claims on the pinned versions.

The vLLM patches need vLLM: they run in `.venv-vllm` (make setup-vllm) and skip without it.
"""

from __future__ import annotations

import importlib.util
import io
import subprocess
import textwrap
from pathlib import Path

import pytest

from evallaunch import compat
from evallaunch.errors import EvallaunchError
from tests.test_vllm import VLLM_PYTHON


def test_a_version_other_than_the_pinned_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    compat.check_version("lighteval")  # the installed one is the pinned one
    monkeypatch.setitem(compat.PINNED, "lighteval", "0.0.1")
    with pytest.raises(EvallaunchError, match=r"lighteval 0\.13\.0 is installed.*==0\.0\.1"):
        compat.check_version("lighteval")


def test_progress_bars_draw_nowhere_but_still_keep_time() -> None:
    """lm-eval asks for its bar explicitly (disable=False); vLLM divides by a bar's elapsed
    time, which a disabled bar leaves at 0."""
    from tqdm import tqdm

    compat.silence_progress_bars()
    compat.silence_progress_bars()  # idempotent
    stream = io.StringIO()
    bar = tqdm(total=3, disable=False, file=stream, mininterval=0)
    bar.update(3)
    assert not bar.disable and bar.format_dict["elapsed"] > 0
    bar.close()
    assert stream.getvalue() == ""


def test_lighteval_still_builds_vllm_in_eager_mode() -> None:
    """Why the engine-arguments patch exists: lighteval 0.13 hard-codes eager mode."""
    spec = importlib.util.find_spec("lighteval.models.vllm.vllm_model")
    assert spec is not None and spec.origin is not None
    source = Path(spec.origin).read_text()  # without vLLM the class is a placeholder
    body = source[source.index("def _create_auto_model") :]
    assert '"enforce_eager": True' in body and "LLM(**self.model_args)" in body


def in_vllm_env(script: str) -> str:
    if not VLLM_PYTHON.is_file():
        pytest.skip("vLLM is not set up (make setup-vllm builds .venv-vllm)")
    proc = subprocess.run(
        [str(VLLM_PYTHON), "-c", textwrap.dedent(script)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_lighteval_vllm_model_is_usable_on_the_installed_vllm() -> None:
    """With vLLM newer than lighteval's pin, lighteval's VLLMModel is a placeholder; the
    adapted module has the real class, an LLM taking lighteval's old arguments, and the
    engine arguments evallaunch overrides reach that LLM."""
    out = in_vllm_env(
        """
        import inspect
        from evallaunch.compat import lighteval_vllm_engine_args, lighteval_vllm_module
        from lighteval.models.vllm import vllm_model as original

        module = lighteval_vllm_module()
        assert not getattr(module.VLLMModel, "is_dummy", False), "still the placeholder"
        assert "prompt_token_ids" in inspect.signature(module.LLM.generate).parameters
        calls = []
        module.LLM = lambda *a, **k: calls.append(k)
        with lighteval_vllm_engine_args(enforce_eager=False):
            module.LLM(model="m", enforce_eager=True, swap_space=4)
        print(calls)
        """
    )
    assert "'enforce_eager': False" in out and "'model': 'm'" in out
