"""Graders of lesson 2, by exercise (points in course.yaml).

Each test takes `student` (the submission's functions) and `kit` (the shared
engine and the kit's own references) and checks real behaviour through vLLM.
The checks of sampling_params_from_args and llm_kwargs_from_args build their
own argparse.Namespace, so a bug in the student's parser costs only
build_parser's points. The same functions grade nbgrader notebooks.
"""

import argparse
import contextlib
import io
import os
import subprocess
import sys

import pytest
from vllm import EngineArgs, SamplingParams
from vllm.exceptions import VLLMValidationError

from vllm_course.grading.compare import isclose
from vllm_course.grading import GradingFailure, expect
from vllm_course.grading.feedback import StudentCodeError, describe_type, short_repr
from vllm_course.grading.premises import establish, require

PROMPTS = [
    "Hello, my name is",
    "The president of the United States is",
    "The capital of France is",
    "The future of AI is",
]
# More candidates for the stop string and stop token checks.
EXTRA_PROMPTS = ["Once upon a time", "Paris is a city where", "My favourite food is",
                 "A seed makes sampling"]

# Every attribute of the parsed namespace: its flag and its default.
FLAGS = {
    "prompts": ("prompts", PROMPTS),
    "temperature": ("--temperature", 0.8),
    "top_p": ("--top-p", 0.95),
    "top_k": ("--top-k", 0),
    "min_p": ("--min-p", 0.0),
    "max_tokens": ("--max-tokens", 16),
    "min_tokens": ("--min-tokens", 0),
    "n": ("--n", 1),
    "seed": ("--seed", None),
    "stop": ("--stop", None),
    "stop_token_ids": ("--stop-token-id", None),
    "presence_penalty": ("--presence-penalty", 0.0),
    "frequency_penalty": ("--frequency-penalty", 0.0),
    "repetition_penalty": ("--repetition-penalty", 1.0),
    "model": ("--model", "facebook/opt-125m"),
    "dtype": ("--dtype", None),
    "max_model_len": ("--max-model-len", None),
    "engine_seed": ("--engine-seed", None),
    "enforce_eager": ("--enforce-eager", False),
    "gpu_memory_utilization": ("--gpu-memory-utilization", None),
}
DEFAULTS = {name: default for name, (_, default) in FLAGS.items()}
FLOATS = {"temperature", "top_p", "min_p", "presence_penalty", "frequency_penalty",
          "repetition_penalty", "gpu_memory_utilization"}
INTS = {"top_k", "max_tokens", "min_tokens", "n", "seed", "max_model_len", "engine_seed"}
SAMPLING_FIELDS = ["temperature", "top_p", "top_k", "min_p", "max_tokens", "min_tokens", "n",
                   "seed", "stop", "stop_token_ids", "presence_penalty", "frequency_penalty",
                   "repetition_penalty"]
MISSING_MODEL = "/nonexistent/vllm-course-no-such-model"


def namespace(**values) -> argparse.Namespace:
    """What a correct parser returns: the defaults, updated by `values`."""
    return argparse.Namespace(**dict(DEFAULTS, **values))


def run(kit, prompts, params):
    return kit.llm.generate(prompts, params, use_tqdm=False)


def greedy_completion(kit, prompt, max_tokens):
    [out] = run(kit, [prompt], SamplingParams(temperature=0, max_tokens=max_tokens))
    return out.outputs[0]


def line(prompt, text):
    return f"Prompt: {prompt!r}, Generated text: {text!r}"


def printed_lines(text):
    return [l for l in text.splitlines() if l.startswith("Prompt: ")]


@contextlib.contextmanager
def captured():
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        yield out, err


# --- build_parser ------------------------------------------------------------

def parse(student, argv):
    """(namespace or None, exit status or None, stdout, stderr) of parsing argv."""
    parser = student.build_parser()
    expect(isinstance(parser, argparse.ArgumentParser),
           f"expected an argparse.ArgumentParser, got {describe_type(parser)}")
    with captured() as (out, err):
        try:
            return parser.parse_args(argv), None, out.getvalue(), err.getvalue()
        except SystemExit as e:
            return None, e.code, out.getvalue(), err.getvalue()


