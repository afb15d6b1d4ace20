"""The student's side: `course study` (self-paced, with progress) and
`course watch` (regrade on save).

May import: course, runtime, models, grading, runner, authoring; never instructor."""
