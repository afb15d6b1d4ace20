"""The sandbox's allow-list (grading/visible.py), pure: what a graded child is
lent and what it keeps of the environment. The real sandbox is exercised by
the door submissions of hostile.py (test_warm_grader, test_ray_grading)."""

import os
import stat

import pytest

from vllm_course.runner import visible
from vllm_course.course.manifest import REPO_ROOT


def test_the_kit_is_lent_without_its_solutions_or_tests(tmp_path):
    hub_home = tmp_path / "hf"
    (hub_home / "hub").mkdir(parents=True)
    (hub_home / "token").write_text("hf_secret")
    listed = visible.paths(["facebook/opt-125m"], {"HF_HOME": str(hub_home)})
    kit = REPO_ROOT.resolve()
    assert str(kit / "vllm_course") in listed and str(kit / "graders") in listed
    for hidden in (kit, kit / "solutions", kit / "tests", hub_home, hub_home / "token"):
        assert str(hidden) not in listed
        assert not any(str(hidden).startswith(p + "/") for p in listed), hidden
    assert str(hub_home / "hub") in listed  # a hub id is found in the hub cache only


def test_a_home_folder_on_sys_path_is_not_lent(tmp_path, monkeypatch):
    home, site = tmp_path / "home", tmp_path / "user" / "site-packages"
    home.mkdir()
    site.mkdir(parents=True)
    monkeypatch.setattr(visible.sys, "path", [*visible.sys.path, str(home), str(site)])
    listed = visible.paths([], {})
    assert str(site) in listed
    assert not any(str(home) == p or str(home).startswith(p + "/") for p in listed), listed


def test_a_path_inside_a_listed_one_is_not_bound_twice():
    assert visible._outermost(["/usr/lib", "/usr", "/usr/local/x"]) == ["/usr"]


def test_the_environment_keeps_the_kits_variables_and_no_secret():
    grader = {"PATH": "/bin", "VLLM_COURSE_CPU_DTYPE": "float32", "HF_TOKEN": "t",
              "RAY_AUTH_TOKEN": "t", "VLLM_API_KEY": "k", "AWS_SECRET_ACCESS_KEY": "k",
              "CLASS_FOLDER": "/srv/class", "OMP_NUM_THREADS": "2"}
    kept = visible.environment(grader, {"VLLM_COURSE_MODEL": "/m"})
    assert kept["VLLM_COURSE_CPU_DTYPE"] == "float32" and kept["OMP_NUM_THREADS"] == "2"
    assert kept["VLLM_COURSE_MODEL"] == "/m" and kept["USER"] == "student"
    for gone in ("HF_TOKEN", "RAY_AUTH_TOKEN", "VLLM_API_KEY", "AWS_SECRET_ACCESS_KEY",
                 "CLASS_FOLDER"):
        assert gone not in kept


def test_an_unreadable_model_stops_the_warm_up_with_the_chmod_to_run(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    os.chmod(model / "config.json", 0o600)
    with pytest.raises(visible.NotReadable, match=r"config.json .*chmod -R o\+rX"):
        visible.check_readable([str(model)], {"VLLM_COURSE_CACHE": str(model)})
    os.chmod(model / "config.json", 0o644)
    os.chmod(model, 0o755)
    visible.check_readable([str(model)], {"VLLM_COURSE_CACHE": str(model)})


def test_vllms_private_records_are_copied_readable_and_the_rest_linked(tmp_path):
    original, snapshot = tmp_path / "vllm", tmp_path / "snapshot"
    (original / "modelinfos").mkdir(parents=True)
    (original / "modelinfos" / "opt.json").write_text("{}")
    os.chmod(original / "modelinfos" / "opt.json", 0o600)
    (original / "torch_compile_cache").mkdir()
    visible.readable_cache(str(original), str(snapshot))
    copied = snapshot / "modelinfos" / "opt.json"
    assert copied.read_text() == "{}" and stat.S_IMODE(copied.stat().st_mode) == 0o644
    assert os.readlink(snapshot / "torch_compile_cache") == str(original / "torch_compile_cache")