def check_parsed(student, argv, want):
    args, status, _, err = parse(student, argv)
    expect(status is None, f"parsing {argv} should succeed, but the parser exited "
                           f"({status}): {err.strip()[-300:]}")
    shown = " ".join(argv) or "no arguments"
    for name, value in want.items():
        flag = FLAGS[name][0]
        expect(hasattr(args, name), f"after parsing {shown!r} the namespace has no attribute "
                                    f"{name!r} (for {flag}); it has {sorted(vars(args))}")
        got = getattr(args, name)
        if name in FLOATS and value is not None:
            ok = type(got) in (float, int) and isclose(got, value)
            kind = "a float"
        elif name in INTS and value is not None:
            ok = type(got) is int and got == value
            kind = "an int"
        elif value is None:  # no stop strings may also be an empty list
            ok = got is None or (name in ("stop", "stop_token_ids") and got == [])
            kind = "None"
        else:
            ok = got == value
            kind = type(value).__name__
        expect(ok, f"{flag}: expected args.{name} == {value!r} ({kind}), got "
                   f"{describe_type(got)}, after parsing {short_repr(shown, 100)}")


@pytest.mark.exercise("build_parser")
def test_build_parser_defaults_and_values(student, kit):
    check_parsed(student, [], DEFAULTS)
    check_parsed(student, [
        "--temperature", "0.3", "--top-p", "0.5", "--top-k", "40", "--min-p", "0.1",
        "--max-tokens", "32", "--min-tokens", "4", "--n", "3", "--seed", "7",
        "--stop", "\n", "--stop", "END", "--stop-token-id", "5", "--stop-token-id", "17",
        "--presence-penalty", "0.5", "--frequency-penalty", "-0.5",
        "--repetition-penalty", "1.2", "--model", "my-org/my-model", "--dtype", "float16",
        "--max-model-len", "256", "--engine-seed", "3", "--enforce-eager",
        "--gpu-memory-utilization", "0.5", "First prompt", "Second prompt",
    ], {
        "prompts": ["First prompt", "Second prompt"], "temperature": 0.3, "top_p": 0.5,
        "top_k": 40, "min_p": 0.1, "max_tokens": 32, "min_tokens": 4, "n": 3, "seed": 7,
        "stop": ["\n", "END"], "stop_token_ids": [5, 17], "presence_penalty": 0.5,
        "frequency_penalty": -0.5, "repetition_penalty": 1.2, "model": "my-org/my-model",
        "dtype": "float16", "max_model_len": 256, "engine_seed": 3, "enforce_eager": True,
        "gpu_memory_utilization": 0.5,
    })
    check_parsed(student, [
        "Once upon a time", "--temperature", "1", "--top-k", "1", "--max-tokens", "5",
        "--seed", "0", "--stop", ".", "--stop-token-id", "2", "--dtype", "bfloat16",
        "--engine-seed", "0",
    ], dict(DEFAULTS, prompts=["Once upon a time"], temperature=1.0, top_k=1, max_tokens=5,
            seed=0, stop=["."], stop_token_ids=[2], dtype="bfloat16", engine_seed=0))
    for dtype in ("auto", "float32", "float16", "bfloat16"):  # every choice is accepted
        check_parsed(student, ["--dtype", dtype], dict(DEFAULTS, dtype=dtype))
    # No range checks in the parser: values vLLM rejects still parse (main reports them).
    check_parsed(student, ["--temperature", "-1", "--top-p", "2", "--n", "0"],
                 dict(DEFAULTS, temperature=-1.0, top_p=2.0, n=0))


@pytest.mark.exercise("build_parser")
def test_build_parser_rejects_bad_types(student, kit):
    for argv, flag in [(["--max-tokens", "many"], "--max-tokens"),
                       (["--top-k", "2.5"], "--top-k"),
                       (["--temperature", "hot"], "--temperature"),
                       (["--stop-token-id", "x"], "--stop-token-id"),
                       (["--dtype", "int8"], "--dtype")]:
        args, status, _, err = parse(student, argv)
        expect(status == 2, f"parsing {argv} should stop with argparse's error (exit status 2), "
                            f"got {'the namespace ' + short_repr(vars(args)) if args else status}: "
                            f"give {flag} its type (or choices)")
        expect(flag in err, f"the error for {argv} should name {flag}, got {err.strip()!r}")


def help_entries(text):
    """Flag (or positional name) -> its entry in --help, on one line."""
    entries, current = {}, None
    for raw in text.splitlines():
        stripped = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        if stripped and indent == 2:  # "  --top-p TOP_P   help ..."
            current = stripped.split()[0].rstrip(",")
            entries[current] = stripped
        elif stripped and indent > 2 and current is not None:
            entries[current] += " " + stripped
        else:
            current = None
    return entries


