"""The practice LoRA adapters of lesson 10 (vllm_course/models/lora_adapters.py).

That vLLM serves them, and that they change what the model says, is checked
by lesson 10's code blocks and graders on the real engine; here, what the
builder promises about the folders it leaves."""

import json
import os
import stat
from pathlib import Path

import pytest

from vllm_course.models.lora_adapters import (RECIPES, STAMP_NAME, AdapterError, adapter_dir,
                                       practice_adapter)
from vllm_course.models.model_resolution import resolve


def test_each_adapter_is_a_whole_peft_folder_readable_by_sandboxed_graders():
    model = resolve().model
    for name in RECIPES:
        folder = practice_adapter(name, model)
        assert sorted(os.listdir(folder)) == ["adapter_config.json", "adapter_model.safetensors",
                                              STAMP_NAME]
        config = json.loads(open(os.path.join(folder, "adapter_config.json")).read())
        assert config["peft_type"] == "LORA" and config["r"] == 8
        for entry in [folder, *(os.path.join(folder, f) for f in os.listdir(folder))]:
            assert os.stat(entry).st_mode & stat.S_IROTH, f"{entry} is not readable by others"
        assert practice_adapter(name, model) == folder  # built once, then found


def test_an_adapter_belongs_to_one_model(tmp_path):
    model = resolve().model
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text('{"model_type": "opt", "hidden_size": 64}')
    assert adapter_dir("cat", other) != adapter_dir("cat", Path(model))
    assert adapter_dir("cat", other) != adapter_dir("sky", other)


def test_an_unknown_adapter_is_named_with_the_known_ones():
    with pytest.raises(AdapterError, match="no practice adapter 'dog': there are cat, sky"):
        practice_adapter("dog")
