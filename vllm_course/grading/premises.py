"""Premises about what the model does, established on the engine that grades.

A check often needs an input with some property on the model that answers:
a prompt whose greedy run goes on to max_tokens, one whose run stops early on
the end token, one whose seeded samples differ. Such properties change with
the model, the dtype and the CPU, so no grader assumes them: it names the
property and its candidate inputs, and `establish` keeps the candidates on
which the kit's own run, on the same engine, shows it. When too few hold, the
check ends as a kit error (feedback.KitError) naming the premise and the
model: never a pass, never counted as the student's failure.

Premises are established once per grading session (kit.premises): greedy runs
and seeded samples repeat on one engine, so every check of a session, and
every submission graded on the same engine, sees the same inputs. The warm
grader establishes them once per class run: its warm-up grades the reference
(trusted) and `exported` hands what it found to the parent, which `seed`s
every child it forks (the same engine settings and model, so the same answers).
"""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

from vllm_course.grading.feedback import KitError, short_repr

T = TypeVar("T")


def establish(kit, premise: str, candidates: Sequence[T],
              holds: Callable[[list[T]], list[bool]], need: int = 1,
              batch: int | None = None) -> list[T]:
    """The first `need` candidates, in their order, on which `premise` holds.

    `holds(some)` answers for a list of candidates with one bool each: for
    all of them at once (one batched run of the kit's), or `batch` at a time,
    in order, until `need` hold (when the check runs each input alone: a
    batch can change a greedy run's last digits). `premise` names the property,
    e.g. "the greedy run goes to 12 tokens". Raises KitError when fewer than
    `need` hold.
    """
    key = (premise, repr(list(candidates)), need)
    if key not in kit.premises:
        size = batch or len(candidates) or 1
        kept = []  # indices of the candidates that hold
        for start in range(0, len(candidates), size):
            some = list(candidates[start:start + size])
            answers = list(holds(some))
            if len(answers) != len(some):
                raise ValueError(f"premise {premise!r}: {len(answers)} answers for "
                                 f"{len(some)} candidates")
            kept += [start + i for i, ok in enumerate(answers) if ok]
            if len(kept) >= need:
                break
        kit.premises[key] = kept[:need] if len(kept) >= need else \
            KitError(unmet(kit, premise, candidates, len(kept), need))
    found = kit.premises[key]
    if isinstance(found, KitError):
        raise found
    return [candidates[i] for i in found]


# What a warm parent hands to the children it forks (seed); read by Kit().
_seeded: dict = {}


def exported(premises: dict) -> list:
    """The premises that held, in JSON form: [premise, candidates' repr, need,
    indices of the candidates chosen]."""
    return [[*key, found] for key, found in premises.items() if isinstance(found, list)]


def seed(entries) -> None:
    """Let every Kit made in this process (and its forks) start with `entries`."""
    _seeded.clear()
    _seeded.update({(premise, shown, need): list(found) for premise, shown, need, found in entries})


def seeded() -> dict:
    return dict(_seeded)


def require(kit, condition: bool, premise: str) -> None:
    """A premise about one particular run, checked on the kit's own result of it."""
    if not condition:
        raise KitError(unmet(kit, premise, None, 0, 1))


def unmet(kit, premise: str, candidates, found: int, need: int) -> str:
    tried = "" if candidates is None else (
        f"; {found} of {len(candidates)} candidates hold, {need} needed: "
        f"{short_repr(list(candidates), 160)}")
    return (f"the premise \"{premise}\" does not hold on the model {model_name(kit)}{tried}. "
            "The graders establish what they need from the model on every run, and this model "
            "gives them no such input")


def model_name(kit) -> str:
    """What the kit's engine loaded, and its dtype where an engine is in this process."""
    dtype = kit.dtype_name() if hasattr(kit, "dtype_name") else None
    return f"{kit.model!r}" + (f" ({dtype})" if dtype else "")


# --- the premises several graders need, on an offline engine (kit.llm) -------

def _greedy(kit, prompts: list[str], max_tokens: int):
    from vllm import SamplingParams

    params = SamplingParams(temperature=0, max_tokens=max_tokens)
    return [o.outputs[0] for o in kit.llm.generate(prompts, params, use_tqdm=False)]


def runs_to(kit, max_tokens: int) -> Callable[[list[str]], list[bool]]:
    """holds: the prompt's greedy run ends on the length limit (finish_reason
    "length") at `max_tokens`, and its text is not that of an earlier prompt
    that holds (so that prompts told apart by their outputs are)."""
    seen = set()  # across the calls of one establish

    def holds(prompts: list[str]) -> list[bool]:
        answers = []
        for c in _greedy(kit, prompts, max_tokens):
            ok = c.finish_reason == "length" and c.text not in seen
            answers.append(ok)
            if ok:
                seen.add(c.text)
        return answers
    return holds


def stops_before(kit, max_tokens: int) -> Callable[[list[str]], list[bool]]:
    """holds: the prompt's greedy run ends on the end token (finish_reason
    "stop") before `max_tokens`."""
    def holds(prompts: list[str]) -> list[bool]:
        return [c.finish_reason == "stop" and len(c.token_ids) < max_tokens
                for c in _greedy(kit, prompts, max_tokens)]
    return holds


def first_sample_differs(outs) -> list[bool]:
    """Per RequestOutput: its first sample differs from each of the others, so
    that a check reading "the first sample" tells it from the rest."""
    return [all(c.text != o.outputs[0].text for c in o.outputs[1:]) for o in outs]


def samples_differ(kit, params) -> Callable[[list], list[bool]]:
    """holds: with `params` (n > 1 seeded samples), the prompt's first sample
    differs from each of the others (first_sample_differs)."""
    def holds(prompts: list) -> list[bool]:
        return first_sample_differs(kit.llm.generate(prompts, params, use_tqdm=False))
    return holds


def chat_samples_differ(kit, params, template: str, **chat) -> Callable[[list], list[bool]]:
    """samples_differ for conversations, run through llm.chat with `template`
    (and `chat`'s keyword arguments, continue_final_message for one)."""
    def holds(conversations: list) -> list[bool]:
        return first_sample_differs(kit.llm.chat(conversations, params, chat_template=template,
                                                 use_tqdm=False, **chat))
    return holds
