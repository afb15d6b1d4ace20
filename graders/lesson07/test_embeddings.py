"""Graders of lesson 7, embeddings (points in course.yaml).

Each test takes `student` and `kit` and checks real behaviour through vLLM,
on the lesson's embedding model loaded as a pooling model (the student's own
engine when create_embedder works). Vectors are compared with the kit's own
llm.embed run of the same texts, element by element within EMBED_TOLERANCE
(half precision on the CPU; the same batch gives the same numbers); rankings
and similarity matrices with the kit's own arithmetic on those vectors.
"""

import pytest
from vllm import EngineArgs, PoolingParams

from vllm_course.runtime import vllm_internals as internals
from vllm_course.grading import expect
from vllm_course.grading.checks import CountingLLM, expect_exact_keys, student_llm
from vllm_course.grading.compare import isclose, sqrt
from vllm_course.grading.feedback import describe_type
from vllm_course.grading.premises import require

EMBED_TOLERANCE = 2e-3
TEXTS = ["My kitten chases the red ball.", "The cat sleeps on the sofa all day.",
         "Paris is the capital of France.", "The striker scored a goal in the last minute."]
# A small corpus of its own (the lesson ships another): one passage per topic.
PASSAGES = [
    "The train to Vienna leaves from platform four at noon.",
    "Boil the pasta in salted water for ten minutes.",
    "The Eiffel Tower and the Louvre are in Paris.",
    "Astronauts live on the space station for months.",
    "A cat purrs when it is happy and warm.",
    "Heavy rain and thunder are expected tomorrow.",
    "The goalkeeper caught the ball in the last minute of the match.",
    "Water the roses in the evening when the soil is cool.",
]
QUERIES = [("Where can I see the Eiffel Tower?", 3), ("my kitten is purring", 2),
           ("who scored in the football match", 5), ("how long do I cook pasta", 10)]


def kit_vectors(kit, texts, **pooling) -> list[list[float]]:
    params = PoolingParams(**pooling) if pooling else None
    outs = kit.llm.embed(list(texts), pooling_params=params, use_tqdm=False)
    return [list(o.outputs.embedding) for o in outs]


def cosine(a, b) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (sqrt(sum(x * x for x in a)) * sqrt(sum(y * y for y in b)))


def norm(v) -> float:
    return sqrt(sum(x * x for x in v))


def expect_vectors(got, want, what) -> None:
    expect(isinstance(got, list) and all(isinstance(v, list) for v in got),
           f"expected a list of vectors (lists of float), got {describe_type(got)}")
    expect(len(got) == len(want), f"expected {len(want)} vectors for {len(want)} texts, "
                                  f"got {len(got)}")
    for i, (g, w) in enumerate(zip(got, want)):
        expect(all(isinstance(x, float) for x in g),
               f"vector {i}: expected floats, got {describe_type(g)}")
        expect(len(g) == len(w), f"vector {i}: expected {len(w)} dimensions, got {len(g)}")
        worst = max(abs(x - y) for x, y in zip(g, w))
        expect(worst <= EMBED_TOLERANCE,
               f"vector {i} (of {what[i]!r}) differs from the kit's embedding by up to "
               f"{worst:.3g}: expected the model's vector for that text, in the order given")


@pytest.mark.exercise("create_embedder")
def test_create_embedder(student, kit):
    llm = student_llm(kit)
    config = internals.model_config(llm)
    expect("embed" in llm.supported_tasks,
           f"this engine cannot embed (its tasks: {list(llm.supported_tasks)}): load the "
           "model as an embedding model, with no convert")
    # vLLM's own choices for this model: its context and the pooling that its
    # sentence-transformers files ask for.
    own = EngineArgs(model=kit.model, runner="pooling").create_model_config()
    got = internals.context_length(llm)
    expect(got == own.max_model_len,
           f"the engine takes at most {got} tokens, but the model takes {own.max_model_len}: "
           "load it with vLLM's defaults (no max_model_len)")
    want_pool, got_pool = own.pooler_config, config.pooler_config
    for field in ("seq_pooling_type", "use_activation"):
        expect(getattr(got_pool, field) == getattr(want_pool, field),
               f"pooling: expected {field}={getattr(want_pool, field)!r} (the model's own), got "
               f"{getattr(got_pool, field)!r}: leave the pooler config to the model")
    [out] = llm.embed(TEXTS[:1], use_tqdm=False)
    expect(len(out.outputs.embedding) == config.get_hidden_size(),
           "the embedding should have one value per hidden unit of the model")


@pytest.mark.exercise("embed_texts")
def test_embed_texts(student, kit):
    for texts in (TEXTS, [TEXTS[2], TEXTS[0]], TEXTS[3:]):
        llm = CountingLLM(kit.llm, "embed")
        got = student.embed_texts(llm, list(texts))
        expect_vectors(got, kit_vectors(kit, texts), texts)
        llm.expect_one("embed", len(texts), "texts")


@pytest.mark.exercise("describe_embedding")
def test_describe_embedding(student, kit):
    # Raw vectors too: their length is not 1, so the norm must be computed.
    outs = kit.llm.embed(TEXTS[:2], use_tqdm=False) + kit.llm.embed(
        TEXTS[2:], pooling_params=PoolingParams(use_activation=False), use_tqdm=False)
    for out in outs:
        got = student.describe_embedding(out)
        expect_exact_keys(got, {"token_ids", "dimensions", "norm"})
        vector = out.outputs.embedding
        expect(got["token_ids"] == list(out.prompt_token_ids),
               f"token_ids: expected {list(out.prompt_token_ids)} (the prompt's ids, special "
               f"tokens included), got {got['token_ids']!r}")
        expect(got["dimensions"] == len(vector),
               f"dimensions: expected {len(vector)} (the vector's length), got "
               f"{got['dimensions']!r}")
        want = norm(vector)
        expect(isinstance(got["norm"], float) and isclose(got["norm"], want, rel_tol=1e-6),
               f"norm: expected {want:.6f} (the square root of the sum of squares), got "
               f"{got['norm']!r}")


