#!/usr/bin/env bash
# Regenerate requirements/cpu.txt: install vLLM without its dependencies into a
# scratch venv, then the runtime requirements vLLM itself declares (read from
# its metadata) minus the GPU-only ones, then the kit's tools; freeze the lot.
set -euo pipefail
cd "$(dirname "$0")/.."
VLLM_VERSION=$(python3 vllm_course/course/versions.py VLLM)  # the one pin of vLLM and torch
TORCH_VERSION=$(python3 vllm_course/course/versions.py TORCH)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python3 -m venv "$TMP/venv"
PIP="$TMP/venv/bin/python -m pip install -q --disable-pip-version-check"
echo "lock: installing torch and vllm==$VLLM_VERSION (no deps)"
$PIP "torch==$TORCH_VERSION"
$PIP --no-deps "vllm==$VLLM_VERSION"
"$TMP/venv/bin/python" - >"$TMP/runtime.txt" <<'PYEOF'
# vLLM's declared requirements for this machine, minus GPU-only packages.
import re
from importlib.metadata import requires
from packaging.requirements import Requirement

GPU_ONLY = re.compile(
    r"^(torch|torchaudio|torchvision|torchcodec|triton|flashinfer.*|nvidia-.*|"
    r"cuda-.*|pynvvideocodec|tilelang|nvtx|fastsafetensors|instanttensor|"
    r"quack-kernels|tokenspeed-mla|humming-kernels)$",
    re.I,
)
for line in requires("vllm"):
    req = Requirement(line)
    if req.marker and not req.marker.evaluate({"extra": ""}):
        continue
    if not GPU_ONLY.match(req.name):
        req.marker = None
        print(req)
PYEOF
echo "lock: installing $(wc -l <"$TMP/runtime.txt") runtime requirements and the kit's tools"
$PIP -r "$TMP/runtime.txt" pytest pytest-timeout nbgrader pyyaml ray
"$TMP/venv/bin/python" -m pip uninstall -q -y triton 2>/dev/null || true
{
  sed -n '1,/^# Regenerate/p' requirements/cpu.txt
  "$TMP/venv/bin/python" -m pip freeze --all --exclude pip --exclude torch --exclude vllm | grep -v '^-e' | sort -f
  echo "vllm==$VLLM_VERSION"
} >"$TMP/cpu.txt"
mv "$TMP/cpu.txt" requirements/cpu.txt
echo "lock: wrote requirements/cpu.txt ($(grep -c '==' requirements/cpu.txt) pins)"
