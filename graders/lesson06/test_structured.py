"""Graders of lesson 6, structured outputs (points in course.yaml).

Each test takes `student` and `kit` and checks real behaviour through vLLM,
on the kit's engine for this lesson (xgrammar, compact JSON, float32: `engine`
in course.yaml). Every constrained output must conform, over several
temperatures and seeds, AND equal the kit's own constrained run of the same
prompts and settings token for token: text that conforms only because code
fixed it up after generation differs from what the constrained sampler drew.
The kit builds a fresh StructuredOutputsParams for each of its runs: vLLM
rewrites the one a request carries (a choice becomes a grammar).
"""

from typing import Literal

import pytest
from pydantic import BaseModel, Field
from vllm import SamplingParams
from vllm.sampling_params import StructuredOutputsParams

from vllm_course.grading import expect
from vllm_course.grading.checks import CountingLLM, expect_sampling_params, generate_quietly
from vllm_course.grading.compare import JSONSchemaError, fullmatch, json_loads, validate_json
from vllm_course.grading.feedback import StudentCodeError, describe_type
from vllm_course.grading.premises import establish, require

DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
LABELS = ["positive", "negative", "neutral"]
REVIEWS = ["Review: I loved every minute of it.\nSentiment:",
           "Review: The food was cold and late.\nSentiment:",
           "Review: It was fine, I guess.\nSentiment:",
           "The capital of France is", "Why do cats"]
# (temperature, seed): greedy, then sampling at two temperatures.
SETTINGS = [(0.0, None), (0.8, 1), (1.5, 3)]
# The same small grammar twice: vLLM's EBNF (GBNF) form and the Lark form.
EBNF = 'root ::= ("yes" | "no") ", because " [a-z ]+ "."'
LARK = 'start: ("yes" | "no") ", because " /[a-z ]+/ "."'
GRAMMAR_TEXT = r"(yes|no), because [a-z ]+\."
DEFAULT_MAX_TOKENS = SamplingParams().max_tokens  # what a request without max_tokens gets


class Event(BaseModel):
    city: str = Field(max_length=12)
    year: int = Field(ge=1900, le=2099)
    mood: Literal["happy", "sad", "calm"]


class Book(BaseModel):
    title: str = Field(max_length=16)
    pages: int = Field(ge=1, le=999)


def constrained(kit, prompts, temperature, seed, max_tokens=16, **constraint) -> list[str]:
    params = SamplingParams(temperature=temperature, seed=seed, max_tokens=max_tokens,
                            structured_outputs=StructuredOutputsParams(**constraint))
    return [o.outputs[0].text for o in generate_quietly(kit.llm, prompts, params)]


def expect_texts(got, n: int) -> None:
    expect(isinstance(got, list) and all(isinstance(t, str) for t in got),
           f"expected a list of str, got {describe_type(got)}")
    expect(len(got) == n, f"expected {n} texts for {n} prompts, got {len(got)}")


def setting(temperature, seed) -> str:
    return f"temperature={temperature}, seed={seed}"


@pytest.mark.exercise("choice_params")
def test_choice_params(student, kit):
    for labels, temperature, seed in ((LABELS, 0.0, None), (["yes", "no"], 0.7, 42)):
        got = student.choice_params(list(labels), temperature, seed)
        expect_sampling_params(got, temperature=temperature, seed=seed,
                               structured_outputs=StructuredOutputsParams(choice=labels))
        expect(type(got.structured_outputs) is StructuredOutputsParams,
               f"expected a StructuredOutputsParams, got {describe_type(got.structured_outputs)}")


@pytest.mark.exercise("classify")
def test_classify(student, kit):
    cases = [(REVIEWS, LABELS, t, s) for t, s in SETTINGS] + \
        [(["Is Paris in France? Answer:", "Do cats fly? Answer:"], ["yes", "no"], 1.2, 8)]
    for prompts, labels, temperature, seed in cases:
        llm = CountingLLM(kit.llm, "generate")
        with kit.reference_helpers("choice_params"):  # graded on its own
            got = student.classify(llm, list(prompts), list(labels), temperature, seed)
        expect_texts(got, len(prompts))
        llm.expect_one("generate", len(prompts), "prompts")
        stray = [t for t in got if t not in labels]
        expect(not stray, f"every label must be one of {labels}, got {stray}: let the "
                          "constraint choose")
        want = constrained(kit, prompts, temperature, seed, choice=list(labels))
        expect(got == want, f"with {setting(temperature, seed)}, expected the constrained "
                            f"run's labels {want}, got {got}")


