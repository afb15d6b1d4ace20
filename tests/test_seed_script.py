"""The seed lesson's script, verbatim but for the model name, runs on CPU.

It has no `if __name__ == "__main__":` guard, sets no memory, dtype or
compilation options: the platform's defaults must make it just work.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

SEED = Path(__file__).with_name("seed_script.py")


def test_seed_script_prints_four_completions(tmp_path, offline_model_path, course_platform_active):
    script = tmp_path / "basic.py"
    script.write_text(SEED.read_text().replace('"facebook/opt-125m"', repr(offline_model_path)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLLM_")}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [l for l in done.stdout.splitlines() if l.startswith("Prompt: ")]
    assert len(lines) == 4, done.stdout
    for line in lines:
        prompt_part, text_part = line.split(", Generated text: ")
        assert ast.literal_eval(text_part).strip(), f"empty completion: {line}"

    log = done.stdout + done.stderr  # vLLM logs to stdout, progress bars to stderr
    assert "Traceback" not in log
    # Every changed default is reported once, in one line, with its override.
    defaults = [l for l in log.splitlines() if "vllm_course CPU platform defaults:" in l]
    if not course_platform_active:  # a GPU machine: the platform, and its line, stay out
        assert defaults == [], defaults
        return
    assert len(defaults) == 1, log[-3000:]
    for needle in ("torch.compile", "VLLM_COURSE_CPU_COMPILE=1", "KV cache 1 GiB",
                   "VLLM_CPU_KVCACHE_SPACE", "VLLM_ENABLE_V1_MULTIPROCESSING=1"):
        assert needle in defaults[0]
    # Not-applicable warnings about the compiled build are kept out.
    assert "Triton" not in log and "LD_PRELOAD" not in log