@pytest.mark.exercise("build_parser")
def test_build_parser_help_shows_every_default(student, kit):
    defaults, _, _, _ = parse(student, [])
    expect(defaults is not None, "parsing no arguments should succeed")
    _, status, out, err = parse(student, ["--help"])
    expect(status == 0, f"--help should print the help and exit with status 0, got {status!r}")
    entries = help_entries(out)
    for name, (flag, _) in FLAGS.items():
        expect(flag in entries, f"--help does not list {flag}; it lists {sorted(entries)}")
        shown = f"(default: {getattr(defaults, name, None)})"
        expect(shown in entries[flag],
               f"--help should show {flag} with a help string and its default {shown!r}, "
               f"got {entries[flag]!r}: use formatter_class=ArgumentDefaultsHelpFormatter and "
               "give every argument help=...")


# --- sampling_params_from_args ---------------------------------------------

def params_from(student, **values):
    args = namespace(**values)
    params = student.sampling_params_from_args(args)
    expect(isinstance(params, SamplingParams),
           f"expected a vllm.SamplingParams, got {describe_type(params)}")
    return params


@pytest.mark.exercise("sampling_params_from_args")
def test_sampling_params_fields(student, kit):
    cases = [
        dict(temperature=0.7, top_p=0.9, top_k=20, min_p=0.05, max_tokens=12, min_tokens=3,
             n=3, seed=77, stop=["\n", "The"], stop_token_ids=[5, 9], presence_penalty=0.5,
             frequency_penalty=-0.25, repetition_penalty=1.1),
        dict(temperature=1.3, top_p=0.6, top_k=0, min_p=0.0, max_tokens=40, min_tokens=0, n=2,
             seed=None, stop=None, stop_token_ids=None, presence_penalty=0.0,
             frequency_penalty=1.5, repetition_penalty=0.9),
    ]
    for values in cases:
        params = params_from(student, **values)
        for name in SAMPLING_FIELDS:
            want = values[name] if values[name] is not None or name == "seed" else []
            got = getattr(params, name)
            ok = isclose(got, want) if name in FLOATS else got == want
            expect(ok, f"with args.{name} = {values[name]!r} ({FLAGS[name][0]}) expected "
                       f"SamplingParams.{name} == {want!r}, got {got!r}")
    # Out of range: SamplingParams itself says no, with vLLM's own error.
    bad = dict(cases[1], temperature=-1.0)
    try:
        got = params_from(student, **bad)
    except StudentCodeError as error:
        expect(error.raised is VLLMValidationError,
               f"with args.temperature = -1.0 expected SamplingParams' own "
               f"VLLMValidationError, got {error.raised.__name__}: let vLLM check the values")
    else:
        expect(False, f"with args.temperature = -1.0 expected SamplingParams to raise "
                      f"VLLMValidationError, got {short_repr(got)}: let vLLM check the values")


def stop_string_in(text):
    """A word of `text` (with its leading space) that first occurs after the
    start, or None."""
    for word in text.split()[2:]:
        candidate = " " + word
        if len(word) > 2 and text.index(candidate) > 0:
            return candidate
    return None


def first_new_token(ids, start=3):
    """The index of a token that does not occur earlier in ids, or None."""
    return next((i for i in range(start, len(ids)) if ids[i] not in ids[:i]), None)


def prompt_with_stop_string(kit) -> str:
    """A prompt whose 24-token greedy text holds a stop string (stop_string_in)."""
    return establish(kit, "the 24-token greedy text has a word of three letters or more after "
                          "its first two", PROMPTS + EXTRA_PROMPTS,
                     lambda ps: [stop_string_in(greedy_completion(kit, p, 24).text) is not None
                                 for p in ps])[0]


def prompt_with_new_token(kit) -> str:
    """A prompt whose 16-token greedy run has a token, from its fourth on, not
    seen before in it, and runs on past it: a stop token id that ends it early."""
    def holds(prompts):
        answers = []
        for p in prompts:
            ids = list(greedy_completion(kit, p, 16).token_ids)
            k = first_new_token(ids)
            answers.append(k is not None and k + 1 < len(ids))
        return answers

    return establish(kit, "the 16-token greedy run has a token of its own from the fourth on, "
                          "and goes on after it", PROMPTS + EXTRA_PROMPTS, holds)[0]


