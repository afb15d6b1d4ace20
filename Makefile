# The kit's commands. A new user needs two: `make setup`, then `make test`.
PY := .venv/bin/python

.PHONY: setup test test-matrix bench mutants lock clean-model

setup:  ## create .venv and install vLLM, the kit and the offline model
	@bash scripts/setup.sh

test:  ## the kit's own test suite (real vLLM on this machine)
	@test -x $(PY) || { echo "No .venv yet: run 'make setup' first."; exit 1; }
	@$(PY) -m pytest tests --durations=25

test-matrix:  ## every lesson's class graded under each dtype and model; prints a table
	@test -x $(PY) || { echo "No .venv yet: run 'make setup' first."; exit 1; }
	@$(PY) -m vllm_course.authoring.matrix $(LESSONS)

bench:  ## side-by-side throughput and start-up figures
	@test -x $(PY) || { echo "No .venv yet: run 'make setup' first."; exit 1; }
	@$(PY) -m vllm_course.bench

mutants:  ## grade every small change of the solutions; list those the graders miss
	@test -x $(PY) || { echo "No .venv yet: run 'make setup' first."; exit 1; }
	@$(PY) -m vllm_course.authoring.mutation_run $(LESSONS)

lock:  ## regenerate requirements/cpu.txt from vLLM's declared requirements
	@bash scripts/lock_cpu_requirements.sh
