"""The releases the kit is pinned to: change them here, and only here.

The CPU platform's reference ops mirror one vLLM release's op signatures, and
that release pins one torch. Everything else reads these names: the platform
plugin (so it works from any install, editable or not), `vllm_version.check`,
and the install scripts, which run before the kit is installed and so read
this file as a script: `python3 vllm_course/course/versions.py VLLM`.
Copies that tools require in their own files (pyproject.toml's dependencies,
requirements/cpu.txt, course.yaml's vllm_version) are compared with these by
`course check`.
"""

import sys

VLLM = "0.32.0"
TORCH = "2.13.0"

if __name__ == "__main__":
    print({"VLLM": VLLM, "TORCH": TORCH}[sys.argv[1]])
