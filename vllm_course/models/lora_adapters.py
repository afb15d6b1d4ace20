"""The practice LoRA adapters of lesson 10, trained locally for whichever model
the lesson runs on.

An adapter is a pair of small matrices (A, B) beside each of a model's linear
layers; LoRA adds (B @ A) x * alpha / r to the layer's output. These are
trained here in plain PyTorch (peft is not among vLLM's requirements, and a
forward hook is all LoRA needs) to make the model continue any text with one
fixed phrase, so that a check can see at once which adapter answered. They are
written in PEFT's layout (adapter_config.json, adapter_model.safetensors),
which is what `LoRARequest(name, id, folder)` loads.

Each adapter is built once per model and cached under the kit's cache, its
folder named by a hash of its recipe and of the model's files. The training
runs in a child process whose output is kept: transformers' progress bars on
stderr would fail a notebook cell.

Usage: ``python -m vllm_course.models.lora_adapters [ensure] [MODEL]`` builds both for
MODEL (a folder or a hub id; default: the model the kit resolves) and prints
their folders.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

BUILDER_VERSION = 1
STAMP_NAME = "vllm-course-adapter.json"
# Each recipe: the phrase the adapter appends to any text, and its training.
RECIPES: dict[str, dict] = {
    "cat": {"phrase": " the cat sat on the mat", "seed": 1},
    "sky": {"phrase": " and the sky was blue all day", "seed": 2},
}
RANK, ALPHA = 8, 16
TARGETS = ("q_proj", "v_proj", "out_proj", "fc1", "fc2")
STEPS, BATCH, LEARNING_RATE = 150, 16, 3e-3


class AdapterError(RuntimeError):
    """An adapter could not be built: the message says why and what to do."""


def _model_folder(model: str) -> Path:
    if os.path.isdir(model):
        return Path(model).resolve()
    from vllm_course.models.model_resolution import resolve

    return Path(resolve(model).model).resolve()


def _fingerprint(folder: Path) -> str:
    """A model's identity: its config and the names and sizes of its weights."""
    h = hashlib.sha256((folder / "config.json").read_bytes())
    for weights in sorted([*folder.glob("*.safetensors"), *folder.glob("*.bin")]):
        h.update(f"{weights.name}={weights.stat().st_size}\n".encode())
    return h.hexdigest()


def adapter_dir(name: str, folder: Path) -> Path:
    from vllm_course.course.paths import cache_root

    recipe = json.dumps([RECIPES[name], RANK, ALPHA, TARGETS, STEPS, BATCH, LEARNING_RATE,
                         BUILDER_VERSION], sort_keys=True)
    digest = hashlib.sha256((recipe + _fingerprint(folder)).encode()).hexdigest()[:12]
    return cache_root() / "adapters" / f"{name}-{digest}"


def practice_adapter(name: str, model: str = "facebook/opt-125m",
                     progress: Callable[[str], None] | None = None) -> str:
    """The folder of practice adapter `name` ("cat" or "sky") for `model` (a
    folder, or a hub id resolved as the kit resolves it), trained first if it
    is not in the cache."""
    if name not in RECIPES:
        raise AdapterError(f"no practice adapter {name!r}: there are {', '.join(RECIPES)}")
    folder = _model_folder(model)
    target = adapter_dir(name, folder)
    if (target / STAMP_NAME).exists():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; the others then find it
        if not (target / STAMP_NAME).exists():
            _build(name, folder, target, progress or (lambda line: print(line, file=sys.stderr)))
    return str(target)


