"""Lesson 10 exercises: beyond one prompt.

Fill in each function below. The lesson (lessons/10-beyond-one-prompt/README.md)
covers everything you need; each docstring names the section to read.
Grade your work with:  pytest exercises/lesson10

`llm` is an LLM created with enable_prefix_caching=True and
disable_log_stats=False, so that its prefix-cache counters are kept, and with
enable_lora=True (max_loras=2, max_lora_rank=8), so that requests may pick an
adapter.
"""

from vllm import LLM, SamplingParams, TokensPrompt
from vllm.lora.request import LoRARequest
from vllm.sampling_params import BeamSearchParams


def beam_params(beam_width: int, max_tokens: int, length_penalty: float = 1.0) -> BeamSearchParams:
    """Return BeamSearchParams that keep `beam_width` beams, generate at most
    `max_tokens` tokens and rank finished beams with `length_penalty`.
    Leave every other field at its default.

    Lesson section: "Beam search".
    """
    ### BEGIN SOLUTION
    return BeamSearchParams(beam_width=beam_width, max_tokens=max_tokens,
                            length_penalty=length_penalty)
    ### END SOLUTION


def beam_search(llm: LLM, prompt: str, params: BeamSearchParams) -> list[tuple[str, float]]:
    """Run ONE llm.beam_search call for `prompt` with `params`. Return one
    (completion, cumulative log-probability) pair per returned sequence, in
    the order vLLM returns them (best first). A sequence's text holds the
    prompt followed by its completion: return the completion only.

    Lesson section: "What the beams hold".
    """
    ### BEGIN SOLUTION
    [output] = llm.beam_search([{"prompt": prompt}], params)
    return [(seq.text[len(prompt):], seq.cum_logprob) for seq in output.sequences]
    ### END SOLUTION


def prefix_cache_counters(llm: LLM) -> dict[str, int]:
    """Read the engine's prefix-cache counters from llm.get_metrics(): return
    {"queries": ..., "hits": ...}, the values of the counters
    "vllm:prefix_cache_queries" and "vllm:prefix_cache_hits" (prompt tokens
    looked up in the cache, and of those the ones found). Only counters have
    a value: skip the other metrics.

    Lesson section: "Watching the cache".
    """
    ### BEGIN SOLUTION
    wanted = ("vllm:prefix_cache_queries", "vllm:prefix_cache_hits")
    values = {metric.name: metric.value for metric in llm.get_metrics() if metric.name in wanted}
    return {"queries": int(values["vllm:prefix_cache_queries"]),
            "hits": int(values["vllm:prefix_cache_hits"])}
    ### END SOLUTION


def shared_prefix_hit_rate(llm: LLM, system_prompt: str, questions: list[str]) -> float:
    """Generate one token (max_tokens=1) for every question prefixed by
    `system_prompt` (system_prompt + question), in ONE llm.generate call.
    Return the share of that call's prompt tokens that were found in the
    prefix cache: its hits divided by its queries (the counters' growth
    during the call, not their totals since the engine started).

    Lesson section: "A shared system prompt".
    """
    ### BEGIN SOLUTION
    before = prefix_cache_counters(llm)
    llm.generate([system_prompt + q for q in questions], SamplingParams(max_tokens=1),
                 use_tqdm=False)
    after = prefix_cache_counters(llm)
    queries = after["queries"] - before["queries"]
    return (after["hits"] - before["hits"]) / queries
    ### END SOLUTION


def first_token_matters(llm: LLM, prompt_token_ids: list[int], other: int) -> tuple[int, int]:
    """Generate one token (max_tokens=1) three times, one llm.generate call
    each, from TokensPrompt(prompt_token_ids=...):
      1. `prompt_token_ids` (this fills the cache);
      2. `prompt_token_ids` again;
      3. `prompt_token_ids` with its first token replaced by `other`.
    Return (the cache hits of call 2, the cache hits of call 3). Leave the
    caller's list as it was.

    Lesson section: "Only a shared beginning is shared".
    """
    ### BEGIN SOLUTION
    changed = [other, *prompt_token_ids[1:]]
    hits = []
    for ids in (prompt_token_ids, prompt_token_ids, changed):
        before = prefix_cache_counters(llm)["hits"]
        llm.generate([TokensPrompt(prompt_token_ids=list(ids))], SamplingParams(max_tokens=1),
                     use_tqdm=False)
        hits.append(prefix_cache_counters(llm)["hits"] - before)
    return hits[1], hits[2]
    ### END SOLUTION


def kv_cache_tokens(llm: LLM) -> int:
    """How many tokens the engine's KV cache holds: its number of blocks
    times the tokens per block, both read from the engine's cache config
    (llm.llm_engine.vllm_config.cache_config).

    Lesson section: "How many tokens the cache holds".
    """
    ### BEGIN SOLUTION
    cache = llm.llm_engine.vllm_config.cache_config
    return cache.num_gpu_blocks * cache.block_size
    ### END SOLUTION


def prompt_budget(llm: LLM, prompt: str) -> int:
    """How many tokens the engine can still generate after `prompt`: the
    engine's max_model_len (llm.model_config.max_model_len, not the model's
    own limit) minus the prompt's token count, as the engine counts it (the
    tokenizer's ids, the start token included). A result of 0 or less means
    vLLM refuses the prompt.

    Lesson section: "max_model_len".
    """
    ### BEGIN SOLUTION
    tokens = llm.get_tokenizer()(prompt).input_ids
    return llm.model_config.max_model_len - len(tokens)
    ### END SOLUTION


def adapter_requests(adapters: list[str | None]) -> list[LoRARequest | None]:
    """One entry per entry of `adapters`, in order: None stays None (the base
    model); a folder becomes a LoRARequest whose lora_path is that folder.
    Give each distinct folder its own lora_int_id, counting 1, 2, ... in the
    order folders first appear, and the same request to every entry of the
    same folder. Any lora_name will do. Leave the caller's list as it was.

    Lesson section: "LoRA adapters".
    """
    ### BEGIN SOLUTION
    requests: dict[str, LoRARequest] = {}
    for folder in adapters:
        if folder is not None and folder not in requests:
            number = len(requests) + 1
            requests[folder] = LoRARequest(f"adapter-{number}", number, folder)
    return [None if folder is None else requests[folder] for folder in adapters]
    ### END SOLUTION


def generate_with_adapters(llm: LLM, prompts: list[str], adapters: list[str | None],
                           max_tokens: int) -> list[str]:
    """Generate greedily (temperature=0, at most `max_tokens` tokens) for every
    prompt in ONE llm.generate call, prompts[i] with the adapter in folder
    adapters[i] (None: the base model), the requests made by
    adapter_requests. Return the completions' texts in prompt order.

    Lesson section: "Two adapters and the base model in one batch".
    """
    ### BEGIN SOLUTION
    outputs = llm.generate(prompts, SamplingParams(temperature=0, max_tokens=max_tokens),
                           lora_request=adapter_requests(adapters), use_tqdm=False)
    return [output.outputs[0].text for output in outputs]
    ### END SOLUTION
