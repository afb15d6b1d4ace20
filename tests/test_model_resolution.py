"""Model resolution: env first, then the HF cache or a bounded download, then offline."""

import json
import shutil
import subprocess
import sys

import pytest

from vllm_course.models import model_resolution as mr
from vllm_course.models import offline_model


@pytest.fixture(autouse=True)
def empty_hf_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.delenv(mr.MODEL_ENV, raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv(mr.TIMEOUT_ENV, "10")


def fake_cached_snapshot(tmp_path, repo="facebook/opt-125m"):
    """The on-disk layout huggingface_hub uses for a cached repo."""
    root = tmp_path / "hf" / "hub" / ("models--" + repo.replace("/", "--"))
    snap = root / "snapshots" / ("a" * 40)
    snap.mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text("a" * 40)
    (snap / "config.json").write_text(json.dumps({"model_type": "opt"}))
    (snap / "model.safetensors").write_bytes(b"x")
    return snap


def test_env_local_folder_is_used(offline_model_path, monkeypatch):
    monkeypatch.setenv(mr.MODEL_ENV, offline_model_path)
    chosen = mr.resolve("facebook/opt-125m")
    assert chosen.source == "env" and chosen.model == offline_model_path


def test_env_unknown_path_is_a_clear_error(tmp_path, monkeypatch):
    missing = tmp_path / "no" / "such-model"
    monkeypatch.setenv(mr.MODEL_ENV, str(missing))
    with pytest.raises(mr.ModelResolutionError) as e:
        mr.resolve("facebook/opt-125m")
    assert mr.MODEL_ENV in str(e.value) and str(missing) in str(e.value)
    assert "config.json" in str(e.value)


def test_env_folder_without_config_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(mr.MODEL_ENV, str(tmp_path))
    with pytest.raises(mr.ModelResolutionError, match="no config.json"):
        mr.resolve("facebook/opt-125m")


def test_env_hub_id_not_cached_and_not_downloadable(monkeypatch):
    monkeypatch.setenv(mr.MODEL_ENV, "someone/not-a-real-model")
    with pytest.raises(mr.ModelResolutionError, match="hf download someone/not-a-real-model"):
        mr.resolve("facebook/opt-125m")


def test_cached_default_model_is_preferred(tmp_path):
    snap = fake_cached_snapshot(tmp_path)
    chosen = mr.resolve("facebook/opt-125m")
    assert chosen.source == "hf-cache" and chosen.model == str(snap)
    assert chosen.notice is None


def test_offline_fallback_says_why_and_what_to_do(offline_model_path):
    chosen = mr.resolve("facebook/opt-125m")  # nothing cached; no network here
    assert chosen.source == "offline"
    assert chosen.model == offline_model_path
    assert "hf download facebook/opt-125m" in chosen.notice
    assert "\n" not in chosen.notice


def test_download_is_time_bounded(monkeypatch):
    monkeypatch.setenv(mr.TIMEOUT_ENV, "0")
    path, why = mr.try_download("facebook/opt-125m", 0)
    assert path is None and "off" in why
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path, why = mr.try_download("facebook/opt-125m", 30)
    assert path is None and "HF_HUB_OFFLINE" in why


def test_bad_timeout_value(monkeypatch):
    monkeypatch.setenv(mr.TIMEOUT_ENV, "soon")
    with pytest.raises(mr.ModelResolutionError, match=f"{mr.TIMEOUT_ENV}='soon'"):
        mr.resolve("facebook/opt-125m")


def test_course_model_command(stand_ins, monkeypatch):
    done = subprocess.run([sys.executable, "-m", "vllm_course.cli", "model"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    # One block per model of course.yaml, each with its stand-in and its variable.
    blocks = done.stdout.strip().split("\n\n")
    assert len(blocks) == len(stand_ins)
    for block, (name, (env, path)) in zip(blocks, stand_ins.items()):
        assert "source: offline" in block and path in block, block
        assert f"hf download {name}" in block and env in block, block


def test_course_model_command_reports_bad_env(tmp_path, monkeypatch):
    monkeypatch.setenv(mr.MODEL_ENV, str(tmp_path / "missing"))
    done = subprocess.run([sys.executable, "-m", "vllm_course.cli", "model"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "course model:" in done.stderr and "missing" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("recipe", ["tiny", "minilm-embed"])
def test_corrupt_offline_model_is_a_clear_error(recipe, stand_ins, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(offline_model.ensure_built(recipe), broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(offline_model.OfflineModelError) as e:
        offline_model.verify(broken, recipe)
    assert "model.safetensors" in str(e.value) and "make setup" in str(e.value)


def test_a_missing_stand_in_file_is_named(stand_ins, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(offline_model.ensure_built("minilm-embed"), broken)
    (broken / "1_Pooling" / "config.json").unlink()  # vLLM would silently pool otherwise
    with pytest.raises(offline_model.OfflineModelError, match="1_Pooling/config.json"):
        offline_model.verify(broken, "minilm-embed")


def test_each_model_has_its_own_variable(stand_ins, monkeypatch, tmp_path):
    from vllm_course.course.manifest import course

    spec = course().models["sentence-transformers/all-MiniLM-L6-v2"]
    monkeypatch.setenv(spec.env, str(tmp_path / "missing"))
    with pytest.raises(mr.ModelResolutionError, match=spec.env):
        mr.resolve(spec)
    # The text model is not affected.
    assert mr.resolve("facebook/opt-125m").source != "env"


def test_a_new_build_replaces_older_builds_of_the_same_recipe(tmp_path, monkeypatch,
                                                              offline_model_path):
    monkeypatch.setenv("VLLM_COURSE_CACHE", str(tmp_path / "cache"))
    models = tmp_path / "cache" / "models"
    old = models / "tiny-000000000000"
    shutil.copytree(offline_model_path, old)  # a build of an earlier recipe
    stranger = models / "tiny-notes"
    stranger.mkdir()  # not ours: no stamp, never touched
    shutil.copytree(offline_model_path, offline_model.model_dir("tiny"))
    # The current build is in place: nothing to build, nothing removed.
    assert offline_model.ensure_built("tiny", progress=lambda *_: None) == offline_model.model_dir("tiny")
    assert old.exists()
    shutil.rmtree(offline_model.model_dir("tiny"))
    lines = []
    offline_model.ensure_built("tiny", progress=lines.append)  # builds (about 25 s)
    assert not old.exists() and stranger.exists()
    assert any("removed the previous build" in l for l in lines)
