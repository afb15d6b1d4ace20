"""Lesson 8 exercises: classification and scoring.

Fill in each function below. The lesson (lessons/08-classification/README.md)
covers everything you need; each docstring names the section to read.
Grade your work with:  pytest exercises/lesson08

`llm` is a sequence-classification model and `scorer` a cross-encoder, each
loaded as a pooling model: LLM(model=..., runner="pooling").
"""

from vllm import LLM


def label_names(llm: LLM) -> list[str]:
    """The classifier's labels in the order of its outputs: label i is
    id2label[i] of the model's config (llm.model_config.hf_config).

    Lesson section: "Labels come from the model".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def classify_texts(llm: LLM, texts: list[str]) -> list[dict[str, float]]:
    """Classify every text with ONE llm.classify call. For each text return a
    dict mapping every label to its probability, in the order of `texts`.

    Lesson section: "Classifying a batch".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def top_labels(llm: LLM, texts: list[str]) -> list[tuple[str, float]]:
    """For each text, its most probable label and that probability, as a
    (label, probability) pair, in the order of `texts` (one classify call).

    Lesson section: "The top label".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def rerank(scorer: LLM, query: str, passages: list[str], k: int = 3) -> list[tuple[int, float]]:
    """Score every passage against `query` with ONE scorer.score call, and
    return the best `k` as (passage index, score) pairs, highest score first
    (the lower index first on a tie). Fewer than k passages: return them all.

    Lesson section: "Reranking with a cross-encoder".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def zero_shot(scorer: LLM, text: str, descriptions: dict[str, str]) -> tuple[str, dict[str, float]]:
    """Label `text` with no classifier trained for these labels: score the
    text (as the query) against each label's description (one scorer.score
    call) and return (the label whose description scores highest, a dict of
    every label's score). On a tie, the label listed first wins.

    Lesson section: "Zero-shot labels by scoring".
    """
    # YOUR CODE HERE
    raise NotImplementedError()
