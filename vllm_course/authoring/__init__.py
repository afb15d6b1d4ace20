"""The course author's tools: stubs from solutions, planted mistakes, contract
tables, `course check`, `make mutants` and `make test-matrix`.

May import: course, runtime, models, grading, runner."""
