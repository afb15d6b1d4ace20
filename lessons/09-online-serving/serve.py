"""Lesson 9 walkthrough: serve the course's model with `vllm serve`.

Starts vLLM's OpenAI-compatible server in the foreground on 127.0.0.1, with
the model the kit chose, served under its course name ("facebook/opt-125m")
and with the lesson's chat template. Ctrl-C stops it. Run it from the
repository root:

    python lessons/09-online-serving/serve.py

Any other flag goes to `vllm serve` as it is, for example:

    python lessons/09-online-serving/serve.py --port 8001 --max-model-len 512

The model comes from the kit (`course model` says which one and why).
"""

import argparse
import os
import sys
from pathlib import Path

from vllm_course.course.manifest import REPO_ROOT, course
from vllm_course.models.model_resolution import resolve
from vllm_course.runtime.serving import lesson_args


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], allow_abbrev=False,
        epilog="Other flags are passed on to `vllm serve` (see `vllm serve --help`).")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only)")
    args, extra = parser.parse_known_args()

    lesson = course().lesson("lesson09")
    chosen = resolve(course().model_of(lesson))
    if chosen.notice:
        print(chosen.notice, flush=True)
    # The vllm command of this environment, as the kit's graders start it.
    vllm = str(Path(sys.executable).parent / "vllm")
    command = [vllm, "serve", chosen.model, "--host", args.host, "--port", str(args.port),
               *lesson_args(lesson), *extra]
    print(f"Serving {lesson.model} at http://localhost:{args.port}/v1 "
          "(ready after 'Application startup complete.'; Ctrl-C stops it)", flush=True)
    # The chat template's path in lesson_args is relative to the repository root.
    os.chdir(REPO_ROOT)
    # Become the server: Ctrl-C reaches vLLM directly, and its exit status is ours.
    os.execv(vllm, command)


# Run main() only when this file is executed as a script (see lesson 1).
if __name__ == "__main__":
    main()
