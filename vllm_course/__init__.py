"""vllm_course: the runtime, graders and tools of an auto-graded vLLM course."""
