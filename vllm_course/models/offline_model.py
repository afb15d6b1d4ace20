"""Build small, local stand-ins for the course's models with no network.

The course normally serves ``facebook/opt-125m`` (and, for lessons 7 and 8, the pooling models
of course.yaml). When that cannot be downloaded, this module builds a checkpoint of the same
architecture (``OPTForCausalLM``, same config keys, float16
``model.safetensors``, an OPT-style byte-level BPE tokenizer) from the kit's own corpus
(``vllm_course/data/corpus.txt``). vLLM loads it with ``LLM(model=path)``, transformers with
``from_pretrained(path)``.

Recipes:
  * ``tiny``: the offline teaching model. Trained for a fixed number of steps with a fixed seed
    so that its greedy continuations of the lesson prompts are readable, and so that some of them
    end with EOS (finish_reason "stop") while "The future of AI is" runs to the length limit.
  * ``tiny-unseen``: a second teaching-model recipe, trained differently (seed, shape, a sample
    of the corpus), that no grader was tuned on: the test matrix grades every lesson on it.
  * ``opt-125m-shape``: the real opt-125m dimensions with random weights, for benchmarks only.
  * ``minilm-embed``: a BERT sentence-embedding model standing in for
    ``sentence-transformers/all-MiniLM-L6-v2``; its files are written by ``offline_encoder``.

Builds are deterministic (same files, byte for byte) and cached under :func:`model_dir`, whose
name carries a hash of the recipe, its training text (corpus or topics) and :data:`BUILDER_VERSION`.

Usage: ``python -m vllm_course.models.offline_model [ensure|build] [RECIPE|course] [--force]
[--out DIR]`` (``build``/``--force`` rebuild; the default ``ensure`` builds only when needed).
torch/transformers/tokenizers are imported inside functions, so importing this module is cheap.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import struct
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Callable

from vllm_course.course.paths import DATA_DIR, cache_root
from vllm_course.course.recipes import RECIPES

# Bump when the build code changes in a way that changes the produced files.
BUILDER_VERSION = 1

CORPUS_PATH = DATA_DIR / "corpus.txt"
STAMP_NAME = "vllm-course-model.json"
MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
REBUILD_HINT = "run `make setup` (or `course model build`) to rebuild it"

# OPT's special tokens at OPT's ids. Like OPT, "</s>" is both BOS (prepended to every prompt)
# and EOS; "<s>" exists in the vocabulary but is never used.
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>")
PAD_ID, EOS_ID = 1, 2



class OfflineModelError(RuntimeError):
    """The offline model directory is missing, incomplete or corrupt.

    ``str(e)`` is the full message, ending with what to do next; ``e.problem`` is just the problem.
    """

    def __init__(self, problem: str):
        super().__init__(f"{problem}; {REBUILD_HINT}.")
        self.problem = problem


# --------------------------------------------------------------------------- paths & hashes


def model_files(name: str) -> tuple[str, ...]:
    """The files a build of recipe `name` holds (its stamp lists their hashes)."""
    kind = _recipe(name).get("kind")
    if kind is None:
        return MODEL_FILES
    from vllm_course.models.offline_encoder import FILES

    return FILES[kind]


def _architecture(name: str) -> tuple[str, str]:
    """(model_type, architecture) of recipe `name`'s config.json."""
    kind = _recipe(name).get("kind")
    if kind is None:
        return "opt", "OPTForCausalLM"
    from vllm_course.models.offline_encoder import ARCHITECTURES

    return "bert", ARCHITECTURES[kind]


def _recipe(name: str) -> dict:
    if name not in RECIPES:
        raise ValueError(f"unknown offline model recipe {name!r}; choose one of {sorted(RECIPES)}")
    return RECIPES[name]


