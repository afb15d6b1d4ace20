"""Which model a lesson runs on, and why.

For each model of course.yaml (facebook/opt-125m for text; the pooling
models of lessons 7 and 8), in order: its environment variable
(VLLM_COURSE_MODEL for the text model; a hub id or a local folder); else the
real model when it is in the local Hugging Face cache or can be downloaded
within a short, bounded time; else the kit's offline stand-in for it, built
locally, with a one-line notice saying why and how to get the real one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MODEL_ENV = "VLLM_COURSE_MODEL"
TIMEOUT_ENV = "VLLM_COURSE_DOWNLOAD_TIMEOUT"  # seconds; 0 disables the download
DEFAULT_DOWNLOAD_TIMEOUT = 60
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# What vLLM needs of an OPT checkpoint; the TF/Flax weights are skipped.
_DOWNLOAD_PATTERNS = ["*.json", "*.txt", "*.safetensors", "*.bin", "*.model"]


class ModelResolutionError(RuntimeError):
    pass


@dataclass(frozen=True)
class ResolvedModel:
    model: str  # what to pass to LLM(model=...): a local folder or a hub id
    name: str  # what to call it in messages
    source: str  # "env", "hf-cache", "download" or "offline"
    reason: str
    notice: str | None = None  # printed once when the fallback is taken


def _looks_like_path(value: str) -> bool:
    # Hub ids are owner/name: one slash, no leading dot, slash or tilde.
    return value.startswith((".", "/", "~")) or value.count("/") > 1 or Path(value).exists()


def _check_local_model(folder: Path, origin: str, env: str = MODEL_ENV) -> None:
    if not folder.is_dir():
        raise ModelResolutionError(
            f"{origin}: {folder} is not a folder. Expected a hub id such as "
            "facebook/opt-125m or a local model folder holding config.json; "
            f"unset {env} to let the kit choose."
        )
    if not (folder / "config.json").is_file():
        raise ModelResolutionError(
            f"{origin}: {folder} has no config.json, so it is not a Hugging Face "
            "model folder. Point it at the folder that holds config.json and the "
            f"weights, or unset {env}."
        )


def hub_cache() -> Path:
    """The Hugging Face cache folder, read from the environment now (the hub
    library reads it once, at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface")
    return Path(home) / "hub"


def cached_snapshot(repo_id: str) -> Path | None:
    """The local snapshot folder of repo_id if its config and weights are cached."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, local_files_only=True, cache_dir=hub_cache()))
    except Exception:
        return None
    has_weights = any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))
    return folder if (folder / "config.json").is_file() and has_weights else None


def try_download(repo_id: str, timeout: float) -> tuple[Path | None, str]:
    """Download repo_id in a child process, killed after `timeout` seconds."""
    if timeout <= 0:
        return None, f"downloads are off ({TIMEOUT_ENV}=0)"
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        return None, "HF_HUB_OFFLINE is set"
    code = (
        "import sys\nfrom huggingface_hub import snapshot_download\n"
        f"print(snapshot_download({repo_id!r}, allow_patterns={_DOWNLOAD_PATTERNS!r}))"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return None, f"the download did not finish within {timeout:g} s"
    if done.returncode != 0:
        err = done.stderr
        if any(s in err for s in ("locate the files on the Hub", "Connection", "resolve", "Network")):
            return None, "the Hugging Face Hub could not be reached (no network?)"
        last = (err.strip().splitlines() or ["unknown error"])[-1]
        return None, f"the download failed ({last[:160]})"
    return cached_snapshot(repo_id), "downloaded"


def _download_timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        return float(raw) if raw else DEFAULT_DOWNLOAD_TIMEOUT
    except ValueError:
        raise ModelResolutionError(
            f"{TIMEOUT_ENV}={raw!r} is not a number of seconds (e.g. 60, or 0 for no download)"
        ) from None


def _spec(model):
    """The course.yaml entry of `model`: None (the default model), a hub id, or an entry."""
    from vllm_course.course.manifest import Model, course

    if isinstance(model, Model):
        return model
    c = course()
    name = c.default_model if model is None else model
    if name in c.models:
        return c.models[name]
    return Model(name, "tiny", MODEL_ENV)  # a text model the course does not list


def resolve(model=None, progress=None) -> ResolvedModel:
    """Decide the model that stands for `model` (a hub id or a manifest Model;
    default: the course's default model); build its offline stand-in if that
    is the choice."""
    spec = _spec(model)
    default_model, env = spec.name, spec.env

    chosen = os.environ.get(env, "").strip()
    if chosen:
        origin = f"{env}={chosen}"
        if _looks_like_path(chosen):
            folder = Path(chosen).expanduser().resolve()
            _check_local_model(folder, origin, env)
            return ResolvedModel(str(folder), str(folder), "env", f"set by {env}")
        if not _HUB_ID.match(chosen):
            raise ModelResolutionError(
                f"{origin}: not a hub id (owner/name, e.g. facebook/opt-125m) and no "
                "such local folder. Fix the value or unset it."
            )
        snapshot = cached_snapshot(chosen)
        if snapshot is None:
            snapshot, why = try_download(chosen, _download_timeout())
            if snapshot is None:
                raise ModelResolutionError(
                    f"{origin}: not in the local Hugging Face cache and {why}. "
                    f"Run `hf download {chosen}` where there is network, or unset {env}."
                )
        return ResolvedModel(str(snapshot), chosen, "env", f"set by {env}")

    snapshot = cached_snapshot(default_model)
    if snapshot is not None:
        return ResolvedModel(str(snapshot), default_model, "hf-cache",
                             "found in the local Hugging Face cache")
    snapshot, why = try_download(default_model, _download_timeout())
    if snapshot is not None:
        return ResolvedModel(str(snapshot), default_model, "download", "downloaded just now")

    from vllm_course.models import offline_model

    folder = offline_model.ensure_built(spec.stand_in, progress=progress or (lambda *_: None))
    offline_model.verify(folder, spec.stand_in)
    reason = f"{default_model} is not in the local Hugging Face cache and {why}"
    notice = (
        f"vllm_course: using the offline stand-in for {default_model} (same architecture, "
        f"tiny) because "
        f"{reason}. For the real one: `hf download {default_model}`."
    )
    return ResolvedModel(str(folder), "offline stand-in for " + default_model, "offline",
                         reason, notice)
