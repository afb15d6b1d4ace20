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
    ### BEGIN SOLUTION
    return LLM(model=model, runner="pooling")
    ### END SOLUTION


def embed_texts(llm: LLM, texts: list[str]) -> list[list[float]]:
    """Embed every text with ONE llm.embed call and return the vectors (each
    a list of floats), in the order of `texts`.

    Lesson section: "Embedding a batch".
    """
    ### BEGIN SOLUTION
    outputs = llm.embed(texts, use_tqdm=False)
    return [list(output.outputs.embedding) for output in outputs]
    ### END SOLUTION


def describe_embedding(output) -> dict:
    """Return a dict describing one EmbeddingRequestOutput `output`:
    "token_ids" (the list of prompt token ids the model read), "dimensions"
    (the length of the vector) and "norm" (its Euclidean length).

    Lesson section: "Inside an EmbeddingRequestOutput".
    """
    ### BEGIN SOLUTION
    vector = output.outputs.embedding
    return {"token_ids": list(output.prompt_token_ids), "dimensions": len(vector),
            "norm": math.sqrt(sum(x * x for x in vector))}
    ### END SOLUTION


def unnormalized_embeddings(llm: LLM, texts: list[str]) -> list[list[float]]:
    """Embed `texts` in one call WITHOUT the final normalisation (the pooling
    parameter use_activation=False) and return the raw vectors, in order.

    Lesson section: "Normalisation".
    """
    ### BEGIN SOLUTION
    outputs = llm.embed(texts, pooling_params=PoolingParams(use_activation=False),
                        use_tqdm=False)
    return [list(output.outputs.embedding) for output in outputs]
    ### END SOLUTION


def cosine_similarity(a: list[float], b: list[float]) -> float:
    """The cosine of the angle between vectors `a` and `b`: their dot product
    divided by the product of their lengths. Correct for vectors of any
    length, normalised or not.

    Lesson section: "Cosine similarity".
    """
    ### BEGIN SOLUTION
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))
    ### END SOLUTION


def similarity_matrix(vectors: list[list[float]]) -> list[list[float]]:
    """The n x n matrix (a list of n rows) whose entry [i][j] is the cosine
    similarity of vectors[i] and vectors[j].

    Lesson section: "A similarity matrix".
    """
    ### BEGIN SOLUTION
    return [[cosine_similarity(a, b) for b in vectors] for a in vectors]
    ### END SOLUTION


def search(llm: LLM, query: str, passages: list[str], k: int = 3) -> list[tuple[int, float]]:
    """Rank `passages` by their cosine similarity to `query`: embed the query
    and the passages in ONE llm.embed call, and return the best `k` as
    (passage index, similarity) pairs, most similar first (the lower index
    first on a tie). Fewer than k passages: return them all.

    Lesson section: "Semantic search".
    """
    ### BEGIN SOLUTION
    vectors = embed_texts(llm, [query] + passages)
    scores = [cosine_similarity(vectors[0], v) for v in vectors[1:]]
    ranked = sorted(range(len(passages)), key=lambda i: (-scores[i], i))
    return [(i, scores[i]) for i in ranked[:k]]
    ### END SOLUTION
