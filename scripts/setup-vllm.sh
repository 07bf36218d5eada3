#!/usr/bin/env bash
# Create .venv-vllm: vLLM in a virtual environment of its own, for backend.model_type=server.
# vLLM pins its own torch (a CUDA build, several GB), so it stays out of .venv (CPU torch);
# a job only runs its `vllm serve` command, which evallaunch finds on PATH, beside the job's
# Python, or in .venv-vllm/bin.
# Usage: scripts/setup-vllm.sh [VENV_DIR]   (idempotent; downloads GBs of CUDA wheels)
# Env:   PYTHON (default python3, 3.10-3.13), VLLM_VERSION (default 0.33.0)
set -euo pipefail
venv=${1:-.venv-vllm}
python=${PYTHON:-python3}
version=${VLLM_VERSION:-0.33.0}

if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "setup-vllm: warning: nvidia-smi not found; vLLM serves on NVIDIA GPUs" >&2
fi
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
installed() {
  "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('vllm') != '$version')" 2>/dev/null
}
if installed; then
  echo "setup-vllm: vllm $version is already installed in $venv"
  exit 0
fi
pip() { "$venv/bin/python" -m pip --disable-pip-version-check "$@"; }
pip install -q --upgrade pip
echo "setup-vllm: installing vllm==$version into $venv (CUDA wheels, several GB)"
pip install "vllm==$version"
installed || { echo "setup-vllm: vllm $version did not install" >&2; exit 1; }
echo "setup-vllm: done ($("$venv/bin/vllm" --version 2>/dev/null | tail -n 1))"
echo "setup-vllm: run with backend=lighteval_server or backend=lmeval_server and the vLLM"
echo "            command shown in conf/backend/lighteval_server.yaml"