@pytest.mark.exercise("extract_dates")
def test_extract_dates(student, kit):
    prompts = ["The meeting is on", "Born on", "Released:", "Why do cats"]
    for temperature, seed in SETTINGS:
        llm = CountingLLM(kit.llm, "generate")
        got = student.extract_dates(llm, list(prompts), temperature, seed)
        expect_texts(got, len(prompts))
        llm.expect_one("generate", len(prompts), "prompts")
        for text in got:
            expect(fullmatch(DATE, text) is not None,
                   f"{text!r} is not a whole date matching {DATE}")
        want = constrained(kit, prompts, temperature, seed, regex=DATE)
        expect(got == want, f"with {setting(temperature, seed)}, expected the constrained "
                            f"run's dates {want}, got {got}")


def check_fill_model(student, kit, prompt, model_class, settings, max_tokens):
    for temperature, seed in settings:
        got = student.fill_model(kit.llm, prompt, model_class, temperature, seed, max_tokens)
        expect(type(got) is model_class, f"expected a {model_class.__name__} (the pydantic "
                                         f"model you were given), got {describe_type(got)}")
        [text] = constrained(kit, [prompt], temperature, seed, max_tokens,
                             json=model_class.model_json_schema())
        try:
            want = model_class.model_validate_json(text)
        except ValueError:  # pydantic's ValidationError is one
            require(kit, False, f"the constrained run's JSON for {prompt!r} is whole within "
                                f"{max_tokens} tokens ({setting(temperature, seed)})")
        expect(got.model_dump() == want.model_dump(),
               f"with {setting(temperature, seed)}, expected {want!r} (the constrained "
               f"run's JSON {text}), got {got!r}")


@pytest.mark.exercise("fill_model")
def test_fill_model(student, kit):
    check_fill_model(student, kit, "An event as JSON:", Event, SETTINGS, 64)


@pytest.mark.hidden  # instructor-only in nbgrader: absent from the released notebook
@pytest.mark.exercise("fill_model")
def test_fill_model_with_another_schema(student, kit):
    check_fill_model(student, kit, "A book:", Book, [(0.0, None), (1.0, 4)], 48)


GRAMMAR_SEEDS = (1, 2, 3, 5, 8, 13, 21, 34)  # the sampled run's seed: the first whose sentences end


def sentences_end(texts) -> bool:
    """Every text is a whole sentence of the grammar (none cut off by max_tokens)."""
    return all(fullmatch(GRAMMAR_TEXT, t) is not None for t in texts)


def ending_seed(kit, prompts, grammar, temperature, max_tokens) -> int:
    def holds(seeds):
        return [sentences_end(constrained(kit, prompts, temperature, seeds[0], max_tokens,
                                          grammar=grammar))]

    return establish(kit, f"with temperature={temperature} and this seed every constrained "
                          f"sentence ends within {max_tokens} tokens", GRAMMAR_SEEDS, holds,
                     batch=1)[0]


@pytest.mark.exercise("follow_grammar")
def test_follow_grammar(student, kit):
    prompts = REVIEWS[:3]
    # Room enough for every sentence to end (established on the kit's run),
    # then too little: a constraint cut off by max_tokens is unfinished
    # (finish_reason "length"), like any output.
    sampled = (1.0, ending_seed(kit, prompts, LARK, 1.0, 48))
    for grammar, (temperature, seed), max_tokens in ((EBNF, SETTINGS[0], 32),
                                                     (LARK, sampled, 48),
                                                     (EBNF, SETTINGS[2], 6)):
        llm = CountingLLM(kit.llm, "generate")
        got = student.follow_grammar(llm, list(prompts), grammar, temperature, seed, max_tokens)
        expect_texts(got, len(prompts))
        llm.expect_one("generate", len(prompts), "prompts")
        want = constrained(kit, prompts, temperature, seed, max_tokens, grammar=grammar)
        if max_tokens > 6:
            require(kit, sentences_end(want),
                    f"with {setting(temperature, seed)} every constrained sentence ends within "
                    f"{max_tokens} tokens (the kit's run gave {want})")
        expect(got == want, f"with {setting(temperature, seed)} and max_tokens={max_tokens}, "
                            f"expected the constrained run's texts {want}, got {got}")
        if max_tokens > 6:
            for text in got:
                expect(fullmatch(GRAMMAR_TEXT, text) is not None,
                       f"{text!r} is not a sentence the grammar {grammar!r} accepts")


BOOK_SCHEMA_TEXT = ('{"type": "object", "properties": {"title": {"type": "string"}, '
                    '"pages": {"type": "integer"}}, "required": ["title", "pages"]}')