@pytest.mark.exercise("unnormalized_embeddings")
def test_unnormalized_embeddings(student, kit):
    for texts in (TEXTS[:3], TEXTS[3:]):
        llm = CountingLLM(kit.llm, "embed")
        got = student.unnormalized_embeddings(llm, list(texts))
        want = kit_vectors(kit, texts, use_activation=False)
        expect_vectors(got, want, texts)
        llm.expect_one("embed", len(texts), "texts")
        lengths = [round(norm(v), 3) for v in got]
        expect(all(abs(n - 1) > 1e-3 for n in lengths),
               f"the raw vectors should keep their own lengths, got lengths {lengths}")


@pytest.mark.exercise("cosine_similarity")
def test_cosine_similarity(student, kit):
    vectors = kit_vectors(kit, TEXTS[:2]) + kit_vectors(kit, TEXTS[2:], use_activation=False)
    cases = [(vectors[0], vectors[1]), (vectors[2], vectors[3]), (vectors[0], vectors[3]),
             ([3.0, 4.0], [4.0, 3.0]), ([1.0, 0.0], [0.0, 2.0]), ([2.0, 2.0], [-1.0, -1.0])]
    for a, b in cases:
        got = student.cosine_similarity(list(a), list(b))
        want = cosine(a, b)
        shown = f"{a}, {b}" if len(a) < 5 else f"two {len(a)}-dimensional vectors"
        expect(isinstance(got, float) and isclose(got, want, rel_tol=1e-6, abs_tol=1e-9),
               f"for {shown}: expected {want:.6f}, got {got!r}")


@pytest.mark.exercise("similarity_matrix")
def test_similarity_matrix(student, kit):
    raw = [[3.0, 4.0], [4.0, 3.0], [0.0, 2.0]]
    for vectors in (kit_vectors(kit, TEXTS), raw, kit_vectors(kit, TEXTS[:1])):
        with kit.reference_helpers("cosine_similarity"):  # graded on its own
            got = student.similarity_matrix([list(v) for v in vectors])
        n = len(vectors)
        expect(isinstance(got, list) and len(got) == n
               and all(isinstance(row, list) and len(row) == n for row in got),
               f"expected {n} rows of {n} similarities, got {describe_type(got)}")
        for i in range(n):
            expect(isclose(got[i][i], 1.0, abs_tol=1e-6),
                   f"entry [{i}][{i}] compares a vector with itself: expected 1, got {got[i][i]!r}")
            for j in range(n):
                expect(isclose(got[i][j], got[j][i], abs_tol=1e-9),
                       f"the matrix must be symmetric: [{i}][{j}] is {got[i][j]!r}, "
                       f"[{j}][{i}] is {got[j][i]!r}")
                want = cosine(vectors[i], vectors[j])
                expect(isclose(got[i][j], want, abs_tol=1e-6),
                       f"entry [{i}][{j}]: expected {want:.6f}, got {got[i][j]!r}")


def check_search(student, kit, passages, queries, tie=None):
    for query, k in queries:
        llm = CountingLLM(kit.llm, "embed")
        with kit.reference_helpers("embed_texts", "cosine_similarity"):  # graded on their own
            got = student.search(llm, query, list(passages), k)
        vectors = kit_vectors(kit, [query] + list(passages))
        scores = [cosine(vectors[0], v) for v in vectors[1:]]
        if tie:
            first, second = tie
            require(kit, scores[first] == scores[second],
                    f"a passage given twice in one llm.embed call scores the same both times "
                    f"(the kit's run gave {scores[first]!r} and {scores[second]!r})")
        want = sorted(range(len(passages)), key=lambda i: (-scores[i], i))[:k]
        expect(isinstance(got, list) and all(isinstance(p, tuple) and len(p) == 2 for p in got),
               f"expected a list of (index, similarity) pairs, got {describe_type(got)}")
        expect(len(got) == len(want), f"for k={k} over {len(passages)} passages, expected "
                                      f"{len(want)} results, got {len(got)}")
        indices = [i for i, _ in got]
        expect(indices == want,
               f"for {query!r} (k={k}), expected the passages {want} (best first), got "
               f"{indices}")
        for i, score in got:
            expect(isinstance(score, float) and isclose(score, scores[i], abs_tol=EMBED_TOLERANCE),
                   f"passage {i}: expected the similarity {scores[i]:.4f}, got {score!r}")
        llm.expect_one("embed", 1 + len(passages), "texts (the query and the passages)")


@pytest.mark.exercise("search")
def test_search(student, kit):
    check_search(student, kit, PASSAGES, QUERIES)
    # A passage given twice ties with itself: the lower index comes first
    # (all five returned, so that the tie shows wherever it ranks).
    check_search(student, kit, PASSAGES[:4] + PASSAGES[2:3], [(QUERIES[0][0], 5)], tie=(2, 4))


@pytest.mark.hidden  # instructor-only in nbgrader: absent from the released notebook
@pytest.mark.exercise("search")
def test_search_another_corpus(student, kit):
    passages = ["Whales swim across the ocean each year.", "She plays the piano after dinner.",
                "The doctor checked her heart.", "We bought tickets for the night train."]
    check_search(student, kit, passages, [("a concert with piano music", 1),
                                          ("a trip by railway", 4)])
