"""Lesson 6 exercises: structured outputs.

Fill in each function below. The lesson (lessons/06-structured-outputs/README.md)
covers everything you need; each docstring names the section to read.
Grade your work with:  pytest exercises/lesson06

Every `llm` you are given was created for structured outputs, as the lesson's
"An engine for structured outputs" shows:
    LLM(model=..., structured_outputs_config={"backend": "xgrammar",
                                              "disable_any_whitespace": True})
"""

import copy
import json
import re

import jsonschema
from pydantic import BaseModel
from vllm import LLM, SamplingParams
from vllm.sampling_params import StructuredOutputsParams

# An ISO date such as 2024-05-17. [0-9], not \d: in some backends \d also
# matches the digits of other scripts.
DATE_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"


def choice_params(labels: list[str], temperature: float = 0.0,
                  seed: int | None = None) -> SamplingParams:
    """Return SamplingParams whose output must be exactly one of `labels`
    (StructuredOutputsParams with choice=labels), with the given temperature
    and seed. Leave every other field at vLLM's default.

    Lesson section: "Choosing from a fixed set".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def classify(llm: LLM, prompts: list[str], labels: list[str], temperature: float = 0.0,
             seed: int | None = None) -> list[str]:
    """Label each prompt with one of `labels`: ONE llm.generate call with
    choice_params(labels, temperature, seed). Return the generated labels,
    in the order of `prompts`.

    Lesson section: "Choosing from a fixed set".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def extract_dates(llm: LLM, prompts: list[str], temperature: float = 0.0,
                  seed: int | None = None) -> list[str]:
    """Continue each prompt with a date that fully matches DATE_PATTERN: ONE
    llm.generate call, constrained with regex=DATE_PATTERN, with the given
    temperature and seed. Return the dates, in the order of `prompts`.

    Lesson section: "Matching a regular expression".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def fill_model(llm: LLM, prompt: str, model_class: type[BaseModel], temperature: float = 0.0,
               seed: int | None = None, max_tokens: int = 96) -> BaseModel:
    """Generate JSON for `prompt` constrained by the JSON schema of
    `model_class` (a pydantic model), with the given temperature, seed and
    max_tokens, and return it parsed and validated as a `model_class`.

    Lesson section: "JSON that follows a schema".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def follow_grammar(llm: LLM, prompts: list[str], grammar: str, temperature: float = 0.0,
                   seed: int | None = None, max_tokens: int = 32) -> list[str]:
    """Continue each prompt with text that the context-free `grammar` (EBNF
    or Lark, as vLLM takes it) accepts: ONE llm.generate call with the given
    temperature, seed and max_tokens. Return the texts, in the order of
    `prompts`.

    Lesson section: "A grammar of your own".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def conforms(text: str, constraint: StructuredOutputsParams) -> bool:
    """Whether `text` satisfies `constraint`, checked in plain Python:
    - choice: `text` is exactly one of the choices (case and spaces count);
    - regex: the whole of `text` matches the pattern (re.fullmatch);
    - json: `text` is JSON that validates against the schema (a dict, or
      a str holding one), with jsonschema.validate.
    Any other kind of constraint: raise ValueError naming it.

    Lesson section: "Checking an output yourself".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def constraint_effect(llm: LLM, prompts: list[str], constraint: StructuredOutputsParams,
                      temperature: float, seed: int, max_tokens: int) -> tuple[float, float]:
    """Generate for `prompts` twice, with the same temperature, seed and
    max_tokens: once without a constraint, once with `constraint`. Return
    the fraction of outputs that conform (by conforms) in each run:
    (unconstrained, constrained). Give llm.generate a copy of `constraint`
    (copy.deepcopy): vLLM rewrites the one it is given (a choice becomes a
    grammar), and conforms must still see the original.

    Lesson section: "Does the constraint do the work?".
    """
    # YOUR CODE HERE
    raise NotImplementedError()