CONFORMS_CASES = [
    ("positive", {"choice": LABELS}, True),
    ("Positive", {"choice": LABELS}, False),
    ("positive!", {"choice": LABELS}, False),
    (" positive", {"choice": LABELS}, False),  # one of the choices exactly, spaces count
    ("2024-05-17", {"regex": DATE}, True),
    ("2024-05-17 was a Friday", {"regex": DATE}, False),  # re.match says yes
    ("on 2024-05-17", {"regex": DATE}, False),  # re.search says yes
    ('{"city":"Paris","year":2024,"mood":"calm"}', {"json": Event.model_json_schema()}, True),
    ('{"city": "Paris", "year": 2024, "mood": "calm"}', {"json": Event.model_json_schema()}, True),
    ('{"city":"Paris","year":1850,"mood":"calm"}', {"json": Event.model_json_schema()}, False),
    ('{"city":"Paris","year":2024}', {"json": Event.model_json_schema()}, False),
    ('{"city":"Paris","year":2024,"mood":"ca', {"json": Event.model_json_schema()}, False),
    # A schema given as a str.
    ('{"title":"Dune","pages":412}', {"json": BOOK_SCHEMA_TEXT}, True),
    ('{"title":"Dune"}', {"json": BOOK_SCHEMA_TEXT}, False),
]


@pytest.mark.exercise("conforms")
def test_conforms(student, kit):
    for text, constraint, want in CONFORMS_CASES:
        got = student.conforms(text, StructuredOutputsParams(**constraint))
        expect(type(got) is bool, f"expected True or False, got {describe_type(got)}")
        kind = next(iter(constraint))
        expect(got == want, f"conforms({text!r}, {kind}={constraint[kind]!r}): expected "
                            f"{want}, got {got}")
    try:
        got = student.conforms("yes", StructuredOutputsParams(grammar=EBNF))
    except StudentCodeError as error:
        expect(issubclass(error.raised, ValueError),
               f"a grammar constraint must raise ValueError, not {error.raised.__name__}")
    else:
        expect(False, f"a grammar constraint must raise ValueError (conforms checks only "
                      f"choice, regex and json), got {got!r}")


def kit_conforms(text: str, constraint: dict) -> bool:
    if "choice" in constraint:
        return text in constraint["choice"]
    if "regex" in constraint:
        return fullmatch(constraint["regex"], text) is not None
    try:
        validate_json(json_loads(text), constraint["json"])
    except (ValueError, JSONSchemaError):
        return False
    return True


def kit_rates(kit, prompts, constraint, temperature, seed, max_tokens):
    """The conforming fractions of the kit's free and constrained runs."""
    free = SamplingParams(temperature=temperature, seed=seed, max_tokens=max_tokens)
    runs = ([o.outputs[0].text for o in generate_quietly(kit.llm, prompts, free)],
            constrained(kit, prompts, temperature, seed, max_tokens, **constraint))
    free_rate, constrained_rate = (sum(kit_conforms(t, constraint) for t in texts) / len(prompts)
                                   for texts in runs)
    return free_rate, constrained_rate


@pytest.mark.exercise("constraint_effect")
def test_constraint_effect(student, kit):
    prompts = REVIEWS + ["An event as JSON:", "The meeting is on", "Hello, my name is"]
    # A choice (which vLLM rewrites into a grammar), a regex that free text
    # may match too, and a schema with room for a whole answer or not. That
    # some free text does conform, and that the limit given changes a rate
    # (against SamplingParams' default of 16), is established below.
    cases = [({"choice": LABELS}, 1.2, 7, 8),
             ({"regex": r"[ a-zA-Z]+"}, 1.0, 2, 6),
             ({"json": Event.model_json_schema()}, 0.5, 5, 40)]
    rates = []
    for constraint, temperature, seed, max_tokens in cases:
        with kit.reference_helpers("conforms"):  # graded on its own
            got = student.constraint_effect(kit.llm, list(prompts),
                                            StructuredOutputsParams(**constraint),
                                            temperature, seed, max_tokens)
        want = kit_rates(kit, prompts, constraint, temperature, seed, max_tokens)
        rates.append(want)
        expect(isinstance(got, tuple) and len(got) == 2,
               f"expected a tuple (unconstrained, constrained), got {describe_type(got)}")
        expect(got == want, f"with {constraint}, {setting(temperature, seed)} and "
                            f"max_tokens={max_tokens}: expected the conforming fractions "
                            f"{want} (unconstrained, constrained), got {got}")
    require(kit, any(free > 0 for free, _ in rates),
            "in some case, some unconstrained text conforms to the constraint")
    require(kit, any(kit_rates(kit, prompts, c, t, s, DEFAULT_MAX_TOKENS) != want
                     for (c, t, s, _), want in zip(cases, rates)),
            f"in some case, the rates at the max_tokens given differ from those at "
            f"{DEFAULT_MAX_TOKENS} tokens")
