"""vLLM on this machine: the CPU platform plugin, `vllm serve` for lessons and
graders, and what the kit reads from vLLM's internals and version.

May import: course."""
