"""The instructor's side: `course grade` over a class folder (warm, or on Ray),
the nbgrader course and Gradescope's autograder.

May import: course, runtime, models, grading, runner, authoring; never student."""