def recipe_hash(name: str) -> str:
    """Short hash of the recipe, its training text and BUILDER_VERSION."""
    h = hashlib.sha256()
    h.update(f"builder={BUILDER_VERSION}\nname={name}\n".encode())
    h.update(json.dumps(_recipe(name), sort_keys=True).encode())
    if "kind" in _recipe(name):  # an encoder stand-in: its own data file
        from vllm_course.models.offline_encoder import DATA_DIR, ENCODER_VERSION

        h.update(f"encoder={ENCODER_VERSION}\n".encode())
        h.update((DATA_DIR / _recipe(name)["data"]).read_bytes())
    else:
        h.update(CORPUS_PATH.read_bytes())
    return h.hexdigest()[:12]


def model_dir(name: str = "tiny") -> Path:
    return cache_root() / "models" / f"{name}-{recipe_hash(name)}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- corpus & tokenizer


def load_corpus() -> list[tuple[str, bool, int, bool]]:
    """Documents of the corpus as (text, ends_with_eos, times_per_epoch,
    starts_with_bos); see corpus.txt."""
    docs, lines = [], []
    for raw in CORPUS_PATH.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        if line.startswith("#"):
            continue
        if line:
            lines.append(line)
        elif lines:
            text = " ".join(lines)
            eos = text.endswith("</s>")
            tags = re.match(r"(?:\[(?:x\d+|chat)\] )*", text)
            repeat = re.search(r"\[x(\d+)\]", tags.group())
            chat = "[chat]" in tags.group()
            text = text[tags.end():].removesuffix("</s>").rstrip()
            if chat:  # a rendered conversation: its line breaks are written \n
                text = text.replace("\\n", "\n")
            docs.append((text, eos, int(repeat.group(1)) if repeat else 1, not chat))
            lines = []
    return docs


def _sample(docs: list[tuple], sample: dict | None) -> list[tuple]:
    """A recipe's `corpus_sample`: each document kept with probability `keep`
    (seeded), every conversation kept (lesson 5's template needs them)."""
    if not sample:
        return docs
    import random

    rng = random.Random(sample["seed"])
    return [d for d in docs if not d[3] or rng.random() < sample["keep"]]


