"""Lesson 7 exercises: embeddings.

Fill in each function below. The lesson (lessons/07-embeddings/README.md)
covers everything you need; each docstring names the section to read.
Grade your work with:  pytest exercises/lesson07

Every `llm` you are given (after create_embedder) is an embedding model
loaded as a pooling model, as create_embedder loads it.
"""

import math

from vllm import LLM, PoolingParams


def create_embedder(model: str) -> LLM:
    """Load `model` as a pooling model (runner="pooling"), so that it embeds
    text instead of generating it, and return the LLM. Leave the rest (the
    context length, the pooling) to the model's own settings.

    Lesson section: "A pooling model".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def embed_texts(llm: LLM, texts: list[str]) -> list[list[float]]:
    """Embed every text with ONE llm.embed call and return the vectors (each
    a list of floats), in the order of `texts`.

    Lesson section: "Embedding a batch".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def describe_embedding(output) -> dict:
    """Return a dict describing one EmbeddingRequestOutput `output`:
    "token_ids" (the list of prompt token ids the model read), "dimensions"
    (the length of the vector) and "norm" (its Euclidean length).

    Lesson section: "Inside an EmbeddingRequestOutput".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def unnormalized_embeddings(llm: LLM, texts: list[str]) -> list[list[float]]:
    """Embed `texts` in one call WITHOUT the final normalisation (the pooling
    parameter use_activation=False) and return the raw vectors, in order.

    Lesson section: "Normalisation".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def cosine_similarity(a: list[float], b: list[float]) -> float:
    """The cosine of the angle between vectors `a` and `b`: their dot product
    divided by the product of their lengths. Correct for vectors of any
    length, normalised or not.

    Lesson section: "Cosine similarity".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def similarity_matrix(vectors: list[list[float]]) -> list[list[float]]:
    """The n x n matrix (a list of n rows) whose entry [i][j] is the cosine
    similarity of vectors[i] and vectors[j].

    Lesson section: "A similarity matrix".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def search(llm: LLM, query: str, passages: list[str], k: int = 3) -> list[tuple[int, float]]:
    """Rank `passages` by their cosine similarity to `query`: embed the query
    and the passages in ONE llm.embed call, and return the best `k` as
    (passage index, similarity) pairs, most similar first (the lower index
    first on a tie). Fewer than k passages: return them all.

    Lesson section: "Semantic search".
    """
    # YOUR CODE HERE
    raise NotImplementedError()
