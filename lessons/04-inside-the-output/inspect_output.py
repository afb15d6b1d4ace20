"""Lesson 4 walkthrough: what vLLM returns besides the text.

Prints a token-by-token table of a greedy completion (token id, text piece,
logprob, rank and the most likely alternatives), why the completion stopped,
and the perplexity of a few sentences. Run it from the repository root:

    python lessons/04-inside-the-output/inspect_output.py

The model comes from the kit (`course model` says which one and why).
"""

import math

from vllm import LLM, SamplingParams

from vllm_course.models.model_resolution import resolve

PROMPT = "The capital of France is"
TOP_K = 3  # alternatives shown per generated token

# Fluent sentences, then the same words in a shuffled order.
SENTENCES = [
    "The capital of France is Paris.",
    "is of capital The Paris France.",
    "Memory is often the real limit when serving a model.",
    "serving a is limit the real often Memory model when.",
]


def print_token_table(completion) -> None:
    """One row per generated token: id, text piece, logprob, rank, top alternatives."""
    print(f"{'pos':>3}  {'id':>5}  {'token':14} {'logprob':>8} {'rank':>4}  top {TOP_K}")
    for position, (token_id, step) in enumerate(zip(completion.token_ids, completion.logprobs)):
        chosen = step[token_id]
        # The dict holds the generated token first, then the top k: sort by rank.
        top = sorted((lp for lp in step.values() if lp.rank <= TOP_K), key=lambda lp: lp.rank)
        alternatives = ", ".join(f"{lp.decoded_token!r} {lp.logprob:.2f}" for lp in top)
        print(f"{position:>3}  {token_id:>5}  {chosen.decoded_token!r:14} "
              f"{chosen.logprob:>8.3f} {chosen.rank:>4}  {alternatives}")


def perplexities(llm: LLM, texts: list[str]) -> list[float]:
    """exp(-mean logprob of each text's tokens after the start token)."""
    params = SamplingParams(max_tokens=1, prompt_logprobs=0)
    results = []
    for output in llm.generate(texts, params, use_tqdm=False):
        # Entry 0 is None: nothing comes before the start token.
        logprobs = [step[token_id].logprob for step, token_id
                    in zip(output.prompt_logprobs[1:], output.prompt_token_ids[1:])]
        results.append(math.exp(-sum(logprobs) / len(logprobs)))
    return results


def main() -> None:
    chosen = resolve()
    if chosen.notice:
        print(chosen.notice)
    llm = LLM(model=chosen.model)

    # Greedy, with the logprobs of the top TOP_K tokens at every step.
    params = SamplingParams(temperature=0, max_tokens=12, logprobs=TOP_K)
    output = llm.generate(PROMPT, params, use_tqdm=False)[0]
    completion = output.outputs[0]
    print(f"prompt {PROMPT!r} -> ids {list(output.prompt_token_ids)}")
    print(f"text   {completion.text!r}\n")
    print_token_table(completion)
    print(f"\ncumulative_logprob {completion.cumulative_logprob:.3f}, "
          f"finish_reason {completion.finish_reason!r}, stop_reason {completion.stop_reason!r}\n")

    for text, value in zip(SENTENCES, perplexities(llm, SENTENCES)):
        print(f"perplexity {value:10.2f}  {text!r}")


# Run main() only when this file is executed as a script (see lesson 1).
if __name__ == "__main__":
    main()
