#!/usr/bin/env bash
# `make setup`: create .venv/ and install everything the kit needs.
# Idempotent and quiet when all is in place; a failed step names itself, shows
# the end of its log and says what to do next.
set -uo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
PY=$VENV/bin/python
LOG=$VENV/setup.log
STAMP=$VENV/.setup-stamp
VERSIONS=vllm_course/course/versions.py  # the one pin of vLLM and torch

fail() {  # fail STEP WHY
  echo "setup: FAILED at step '$1': $2" >&2
  if [ -s "$LOG" ]; then
    echo "--- last lines of $LOG ---" >&2
    tail -n 15 "$LOG" >&2
    echo "---" >&2
  fi
  echo "Fix the cause above and run 'make setup' again (it resumes where it stopped)." >&2
  exit 1
}

step() { echo "setup: $1"; }

run() {  # run STEP CMD...: quiet unless it fails
  local name=$1; shift
  echo "### $name: $*" >>"$LOG"
  "$@" >>"$LOG" 2>&1 || fail "$name" "'$*' exited with status $?"
}

# 1. Python
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || fail "find Python" "no '$PYTHON' on PATH; install Python 3.11 or newer"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  fail "find Python" "$("$PYTHON" --version 2>&1) is too old: the kit needs Python >= 3.11 (set PYTHON=python3.11)"
VLLM_VERSION=$("$PYTHON" "$VERSIONS" VLLM) && TORCH_VERSION=$("$PYTHON" "$VERSIONS" TORCH) ||
  fail "read the pinned versions" "'$PYTHON $VERSIONS' failed"

# 2. Virtual environment
if [ ! -x "$PY" ]; then
  step "creating $VENV"
  "$PYTHON" -m venv "$VENV" || fail "create $VENV" "'$PYTHON -m venv' failed (on Debian: apt-get install python3-venv)"
fi
: >"$LOG"

# 3. Packages, skipped when the stamp says this exact recipe is installed
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  KIND=gpu
else
  KIND=cpu
fi
RECIPE="$KIND $(cat pyproject.toml requirements/cpu.txt scripts/setup.sh "$VERSIONS" | sha256sum | cut -c1-16)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$RECIPE" ]; then
  PIP=("$PY" -m pip install --disable-pip-version-check)
  if [ "$KIND" = gpu ]; then
    step "installing vLLM $VLLM_VERSION with CUDA (an NVIDIA GPU was found); this takes a few minutes"
    # Ray as the CPU lock pins it: every node of a grading cluster runs the same one.
    RAY_PIN=$(grep '^ray==' requirements/cpu.txt) || fail "read the Ray pin" "no ray== line in requirements/cpu.txt"
    run "install vLLM (GPU)" "${PIP[@]}" "vllm==$VLLM_VERSION" "torch==$TORCH_VERSION" "$RAY_PIN"
    step "installing the kit"
    run "install the kit" "${PIP[@]}" -e .
  else
    step "installing PyTorch $TORCH_VERSION (CPU path: no NVIDIA GPU found)"
    run "install PyTorch" "${PIP[@]}" "torch==$TORCH_VERSION"
    step "installing vLLM $VLLM_VERSION and its CPU runtime requirements; this takes a few minutes"
    run "install vLLM (CPU)" "${PIP[@]}" --no-deps -r requirements/cpu.txt
    # xgrammar declares triton; with triton present vLLM's CPU path changes.
    if "$PY" -c 'import triton' >/dev/null 2>&1; then
      run "remove triton" "$PY" -m pip uninstall -y triton
    fi
    step "installing the kit"
    run "install the kit" "${PIP[@]}" --no-deps --no-build-isolation -e .
  fi
  run "check the install" "$PY" -c "import vllm, vllm_course; assert vllm.__version__ == '$VLLM_VERSION', vllm.__version__"
  echo "$RECIPE" >"$STAMP"
fi

# 4. The offline stand-ins of course.yaml's models (rebuilt only when a recipe changes)
# Shown as it goes (training takes a minute); silent when already built.
"$PY" -m vllm_course.models.offline_model ensure course >/dev/null ||
  fail "build the offline model" "see the message above; 'course model' tells which model the kit uses"

# 5. Lesson 10's practice LoRA adapters, for the model the kit resolves (once per model)
"$PY" -m vllm_course.models.lora_adapters ensure >/dev/null ||
  fail "train the practice LoRA adapters" "see the message above; 'python -m vllm_course.models.lora_adapters' retries"
exit 0