@pytest.mark.exercise("sampling_params_from_args")
def test_sampling_params_stop_and_length(student, kit):
    # max_tokens: greedy and cut at the limit, like the kit's own greedy run.
    params = params_from(student, temperature=0.0, max_tokens=5)
    got = [list(o.outputs[0].token_ids) for o in run(kit, PROMPTS, params)]
    expect(got == kit.greedy(PROMPTS, 5),
           f"with --temperature 0 --max-tokens 5 expected the kit's 5 greedy tokens per "
           f"prompt {kit.greedy(PROMPTS, 5)}, got {got}")

    # A stop string that the greedy text really contains ends the text just before it.
    prompt = prompt_with_stop_string(kit)
    reference = greedy_completion(kit, prompt, 24)
    stop = stop_string_in(reference.text)
    expected = reference.text[:reference.text.index(stop)]
    params = params_from(student, temperature=0.0, max_tokens=24, stop=["@@never@@", stop])
    [out] = run(kit, [prompt], params)
    c = out.outputs[0]
    expect(c.text == expected and c.stop_reason == stop,
           f"with --stop {stop!r} the greedy text should end just before it: expected "
           f"{expected!r} (stop_reason {stop!r}), got {c.text!r} (stop_reason {c.stop_reason!r})")

    # A stop token id ends the completion on that token.
    prompt = prompt_with_new_token(kit)
    ids = list(greedy_completion(kit, prompt, 16).token_ids)
    k = first_new_token(ids)
    params = params_from(student, temperature=0.0, max_tokens=16, stop_token_ids=[ids[k]])
    [out] = run(kit, [prompt], params)
    c = out.outputs[0]
    expect(list(c.token_ids) == ids[:k + 1] and c.stop_reason == ids[k],
           f"with --stop-token-id {ids[k]} generation should stop on that token: expected "
           f"token ids {ids[:k + 1]} (stop_reason {ids[k]}), got {list(c.token_ids)} "
           f"(stop_reason {c.stop_reason!r})")

    # min_tokens holds the stop token back; max_tokens still caps the length.
    low, high = k + 3, k + 6
    params = params_from(student, temperature=0.0, max_tokens=high, min_tokens=low,
                         stop_token_ids=[ids[k]])
    [out] = run(kit, [prompt], params)
    n = len(out.outputs[0].token_ids)
    expect(low <= n <= high,
           f"with --min-tokens {low} --max-tokens {high} --stop-token-id {ids[k]} expected "
           f"between {low} and {high} tokens (the stop token is held back until {low} tokens), "
           f"got {n}")


def sampled(kit, params):
    return [[list(c.token_ids) for c in o.outputs] for o in run(kit, PROMPTS, params)]


@pytest.mark.exercise("sampling_params_from_args")
def test_sampling_params_n_and_seed(student, kit):
    params = params_from(student, temperature=0.8, n=3, seed=5, max_tokens=4)
    counts = [len(o.outputs) for o in run(kit, PROMPTS[:2], params)]
    expect(counts == [3, 3], f"with --n 3 expected 3 completions per prompt, got {counts}")

    # 4 prompts x 12 samples x 24 tokens at temperature 1. Unseeded, two runs
    # draw differently; that their samples then differ is established on the
    # kit's own runs with two seeds.
    sample = dict(temperature=1.0, top_p=1.0, n=12, max_tokens=24)
    require(kit, sampled(kit, SamplingParams(seed=1, **sample))
            != sampled(kit, SamplingParams(seed=2, **sample)),
            f"sampling {PROMPTS} at temperature 1 gives other samples with another seed")
    params = params_from(student, seed=1234, **sample)
    expect(sampled(kit, params) == sampled(kit, params),
           "with --seed 1234 two runs should sample the same tokens, but they differ: pass "
           "args.seed to SamplingParams(seed=...)")
    params = params_from(student, seed=None, **sample)
    expect(sampled(kit, params) != sampled(kit, params),
           "with no --seed, two runs at temperature 1 gave the same 48 samples: the seed "
           "should be args.seed (None), not a fixed number")


# --- llm_kwargs_from_args --------------------------------------------------

