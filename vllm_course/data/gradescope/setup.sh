#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built; the
# zip is unpacked in /autograder/source. It installs the kit with its pinned
# versions (make setup: CPU or GPU, whichever the image has, and the offline
# stand-in models), then tries to fetch the real models, time-bounded: where
# they cannot be downloaded, grading runs on the stand-ins.
set -euo pipefail
cd /autograder/source
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# Gradescope's Ubuntu images ship an older Python; the kit needs 3.11 or newer.
apt-get install -y -q python3.11 python3.11-venv python3.11-dev build-essential make git
PYTHON=python3.11 make setup
# Where Gradescope allows no namespaces, a submission still runs as a uid of
# its own: the solutions, which only the grader (root) reads, stay closed to it.
chmod -R go-rwx solutions
for model in @MODELS@; do
  timeout 600 .venv/bin/hf download "$model" >/dev/null 2>&1 ||
    echo "setup: $model could not be downloaded; its offline stand-in will grade instead"
done
# A lesson with LoRA exercises (lesson 10): its practice adapters, trained once
# here for the model that will grade, not in every submission's container.
if [ "@ADAPTERS@" = "yes" ]; then
  .venv/bin/python -m vllm_course.models.lora_adapters ensure >/dev/null ||
    echo "setup: the practice LoRA adapters could not be trained; each run will try again"
fi