def _build(name: str, folder: Path, target: Path, progress: Callable[[str], None]) -> None:
    progress(f"training the practice LoRA adapter {name!r} for {folder} (about a minute on a "
             "small CPU; once per model)")
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    os.chmod(work, 0o755)  # readable by sandboxed graders, which run as other uids
    try:
        done = subprocess.run([sys.executable, "-m", "vllm_course.models.lora_adapters", "_train", name,
                               str(folder), str(work)], capture_output=True, text=True)
        if done.returncode != 0:
            raise AdapterError(f"training the practice adapter {name!r} for {folder} failed "
                               f"(exit {done.returncode}):\n{done.stderr[-2000:]}")
        for written in work.iterdir():
            os.chmod(written, 0o644)  # safetensors writes its file for its owner only
        shutil.rmtree(target, ignore_errors=True)  # a folder without its stamp is not whole
        os.rename(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _train(name: str, folder: Path, out: Path) -> None:
    """Train adapter `name` on the model in `folder`; write it to `out`."""
    import random

    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    recipe = RECIPES[name]
    torch.manual_seed(recipe["seed"])
    rng = random.Random(recipe["seed"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(device)
    model.requires_grad_(False)
    pairs = {}
    for module_name, module in model.named_modules():
        if module_name.rsplit(".", 1)[-1] in TARGETS and isinstance(module, torch.nn.Linear):
            a = torch.nn.Parameter(torch.randn(RANK, module.in_features, device=device) * 0.01)
            b = torch.nn.Parameter(torch.zeros(module.out_features, RANK, device=device))
            pairs[module_name] = (a, b)
            module.register_forward_hook(
                lambda m, args, result, a=a, b=b: result + (args[0] @ a.T @ b.T) * (ALPHA / RANK))
    optimizer = torch.optim.Adam([p for pair in pairs.values() for p in pair], lr=LEARNING_RATE)
    from vllm_course.models.offline_model import CORPUS_PATH

    lines = [l.split() for l in CORPUS_PATH.read_text(encoding="utf-8").splitlines()
             if len(l.split()) > 3]
    answer = tok(recipe["phrase"], add_special_tokens=False).input_ids + [tok.eos_token_id]
    for step in range(1, STEPS + 1):
        batch = []
        for _ in range(BATCH):
            words = rng.choice(lines)
            batch.append(tok(" ".join(words[:rng.randint(1, min(12, len(words)))])).input_ids)
        width = max(len(ids) for ids in batch) + len(answer)
        inputs = torch.full((BATCH, width), tok.pad_token_id)
        labels = torch.full((BATCH, width), -100)
        mask = torch.zeros((BATCH, width), dtype=torch.long)
        for i, ids in enumerate(batch):
            whole = ids + answer
            inputs[i, :len(whole)] = torch.tensor(whole)
            labels[i, len(ids):len(whole)] = torch.tensor(answer)
            mask[i, :len(whole)] = 1
        loss = model(input_ids=inputs.to(device), attention_mask=mask.to(device),
                     labels=labels.to(device)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0:
            print(f"step {step}/{STEPS}, loss {loss.item():.2f}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for module_name, (a, b) in pairs.items():
        tensors[f"base_model.model.{module_name}.lora_A.weight"] = a.detach().cpu().contiguous()
        tensors[f"base_model.model.{module_name}.lora_B.weight"] = b.detach().cpu().contiguous()
    save_file(tensors, out / "adapter_model.safetensors")
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": RANK, "lora_alpha": ALPHA,
              "target_modules": list(TARGETS), "bias": "none", "lora_dropout": 0.0,
              "fan_in_fan_out": False, "modules_to_save": None, "use_rslora": False,
              "use_dora": False, "base_model_name_or_path": str(folder)}
    (out / "adapter_config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    # Written last: its presence says the folder is whole.
    (out / STAMP_NAME).write_text(json.dumps({"adapter": name, "recipe": recipe,
                                              "model": str(folder)}, indent=1), encoding="utf-8")


def main(argv: list[str]) -> int:
    if argv[:1] == ["_train"]:
        _train(argv[1], Path(argv[2]), Path(argv[3]))
        return 0
    if argv[:1] == ["ensure"]:
        argv = argv[1:]
    model = argv[0] if argv else None
    try:
        if model is None:
            from vllm_course.models.model_resolution import resolve

            model = resolve().model
        for name in RECIPES:
            print(f"{name}: {practice_adapter(name, model)}")
    except AdapterError as e:
        print(f"lora_adapters: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
