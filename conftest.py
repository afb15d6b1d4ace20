# Loads the kit's grading plugin for every pytest run in this repository, so
# that `pytest exercises/lessonNN` grades a submission.
pytest_plugins = ["vllm_course.grading.plugin"]
