"""Where a submission runs: the warm grader, the forked child, its sandbox and
allow-listed root, the Ray slot and the grading service.

May import: course, runtime, models, grading (the check API it runs)."""
