"""Lesson 6 walkthrough: three kinds of constrained output from one engine.

Labels each prompt on the command line with one of --labels, then writes a
date (a regex) and an event (a JSON schema from a pydantic model) for the
first prompt. Run it from the repository root:

    python lessons/06-structured-outputs/structured_demo.py "Review: I loved every minute of it.\\nSentiment:"

The model comes from the kit (`course model` says which one and why).
"""

import argparse
from typing import Literal

from pydantic import BaseModel, Field
from vllm import LLM, SamplingParams
from vllm.sampling_params import StructuredOutputsParams

from vllm_course.models.model_resolution import resolve

DATE_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"


class Event(BaseModel):
    city: str = Field(max_length=12)
    year: int = Field(ge=1900, le=2099)
    mood: Literal["happy", "sad", "calm"]


def constrained(llm, prompts, temperature, max_tokens=64, **constraint) -> list:
    params = SamplingParams(temperature=temperature, seed=0, max_tokens=max_tokens,
                            structured_outputs=StructuredOutputsParams(**constraint))
    return [o.outputs[0] for o in llm.generate(prompts, params, use_tqdm=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prompts", nargs="*",
                        default=["Review: I loved every minute of it.\\nSentiment:"],
                        help=r"prompts to label; \n in a prompt is a new line")
    parser.add_argument("--labels", nargs="+", default=["positive", "negative", "neutral"])
    parser.add_argument("--temperature", type=float, default=0.0)
    args = parser.parse_args()
    prompts = [p.replace("\\n", "\n") for p in args.prompts]

    chosen = resolve()
    if chosen.notice:
        print(chosen.notice)
    # Compact JSON: a small model otherwise fills max_tokens with whitespace.
    llm = LLM(model=chosen.model,
              structured_outputs_config={"backend": "xgrammar", "disable_any_whitespace": True})

    for prompt, out in zip(prompts, constrained(llm, prompts, args.temperature,
                                                choice=args.labels)):
        print(f"{prompt!r} -> {out.text}")
    [date] = constrained(llm, prompts[:1], args.temperature, regex=DATE_PATTERN)
    print(f"a date: {date.text}")
    [event] = constrained(llm, prompts[:1], args.temperature, json=Event.model_json_schema())
    if event.finish_reason == "length":
        print(f"the JSON was cut off by max_tokens: {event.text}")
    else:
        print(f"an event: {Event.model_validate_json(event.text)!r}")


# Run main() only when this file is executed as a script (see lesson 1).
if __name__ == "__main__":
    main()
