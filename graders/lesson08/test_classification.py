"""Graders of lesson 8, classification and scoring (points in course.yaml).

Each test takes `student` and `kit` and checks real behaviour through vLLM:
`kit.llm` is the lesson's sequence classifier, `scorer(kit)` its
cross-encoder (course.yaml `also`), both loaded as pooling models by the kit.
Probabilities and scores are compared with the kit's own classify and score
runs of the same inputs; labels with the model's own id2label.
"""

import pytest

from vllm_course.runtime import vllm_internals as internals
from vllm_course.grading import expect
from vllm_course.grading.checks import CountingLLM
from vllm_course.grading.compare import isclose
from vllm_course.grading.feedback import describe_type
from vllm_course.grading.premises import require

TOLERANCE = 2e-3  # half precision on the CPU; the same batch gives the same numbers
TEXTS = ["Profits rose sharply this quarter.", "The shares plunged after a weak report.",
         "The meeting is on Monday.", "Customers love the new phone."]
PASSAGES = [
    "The train to Vienna leaves from platform four at noon.",
    "Boil the pasta in salted water for ten minutes.",
    "The Eiffel Tower and the Louvre are in Paris.",
    "Astronauts live on the space station for months.",
    "A cat purrs when it is happy and warm.",
    "Heavy rain and thunder are expected tomorrow.",
]
TOPICS = {"sport": "football match, goal and players", "food": "cooking a recipe in the kitchen",
          "weather": "rain, snow and storms", "music": "songs, piano and concerts"}


def scorer(kit):
    return kit.llm_for(kit.lesson.also[0])


def kit_labels(kit) -> list[str]:
    id2label = internals.model_config(kit.llm).hf_config.id2label
    return [id2label[i] for i in range(len(id2label))]


def kit_probs(kit, texts) -> list[list[float]]:
    return [list(o.outputs.probs) for o in kit.llm.classify(list(texts), use_tqdm=False)]


def kit_scores(kit, query, passages) -> list[float]:
    return [o.outputs.score for o in scorer(kit).score(query, list(passages), use_tqdm=False)]


def expect_pairs(got, n, what) -> None:
    expect(isinstance(got, list) and all(isinstance(p, tuple) and len(p) == 2 for p in got),
           f"expected a list of {what} pairs, got {describe_type(got)}")
    expect(len(got) == n, f"expected {n} pairs, got {len(got)}")


@pytest.mark.exercise("label_names")
def test_label_names(student, kit):
    got = student.label_names(kit.llm)
    want = kit_labels(kit)
    expect(got == want, f"expected the labels {want} (id2label, in index order), got {got!r}")


@pytest.mark.exercise("classify_texts")
def test_classify_texts(student, kit):
    labels = kit_labels(kit)
    for texts in (TEXTS, [TEXTS[2], TEXTS[0]], TEXTS[3:]):
        llm = CountingLLM(kit.llm, "classify")
        with kit.reference_helpers("label_names"):  # graded on its own
            got = student.classify_texts(llm, list(texts))
        llm.expect_one("classify", len(texts), "texts")
        want = kit_probs(kit, texts)
        expect(isinstance(got, list) and len(got) == len(texts),
               f"expected one dict per text ({len(texts)}), got {describe_type(got)}")
        for text, probs, row in zip(texts, got, want):
            expect(isinstance(probs, dict) and list(probs) == labels,
                   f"for {text!r}: expected a dict keyed by the labels {labels}, got "
                   f"{describe_type(probs)}")
            expect(isclose(sum(probs.values()), 1.0, abs_tol=1e-3),
                   f"for {text!r}: probabilities must sum to 1, got {sum(probs.values()):.4f}")
            for label, p in zip(labels, row):
                expect(isinstance(probs[label], float) and abs(probs[label] - p) <= TOLERANCE,
                       f"for {text!r}: expected P({label}) = {p:.4f} (the model's), got "
                       f"{probs[label]!r}")