@pytest.mark.exercise("llm_kwargs_from_args")
def test_llm_kwargs(student, kit):
    cases = [
        (dict(model="my-org/a-model"), {"model": "my-org/a-model"}),
        # The lesson's DEFAULT_MODEL is a flag's value like any other: always there.
        (dict(model=DEFAULTS["model"]), {"model": DEFAULTS["model"]}),
        (dict(model="my-org/a-model", seed=99, temperature=0.0),  # a sampling seed only
         {"model": "my-org/a-model"}),
        (dict(model=kit.model, dtype="float32", max_model_len=128, engine_seed=11,
              enforce_eager=True, gpu_memory_utilization=0.3),
         {"model": kit.model, "dtype": "float32", "max_model_len": 128, "seed": 11,
          "enforce_eager": True, "gpu_memory_utilization": 0.3}),
        (dict(model=kit.model, max_model_len=64, engine_seed=0, seed=5),
         {"model": kit.model, "max_model_len": 64, "seed": 0}),
    ]
    for values, want in cases:
        flags = " ".join(FLAGS[k][0] if v is True else f"{FLAGS[k][0]} {v}"
                         for k, v in values.items())
        got = student.llm_kwargs_from_args(namespace(**values))
        expect(isinstance(got, dict), f"expected a dict, got {describe_type(got)}")
        try:  # what LLM(**got) passes on to vLLM's engine arguments
            engine_args = EngineArgs(**got)
        except TypeError as e:
            raise GradingFailure(f"for {flags}, LLM(**{got}) would fail: {e}") from None
        expect(got == want, f"for {flags} expected {want}, got {got}")
        if want["model"] == kit.model:
            # vLLM accepts the values too: it builds its model config from
            # them (reading the model's config files, loading no weights).
            engine_args.create_model_config()


# --- main ------------------------------------------------------------------

# What main calls: the reference's versions stand in for them while main is
# graded in-process, so that their mistakes cost only their own points.
HELPERS = ("build_parser", "sampling_params_from_args", "llm_kwargs_from_args")


def run_main(student, kit, argv, called=None, **kwargs):
    """(exit status, stdout, stderr) of main(argv, ...): its return value, or
    the code of the SystemExit it raised. `called`, if given, gets
    (helper, return value) of each helper main calls."""
    with kit.reference_helpers(*HELPERS, returned=called), captured() as (out, err):
        try:
            status = student.main(argv, **kwargs)
        except SystemExit as e:
            status = e.code
    return status, out.getvalue(), err.getvalue()


GREEDY_FLAGS = ["--temperature", "0"]
# Three seeded samples per prompt: every completion is printed, in order.
SAMPLED_FLAGS = ["--n", "3", "--temperature", "1.0", "--top-p", "1.0", "--seed", "17"]


def expected_lines(kit, prompts, max_tokens, flags=GREEDY_FLAGS):
    values = dict(zip(flags[::2], flags[1::2]))
    params = SamplingParams(temperature=float(values["--temperature"]),
                            top_p=float(values.get("--top-p", 0.95)),
                            n=int(values.get("--n", 1)), max_tokens=max_tokens,
                            seed=int(values["--seed"]) if "--seed" in values else None)
    outs = run(kit, prompts, params)
    return [line(o.prompt, c.text) for o in outs for c in o.outputs]


def check_output(student, kit, prompts, max_tokens, flags=GREEDY_FLAGS, **kwargs):
    argv = [*flags, "--max-tokens", str(max_tokens), *prompts]
    status, out, err = run_main(student, kit, argv, **kwargs)
    expect(status == 0, f"main({argv}) should return 0, got {status!r}; stderr: "
                        f"{err.strip()[-300:]!r}")
    want, got = expected_lines(kit, prompts, max_tokens, flags), printed_lines(out)
    expect(got == want, f"main({argv}) should print one line per completion, as "
                        f"print_completions does: expected {want}, got {got}")


@pytest.mark.exercise("main")
def test_main_prints_completions(student, kit):
    check_output(student, kit, [PROMPTS[2], PROMPTS[0]], 7, llm=kit.llm)
    check_output(student, kit, ["Once upon a time"], 4, llm=kit.llm)
    check_output(student, kit, [PROMPTS[1], PROMPTS[3]], 5, SAMPLED_FLAGS, llm=kit.llm)
    status, out, _ = run_main(student, kit, ["--help"], llm=kit.llm)
    expect(status == 0 and "usage:" in out,
           f"main(['--help']) should print the help and exit with status 0, got status "
           f"{status!r} and {out[:200]!r}")