def _train_tokenizer(docs: list[tuple], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())  # byte-level: every byte is in the alphabet, no unk needed
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),  # ids 0..3, in this order
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([text for text, *_ in docs], trainer=trainer)
    assert [tok.token_to_id(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3]
    # Like OPT's tokenizer: every encoded prompt starts with "</s>" (id 2).
    tok.post_processor = processors.TemplateProcessing(
        single="</s> $A", pair="</s> $A </s> $B", special_tokens=[("</s>", EOS_ID)]
    )
    return tok


def _write_tokenizer(tok, out: Path, max_len: int) -> None:
    (out / "tokenizer.json").write_text(tok.to_str(pretty=True), encoding="utf-8")
    special = {"bos_token": "</s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
    _write_json(out / "special_tokens_map.json", special)
    _write_json(
        out / "tokenizer_config.json",
        {
            **special,
            # Loads tokenizer.json as is (the GPT2Tokenizer class would rebuild it).
            "tokenizer_class": "PreTrainedTokenizerFast",
            "add_bos_token": True,
            "add_eos_token": False,
            "add_prefix_space": False,
            "clean_up_tokenization_spaces": False,  # keep decoded text byte-exact
            "errors": "replace",
            "model_max_length": max_len,
        },
    )


# --------------------------------------------------------------------------- model


def _opt_config(name: str, recipe: dict, vocab_size: int) -> dict:
    """config.json with the keys of facebook/opt-125m's config."""
    import transformers

    return {
        "_name_or_path": f"vllm-course/{name}",
        "_remove_final_layer_norm": False,
        "activation_dropout": 0.0,
        "activation_function": "relu",
        "architectures": ["OPTForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": EOS_ID,
        "do_layer_norm_before": True,
        "dropout": recipe["dropout"],
        "enable_bias": True,
        "eos_token_id": EOS_ID,
        "ffn_dim": recipe["ffn_dim"],
        "hidden_size": recipe["hidden_size"],
        "init_std": recipe["init_std"],
        "layer_norm_elementwise_affine": True,
        "layerdrop": 0.0,
        "max_position_embeddings": recipe["max_position_embeddings"],
        "model_type": "opt",
        "num_attention_heads": recipe["num_attention_heads"],
        "num_hidden_layers": recipe["num_hidden_layers"],
        "pad_token_id": PAD_ID,
        "prefix": "</s>",
        "torch_dtype": "float16",
        "transformers_version": transformers.__version__,
        "use_cache": True,
        "vocab_size": vocab_size,
        "word_embed_proj_dim": recipe["hidden_size"],
    }


def _train(model, recipe: dict, sequences: list[list[int]], progress) -> None:
    import torch

    t = recipe["train"]
    gen = torch.Generator().manual_seed(recipe["seed"])
    opt = torch.optim.AdamW(
        model.parameters(), lr=t["lr"], betas=(0.9, 0.98), weight_decay=t["weight_decay"]
    )
    steps, warm = t["steps"], t["warmup_steps"]
    # Linear warm-up, then cosine decay to 10% of the peak rate.
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (s + 1) / warm
        if s < warm
        else 0.1 + 0.45 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm))),
    )
    # Sort by length and cut into batches of at most `batch_tokens` (padded) tokens, so short
    # documents are not padded to the length of the long run-on passages (several times faster).
    batches: list[list[list[int]]] = [[]]
    for seq in sorted(sequences, key=len):
        if batches[-1] and len(seq) * (len(batches[-1]) + 1) > t["batch_tokens"]:
            batches.append([])
        batches[-1].append(seq)
    model.train()
    order: list[int] = []
    for step in range(1, steps + 1):
        if not order:  # new epoch: visit the batches in a fresh (seeded) order
            order = torch.randperm(len(batches), generator=gen).tolist()
        batch = batches[order.pop()]
        width = max(map(len, batch))
        ids = torch.full((len(batch), width), PAD_ID, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        for row, seq in enumerate(batch):
            ids[row, : len(seq)] = torch.tensor(seq)
            labels[row, : len(seq)] = torch.tensor(seq)
        # Right padding + causal attention: pads never influence real tokens, so no mask needed.
        logits = model(input_ids=ids).logits[:, :-1]
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1), ignore_index=-100
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), t["grad_clip"])
        opt.step()
        sched.step()
        if step % max(1, steps // 4) == 0 or step == steps:
            progress(f"training the OPT stand-in: step {step}/{steps}, loss {loss.item():.2f}")
    model.eval()


def _build_files(name: str, out: Path, progress) -> None:
    if "kind" in _recipe(name):
        from vllm_course.models import offline_encoder

        return offline_encoder.build_files(name, _recipe(name), out, progress)
    import torch
    from safetensors.torch import save_file
    from transformers import OPTConfig, OPTForCausalLM

    recipe = _recipe(name)
    docs = _sample(load_corpus(), recipe.get("corpus_sample"))
    tok = _train_tokenizer(docs, recipe["tokenizer_vocab_size"])
    max_len = recipe["max_position_embeddings"]
    _write_tokenizer(tok, out, max_len)

    # Round the embedding table up to a multiple of 64 (opt-125m: 50272 rows, 50265 tokens).
    vocab = recipe.get("vocab_size") or -(-tok.get_vocab_size() // 64) * 64
    config = _opt_config(name, recipe, vocab)
    _write_json(out / "config.json", config)
    _write_json(
        out / "generation_config.json",
        {"_from_model_config": True, "bos_token_id": EOS_ID, "eos_token_id": EOS_ID,
         "pad_token_id": PAD_ID, "transformers_version": config["transformers_version"]},
    )

    torch.manual_seed(recipe["seed"])
    hf_config = OPTConfig(**{k: v for k, v in config.items() if not k.startswith("_")})
    model = OPTForCausalLM(hf_config).float()  # init (normal, std=init_std) + training in fp32
    if recipe["train"]:
        sequences = []
        for text, eos, repeat, bos in docs:
            # A sequence starts with BOS "</s>", as the tokenizer produces for prompts, except
            # a conversation: llm.chat tokenizes the rendered template without special tokens.
            ids = tok.encode(text).ids
            seq = (ids if bos else ids[1:]) + ([EOS_ID] if eos else [])
            if len(seq) > max_len:
                raise ValueError(f"corpus document longer than {max_len} tokens: {text[:60]!r}")
            sequences += [seq] * repeat
        _train(model, recipe, sequences, progress)

    # float16 like opt-125m; the LM head is tied to the embeddings, so it is not stored.
    state = {
        k: v.detach().to(torch.float16).contiguous()
        for k, v in model.state_dict().items()
        if k != "lm_head.weight"
    }
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})


