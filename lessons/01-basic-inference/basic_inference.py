"""Lesson 1 walkthrough: basic offline inference with vLLM.

Loads a model, generates a short completion for four prompts in one batch and
prints each prompt with its generated text. Run it from the repository root:

    python lessons/01-basic-inference/basic_inference.py

The model comes from the kit (`course model` says which one and why): the real
facebook/opt-125m when it is available, otherwise the kit's offline stand-in.
On a GPU machine with the real model you would simply write
LLM(model="facebook/opt-125m").
"""

from vllm import LLM, SamplingParams

from vllm_course.models.model_resolution import resolve

# A batch of prompts: vLLM generates all of them together.
PROMPTS = [
    "Hello, my name is",
    "The president of the United States is",
    "The capital of France is",
    "The future of AI is",
]


def main() -> None:
    # How to sample: temperature 0.8 (below 1) makes likely tokens a little
    # more likely; top_p 0.95 samples only among the most likely tokens that
    # make up 95% of the probability. max_tokens stays at its default: 16.
    sampling_params = SamplingParams(temperature=0.8, top_p=0.95)

    # Which model: facebook/opt-125m if it is cached or downloadable,
    # otherwise the kit's offline stand-in (the notice says so).
    chosen = resolve()
    if chosen.notice:
        print(chosen.notice)

    # Load the model once: weights, tokenizer, KV cache and the engine.
    llm = LLM(model=chosen.model)

    # Generate for every prompt in one call; outputs come back in prompt order.
    outputs = llm.generate(PROMPTS, sampling_params)

    # Each RequestOutput holds the prompt and its completions (one by default).
    for output in outputs:
        prompt = output.prompt
        generated_text = output.outputs[0].text
        print(f"Prompt: {prompt!r}, Generated text: {generated_text!r}")


# Run main() only when this file is executed as a script, not when a process
# that vLLM spawns imports it again (see the lesson's "__main__ guard" part).
if __name__ == "__main__":
    main()
