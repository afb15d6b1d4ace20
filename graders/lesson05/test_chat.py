"""Graders of lesson 5, chat (points in course.yaml).

Each test takes `student` and `kit` and checks real behaviour through vLLM.
The kit's reference for a chat reply is a plain generate on the prompt the
template renders, given as token ids WITHOUT a start token: llm.chat
tokenizes the rendered text with add_special_tokens=False (the template
owns the special tokens), while llm.generate(text) adds the start token.
"""

import copy

import pytest
from vllm import SamplingParams
from vllm.inputs import TokensPrompt
from vllm.outputs import RequestOutput

from vllm_course.grading import expect
from vllm_course.grading.checks import CountingLLM, expect_exact_keys, expect_unchanged
from vllm_course.grading.feedback import describe_type
from vllm_course.grading.premises import chat_samples_differ, establish

SIMPLE = (
    "{% for message in messages %}"
    "{{ message['role'] | capitalize }}: {{ message['content'] }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)
# A second template, so that a submission must use the one it is given.
TAGGED = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SYSTEM = "You are a helpful assistant."
QUESTIONS = ["What is the capital of France?", "Who are you?", "What does vLLM do?"]
# Candidates for user turns on which n=3 seeded samples differ, so that a
# check reading the first sample tells it from the others (open_questions).
OPEN_CANDIDATES = ["Purple", "Why do cats", "Seven green", "Banana bread and", "Blue",
                   "My favourite food is"]


def open_questions(kit, params, system=None, need: int = 2) -> list[str]:
    """User turns on which `params` (n=3 seeded samples) draws samples that
    differ, with `system` before them and SIMPLE's template."""
    found = establish(kit, f"with {params.n} seeded samples (seed {params.seed}) the first "
                           "reply differs from the others",
                      [conversation(system, q) for q in OPEN_CANDIDATES],
                      chat_samples_differ(kit, params, SIMPLE), need=need)
    return [c[-1]["content"] for c in found]


def rendered(kit, messages, template, generation_prompt=True, continue_final=False):
    return kit.llm.get_tokenizer().apply_chat_template(
        messages, chat_template=template, tokenize=False,
        add_generation_prompt=generation_prompt, continue_final_message=continue_final)


def reference_reply(kit, prompt_text, params) -> list[int]:
    ids = kit.llm.get_tokenizer().encode(prompt_text, add_special_tokens=False)
    [out] = kit.llm.generate(TokensPrompt(prompt_token_ids=ids), params, use_tqdm=False)
    return list(out.outputs[0].token_ids)


def conversation(system, user):
    return ([] if system is None else [{"role": "system", "content": system}]) + \
        [{"role": "user", "content": user}]


@pytest.mark.exercise("build_conversation")
def test_build_conversation(student, kit):
    # An empty system message is still one; contents are kept with their spaces.
    for system, user in ((SYSTEM, QUESTIONS[0]), (None, QUESTIONS[1]), ("", "Hi"),
                         (" Be brief. ", "  What is vLLM?\n")):
        got = student.build_conversation(system, user)
        want = conversation(system, user)
        expect(isinstance(got, list), f"expected a list of messages, got {describe_type(got)}")
        for message in got:
            expect_exact_keys(message, {"role", "content"})
        expect(got == want, f"build_conversation({system!r}, {user!r}): expected {want}, "
                            f"got {got}")


@pytest.mark.exercise("render_prompt")
def test_render_prompt(student, kit):
    history = conversation(SYSTEM, QUESTIONS[0]) + [
        {"role": "assistant", "content": "Paris."}, {"role": "user", "content": QUESTIONS[1]}]
    for template in (SIMPLE, TAGGED):
        for messages in (conversation(SYSTEM, QUESTIONS[0]), conversation(None, QUESTIONS[2]),
                         history):
            got = student.render_prompt(kit.llm, messages, template)
            want = rendered(kit, messages, template)
            expect(got == want, f"expected the template's text with the generation prompt, "
                                f"{want!r}, got {got!r}")


@pytest.mark.exercise("chat_once")
def test_chat_once(student, kit):
    for template, messages, max_tokens in ((SIMPLE, conversation(SYSTEM, QUESTIONS[0]), 12),
                                           (TAGGED, conversation(None, QUESTIONS[1]), 7)):
        # ignore_eos: the reply runs to max_tokens, so the params given must be used.
        params = SamplingParams(temperature=0, max_tokens=max_tokens, ignore_eos=True)
        out = student.chat_once(kit.llm, messages, template, params)
        expect(isinstance(out, RequestOutput), f"expected one RequestOutput, got "
                                               f"{describe_type(out)}")
        prompt = rendered(kit, messages, template)
        expect(out.prompt == prompt, f"the engine received {out.prompt!r}, expected the "
                                     f"template's rendering {prompt!r}")
        ids = kit.llm.get_tokenizer().encode(prompt, add_special_tokens=False)
        expect(list(out.prompt_token_ids) == ids,
               f"the engine was fed {list(out.prompt_token_ids)}, expected {ids}: llm.chat "
               "adds no start token (the template owns special tokens); llm.generate on the "
               "rendered text would add one")
        got = list(out.outputs[0].token_ids)
        expect(len(got) == max_tokens, f"with max_tokens={max_tokens} (and ignore_eos) the reply "
                                       f"should have {max_tokens} tokens, got {len(got)}: chat "
                                       "with the params you were given")
        want = reference_reply(kit, prompt, params)
        expect(got == want, f"greedy reply tokens {got}, expected the kit's {want}")


@pytest.mark.exercise("chat_batch")
def test_chat_batch(student, kit):
    conversations = [conversation(SYSTEM, q) for q in QUESTIONS] + [conversation(None, QUESTIONS[0])]
    params = SamplingParams(temperature=0, max_tokens=8)
    llm = CountingLLM(kit.llm, "chat", "generate")
    got = student.chat_batch(llm, conversations, SIMPLE, params)
    outs = kit.llm.chat(conversations, params, chat_template=SIMPLE, use_tqdm=False)
    want = [o.outputs[0].text for o in outs]
    expect(got == want, f"expected the replies in the order of the conversations, {want}, "
                        f"got {got}")
    llm.expect_one("chat", len(conversations), "conversations")
    # Three seeded samples per conversation, on questions where they differ:
    # the reply is the first sample's.
    params = SamplingParams(n=3, temperature=1.0, seed=5, max_tokens=8)
    first = open_questions(kit, params, None, need=1)[0]
    second = open_questions(kit, params, SYSTEM, need=2)[-1]
    conversations = [conversation(None, first), conversation(SYSTEM, second)]
    got = student.chat_batch(kit.llm, conversations, SIMPLE, params)
    outs = kit.llm.chat(conversations, params, chat_template=SIMPLE, use_tqdm=False)
    want = [o.outputs[0].text for o in outs]
    expect(got == want, f"with n=3 samples, expected each conversation's first sample, {want}, "
                        f"got {got}")


START_CANDIDATES = ["Why do cats", "Seven green", "Banana bread and", "Blue", "My favourite"]


def open_start(kit, params) -> str:
    """A start of the assistant's reply (after the user's "Purple") whose
    continuations, sampled with `params`, differ."""
    differ = chat_samples_differ(kit, params, SIMPLE, add_generation_prompt=False,
                                 continue_final_message=True)
    found = establish(kit, f"with {params.n} seeded samples (seed {params.seed}) the first "
                           "continuation differs from the others",
                      [conversation(None, "Purple") + [{"role": "assistant", "content": start}]
                       for start in START_CANDIDATES], differ)
    return found[0][-1]["content"]


@pytest.mark.exercise("continue_reply")
def test_continue_reply(student, kit):
    greedy = SamplingParams(temperature=0, max_tokens=6)
    # A start that ends mid-sentence, one that ends on a space, and three seeded
    # samples that differ, of which the first continues.
    sampled = SamplingParams(n=3, temperature=1.0, seed=9, max_tokens=6)
    cases = [(conversation(SYSTEM, QUESTIONS[0]), "The capital of France is", greedy),
             (conversation(SYSTEM, QUESTIONS[0]), "Sure! ", greedy),
             (conversation(None, "Purple"), open_start(kit, sampled), sampled)]
    for before, start, params in cases:
        messages = before + [{"role": "assistant", "content": start}]
        given = copy.deepcopy(messages)
        got = student.continue_reply(kit.llm, given, SIMPLE, params)
        expect_unchanged(messages, given, "messages")
        [out] = kit.llm.chat(messages, params, chat_template=SIMPLE, use_tqdm=False,
                             add_generation_prompt=False, continue_final_message=True)
        want = start + out.outputs[0].text
        expect(got == want, f"expected the reply's start {start!r} followed by its "
                            f"continuation (the first sample's, if n > 1), {want!r}, "
                            f"got {got!r}")


def check_multi_turn(student, kit, system, turns, template, params):
    given = list(turns)
    with kit.reference_helpers("build_conversation"):  # graded on its own
        got = student.multi_turn(kit.llm, system, given, template, params)
    expect_unchanged(list(turns), given, "user_turns")
    want = conversation(system, turns[0])
    for i, turn in enumerate(turns):
        if i:
            want.append({"role": "user", "content": turn})
        [out] = kit.llm.chat(want, params, chat_template=template, use_tqdm=False)
        want.append({"role": "assistant", "content": out.outputs[0].text})
    expect(got == want, f"expected the conversation {want}, got {got}")


@pytest.mark.exercise("multi_turn")
def test_multi_turn(student, kit):
    greedy = SamplingParams(temperature=0, max_tokens=6)
    # The last: three seeded samples per turn (differing on its first turn), of
    # which the first is the reply.
    sampled = SamplingParams(n=3, temperature=1.0, seed=13, max_tokens=6)
    # An empty system message is one too (its conversation starts with it).
    for system, turns, params in ((SYSTEM, QUESTIONS, greedy), (None, QUESTIONS[:1], greedy),
                                  ("", QUESTIONS[1:], greedy),
                                  (None, open_questions(kit, sampled, None, need=2), sampled)):
        check_multi_turn(student, kit, system, turns, SIMPLE, params)


@pytest.mark.hidden  # instructor-only in nbgrader: absent from the released notebook
@pytest.mark.exercise("multi_turn")
def test_multi_turn_with_another_template(student, kit):
    check_multi_turn(student, kit, None, ["Hello!", "Who are you?"], TAGGED,
                     SamplingParams(temperature=0, max_tokens=5))