# --------------------------------------------------------------------------- build / verify


def build(name: str = "tiny", out_dir: str | Path | None = None, progress: Callable = print) -> Path:
    """Build recipe `name` into `out_dir` (default model_dir(name)), replacing what is there."""
    import torch
    import transformers

    recipe = _recipe(name)
    final = Path(out_dir) if out_dir is not None else model_dir(name)
    guard = out_dir is not None  # model_dir(name) is ours: replace whatever is there
    if guard:
        _check_replaceable(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    progress(f"building offline model {name!r} (recipe {recipe_hash(name)}) in {final}")

    # Determinism: fixed threads + deterministic kernels, restored afterwards for the caller.
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        torch.set_num_threads(recipe["threads"])
        torch.use_deterministic_algorithms(True)
        _build_files(name, tmp, progress)
        stamp = {
            "recipe": name,
            "recipe_hash": recipe_hash(name),
            "builder_version": BUILDER_VERSION,
            "torch_version": torch.__version__,
            "transformers_version": transformers.__version__,
            "files": {f: _sha256(tmp / f) for f in model_files(name)},
        }
        _write_json(tmp / STAMP_NAME, stamp)
        # mkdtemp makes the directory 0700 and safetensors writes its file 0600; make them readable.
        os.chmod(tmp, 0o755)
        for f in tmp.rglob("*"):
            os.chmod(f, 0o755 if f.is_dir() else 0o644)
        # Atomic swap: move any old build aside, rename the new one into place.
        if guard:
            _check_replaceable(final)
        if final.exists():
            os.rename(final, old)
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
            verify(final, name)  # a concurrent build won the race; keep its result if it is sound
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(det)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    progress(f"offline model {name!r} ready: {final}")
    return final


def _check_replaceable(final: Path) -> None:
    # build() deletes what it replaces: never do that to a user's directory it did not make.
    if final.exists() and not (final / STAMP_NAME).is_file() and (
        not final.is_dir() or any(final.iterdir())
    ):
        raise FileExistsError(f"{final} exists and is not an offline model build; not replacing it")


def ensure_built(name: str = "tiny", progress: Callable = print) -> Path:
    """Return model_dir(name), building it first only if it is missing or does not verify."""
    path = model_dir(name)
    try:
        verify(path, name)
        stamp = json.loads((path / STAMP_NAME).read_text(encoding="utf-8"))
        if stamp.get("recipe") == name and stamp.get("recipe_hash") == recipe_hash(name):
            return path
        progress(f"offline model {path} has a stale stamp; rebuilding")
    except OfflineModelError as e:
        if path.exists():
            progress(f"rebuilding offline model {name!r}: {e.problem}")
    built = build(name, progress=progress)
    _prune_old_builds(name, keep=built, progress=progress)
    return built


def _prune_old_builds(name: str, keep: Path, progress: Callable) -> None:
    """Delete earlier builds of recipe `name` (a recipe change leaves the old
    one behind); only folders that carry this builder's stamp for `name`."""
    for other in keep.parent.glob(f"{name}-*"):
        if other == keep or not other.is_dir():
            continue
        try:
            stamp = json.loads((other / STAMP_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if stamp.get("recipe") == name:
            shutil.rmtree(other, ignore_errors=True)
            progress(f"removed the previous build {other}")


def _fail(path: Path, expected: str, found: str) -> OfflineModelError:
    return OfflineModelError(f"{path}: expected {expected}, found {found}")


def _check_safetensors(path: Path) -> None:
    """The header must parse and describe exactly the bytes in the file (catches truncation)."""
    size = path.stat().st_size
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > size - 8:
                raise ValueError(f"header length {n} > file size {size}")
            header = json.loads(f.read(n))
        end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    except (struct.error, ValueError, KeyError, TypeError, IndexError) as e:
        raise _fail(path, "a readable safetensors header", f"an unreadable one ({e})") from None
    if 8 + n + end != size:
        raise _fail(path, f"{8 + n + end} bytes (per its header)", f"{size} bytes (truncated?)")


def verify(path: str | Path, name: str = "tiny") -> None:
    """Raise OfflineModelError unless `path` holds a complete, uncorrupted
    build of recipe `name`."""
    path = Path(path)
    if not path.is_dir():
        raise _fail(path, "an offline model directory", "no such directory")
    expected = model_files(name)
    for fname in expected + (STAMP_NAME,):
        if not (path / fname).is_file():
            raise _fail(path / fname, "a file", "no such file")
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise _fail(path / "config.json", "valid JSON", f"invalid JSON ({e})") from None
    model_type, architecture = _architecture(name)
    if not isinstance(config, dict) or config.get("model_type") != model_type or (
        architecture not in (config.get("architectures") or [])
    ):
        found = config.get("model_type") if isinstance(config, dict) else type(config).__name__
        raise _fail(path / "config.json",
                    f"a {model_type} config (model_type {model_type!r}, {architecture})",
                    f"model_type {found!r}")
    try:
        files = json.loads((path / STAMP_NAME).read_text(encoding="utf-8"))["files"]
        assert isinstance(files, dict) and set(expected) <= set(files)
    except (ValueError, KeyError, TypeError, AssertionError, UnicodeDecodeError):
        raise _fail(path / STAMP_NAME, "a build stamp listing every file's sha256",
                    "an unreadable or incomplete stamp") from None
    _check_safetensors(path / "model.safetensors")
    for fname, want in sorted(files.items()):
        got = _sha256(path / fname)
        if got != want:
            raise _fail(path / fname, f"sha256 {want[:16]}... (from the build stamp)",
                        f"sha256 {got[:16]}... (corrupt or modified)")


def main(argv: list[str] | None = None) -> int:
    import argparse

    argv = list(sys.argv[1:] if argv is None else argv)
    # Optional leading verb, as scripts/setup.sh calls it: `ensure tiny` (default) or `build tiny`.
    action = argv.pop(0) if argv and argv[0] in ("ensure", "build") else "ensure"
    p = argparse.ArgumentParser(
        prog="python -m vllm_course.models.offline_model [ensure|build]",
        description="Build the offline stand-in for facebook/opt-125m; print its directory.",
    )
    p.add_argument("name", nargs="?", default="tiny", choices=sorted(RECIPES) + ["course"],
                   help="a recipe, or 'course': every stand-in (and unseen stand-in) that "
                        "course.yaml names")
    p.add_argument("--force", action="store_true", help="rebuild even if a valid build exists")
    p.add_argument("--out", help="build into this directory instead of the cache")
    args = p.parse_args(argv)
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731 - stdout carries only the path
    if args.name == "course":
        if args.out:
            p.error("--out builds one recipe, not the whole course")
        from vllm_course.course.manifest import course

        recipes = {m.stand_in for m in course().models.values()} | \
            {m.unseen for m in course().models.values() if m.unseen}
        for recipe in sorted(recipes):
            print(build(recipe, progress=log) if action == "build" or args.force
                  else ensure_built(recipe, progress=log))
        return 0
    if action == "build" or args.force or args.out:
        path = build(args.name, out_dir=args.out, progress=log)
    else:
        path = ensure_built(args.name, progress=log)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