@pytest.mark.exercise("main")
def test_main_reports_invalid_values(student, kit):
    for argv, message in [
        (["--temperature", "5"], "temperature must be in [0, 2], got 5.0"),
        (["--top-p", "0"], "top_p must be in (0, 1], got 0.0"),
        (["--min-tokens", "9", "--max-tokens", "4"],
         "min_tokens must be less than or equal to max_tokens=4, got 9"),
    ]:
        try:
            status, out, err = run_main(student, kit, argv, llm=kit.llm)
        except StudentCodeError as e:
            raise GradingFailure(
                f"main({argv}) should report vLLM's error with parser.error(str(error)) "
                f"(usage, 'error: ...', exit status 2), but it raised: {e}") from None
        expect(status == 2, f"main({argv}) should exit with status 2 (parser.error), got "
                            f"{status!r}")
        expect(message in err and "usage:" in err and "Traceback" not in err,
               f"main({argv}) should print the usage and 'error: {message}...' on stderr, "
               f"got {err.strip()[-400:]!r}")

    # The sampling flags are checked before any model is loaded: this model
    # does not exist, so loading it first would fail with another error.
    argv = ["--model", MISSING_MODEL, "--temperature", "3"]
    try:
        status, _, err = run_main(student, kit, argv)
    except StudentCodeError as e:
        raise GradingFailure(
            f"main({argv}) should reject --temperature 3 before loading any model, but it "
            f"tried to load the model first: {e}") from None
    expect(status == 2 and "temperature must be in [0, 2], got 3.0" in err,
           f"main({argv}) should reject --temperature 3 (exit status 2) before loading the "
           f"model, got status {status!r} and stderr {err.strip()[-300:]!r}")


def script_env():
    # Not TQDM_DISABLE: vLLM 0.32.0's progress bar divides by its elapsed
    # time, which a disabled tqdm reports as 0 (ZeroDivisionError).
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    env["VLLM_LOGGING_LEVEL"] = "WARNING"
    return env


@pytest.mark.exercise("main")
def test_main_as_a_program(student, kit):
    prompt = "The future of AI is"
    # In-process first, so that a stub or a crash is reported on the student's line.
    check_output(student, kit, [prompt], 6, llm=kit.llm)

    # With no llm, main loads the model that --model names. This one does
    # not exist, so vLLM fails at once (loading no other engine: in this
    # process, closing a second engine would break the shared one).
    argv = ["--model", MISSING_MODEL, "--temperature", "0", prompt]
    called = []
    try:
        status, out, _ = run_main(student, kit, argv, called)
    except StudentCodeError as e:
        expect(MISSING_MODEL in str(e),
               f"main({argv}) with no llm should load LLM(**llm_kwargs_from_args(args)), "
               f"which fails for this missing model, but it failed otherwise: {e}")
        expect("llm_kwargs_from_args" in [name for name, _ in called],
               f"main({argv}) with no llm loaded the model without llm_kwargs_from_args(args): "
               "create LLM(**llm_kwargs_from_args(args)), so that every model flag applies")
    else:
        raise GradingFailure(
            f"main({argv}) with no llm should load the model --model names (which does not "
            f"exist, so loading fails), but it returned {status!r} and printed "
            f"{printed_lines(out)}: create LLM(**llm_kwargs_from_args(args)) when llm is None")

    if student.source is None:  # a notebook: there is no program file to run
        return
    [want] = expected_lines(kit, [prompt], 6)
    argv = ["--model", kit.model, "--temperature", "0", "--max-tokens", "6", prompt]
    command = [sys.executable, str(student.source), *argv]
    try:
        done = subprocess.run(command, cwd=student.source.parent, capture_output=True,
                              text=True, timeout=150, env=script_env())
    except subprocess.TimeoutExpired:
        raise GradingFailure(f"`python {student.source.name} {' '.join(argv)}` did not "
                             "finish within 150 s") from None
    got = printed_lines(done.stdout)
    expect(done.returncode == 0 and got == [want],
           f"`python {student.source.name} {' '.join(argv)}` should exit with status 0 and "
           f"print {[want]}, got status {done.returncode} and {got}; its last error output: "
           f"{done.stderr.strip()[-600:]!r}")


@pytest.mark.hidden  # instructor-only in nbgrader: absent from the released notebook
@pytest.mark.exercise("main")
def test_main_on_unseen_prompts(student, kit):
    check_output(student, kit, ["Paris is a city where", "My favourite food is",
                                "The capital of France is"], 9, llm=kit.llm)
