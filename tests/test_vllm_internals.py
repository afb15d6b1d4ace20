"""Each private vLLM or torch fact the kit reads (vllm_course/runtime/vllm_internals.py)
still exists and means what the kit assumes, on the installed release."""

from vllm import SamplingParams

from vllm_course.runtime import vllm_internals as internals


def test_request_counts_and_the_loaded_model(offline_llm, offline_model_path):
    before = internals.submitted_requests(offline_llm)
    offline_llm.generate(["a", "b"], SamplingParams(max_tokens=1), use_tqdm=False)
    assert internals.submitted_requests(offline_llm) == before + 2
    assert internals.unfinished_requests(offline_llm) == 0
    assert internals.loaded_model(offline_llm) == offline_model_path


def test_context_length_is_the_models_own_by_default(offline_llm, offline_model_path):
    from vllm import EngineArgs

    own = EngineArgs(model=offline_model_path).create_model_config().max_model_len
    assert internals.context_length(offline_llm) == own > 64


def test_vllm_knows_its_accelerators():
    detectors = internals.accelerator_detectors()
    assert {"cuda", "cpu"} <= set(detectors) and all(callable(d) for d in detectors.values())


def test_the_stock_memory_share_is_vllms_default():
    from vllm import EngineArgs

    assert internals.stock_gpu_memory_utilization() == EngineArgs.gpu_memory_utilization
    assert 0 < internals.stock_gpu_memory_utilization() <= 1


def test_model_config_names_the_runner(offline_llm):
    config = internals.model_config(offline_llm)
    assert config.runner_type == "generate" and config.get_hidden_size() == 128