@pytest.mark.exercise("top_labels")
def test_top_labels(student, kit):
    labels = kit_labels(kit)
    for texts in (TEXTS, TEXTS[1:3]):
        llm = CountingLLM(kit.llm, "classify")
        with kit.reference_helpers("label_names", "classify_texts"):  # graded on their own
            got = student.top_labels(llm, list(texts))
        expect_pairs(got, len(texts), "(label, probability)")
        llm.expect_one("classify", len(texts), "texts")
        for text, (label, p), row in zip(texts, got, kit_probs(kit, texts)):
            best = max(range(len(row)), key=row.__getitem__)
            expect(label in labels, f"for {text!r}: {label!r} is not one of the model's labels "
                                    f"{labels}")
            expect(label == labels[best], f"for {text!r}: expected {labels[best]!r} (probability "
                                          f"{row[best]:.3f}), got {label!r}")
            expect(isinstance(p, float) and abs(p - row[best]) <= TOLERANCE,
                   f"for {text!r}: expected its probability {row[best]:.4f}, got {p!r}")


def same_scores(kit, scores, first, second, what):
    require(kit, scores[first] == scores[second],
            f"{what} given twice in one score call scores the same both times (the kit's run "
            f"gave {scores[first]!r} and {scores[second]!r})")


def check_rerank(student, kit, query, passages, k, tie=None):
    llm = CountingLLM(scorer(kit), "score")
    got = student.rerank(llm, query, list(passages), k)
    scores = kit_scores(kit, query, passages)
    if tie:
        same_scores(kit, scores, *tie, "a passage")
    llm.expect_one("score", len(passages), "passages")
    want = sorted(range(len(passages)), key=lambda i: (-scores[i], i))[:k]
    expect_pairs(got, len(want), "(index, score)")
    indices = [i for i, _ in got]
    expect(indices == want, f"for {query!r} (k={k}), expected the passages {want} (highest "
                            f"score first), got {indices}")
    for i, score in got:
        expect(isinstance(score, float) and abs(score - scores[i]) <= TOLERANCE,
               f"passage {i}: expected the cross-encoder's score {scores[i]:.4f}, got {score!r}")


@pytest.mark.exercise("rerank")
def test_rerank(student, kit):
    for query, k in (("Where can I see the Eiffel Tower?", 3), ("will it rain tomorrow", 2),
                     ("how do I cook pasta", 6), ("my cat is purring", 9)):
        check_rerank(student, kit, query, PASSAGES, k)
    # A passage given twice ties with itself: the lower index comes first
    # (all five returned, so that the tie shows wherever it ranks).
    check_rerank(student, kit, "Where can I see the Eiffel Tower?",
                 PASSAGES[:4] + PASSAGES[2:3], 5, tie=(2, 4))


@pytest.mark.hidden  # instructor-only in nbgrader: absent from the released notebook
@pytest.mark.exercise("rerank")
def test_rerank_other_passages(student, kit):
    check_rerank(student, kit, "a trip by railway",
                 ["Whales swim in the ocean.", "We bought tickets for the night train.",
                  "She plays the piano."], 2)


@pytest.mark.exercise("zero_shot")
def test_zero_shot(student, kit):
    for text, topics in (("The striker scored a late goal.", TOPICS),
                         ("Heavy snow fell all night.", dict(reversed(list(TOPICS.items())))),
                         ("She sang a song at the piano.", {"music": TOPICS["music"]}),
                         # Two labels described alike tie: the one listed first wins.
                         ("We took the night train.", {"travel": "trains and trips",
                                                       "journey": "trains and trips"})):
        llm = CountingLLM(scorer(kit), "score")
        got = student.zero_shot(llm, text, dict(topics))
        labels = list(topics)
        scores = dict(zip(labels, kit_scores(kit, text, [topics[l] for l in labels])))
        if "journey" in topics:
            same_scores(kit, scores, "travel", "journey", "a description")
        llm.expect_one("score", len(labels), "labels")
        best = max(labels, key=lambda label: scores[label])
        expect(isinstance(got, tuple) and len(got) == 2 and isinstance(got[1], dict),
               f"expected (label, dict of scores), got {describe_type(got)}")
        label, got_scores = got
        expect(list(got_scores) == labels, f"expected a score for each label {labels} (in "
                                           f"order), got {list(got_scores)}")
        for name in labels:
            expect(isinstance(got_scores[name], float)
                   and abs(got_scores[name] - scores[name]) <= TOLERANCE,
                   f"for {text!r}: expected {name!r} to score {scores[name]:.4f} (the text "
                   f"against its description), got {got_scores[name]!r}")
        expect(label == best, f"for {text!r}: expected {best!r} (the highest score), got "
                              f"{label!r}")
