"""The embedding model of lesson 7 on this machine: its offline stand-in is
built deterministically, vLLM runs it (encoder-only attention) on the kit's
CPU platform exactly as a plain computation does, and it behaves like a
sentence-embedding model: similar sentences embed closer than unrelated ones."""

import math

import pytest

from vllm_course import offline_model


@pytest.fixture(scope="module")
def embed_llm(embed_model_path):
    from vllm import LLM

    return LLM(model=embed_model_path, runner="pooling", dtype="float32")


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b))


def test_the_stand_in_builds_byte_for_byte(embed_model_path, tmp_path):
    import json

    again = offline_model.build("minilm-embed", out_dir=tmp_path / "again", progress=lambda *_: None)
    stamp = offline_model.STAMP_NAME
    files = lambda p: json.loads((p / stamp).read_text())["files"]  # noqa: E731
    assert files(again) == files(offline_model.model_dir("minilm-embed"))


def test_vllm_embeds_as_transformers_does(embed_llm, embed_model_path):
    # Mean pooling over BERT's bidirectional attention, then normalisation:
    # what sentence-transformers computes, in plain transformers, float32.
    import torch
    from transformers import AutoTokenizer, BertModel

    texts = ["A cat sleeps.", "The Eiffel Tower is in Paris, the capital of France."]
    tok = AutoTokenizer.from_pretrained(embed_model_path)
    model = BertModel.from_pretrained(embed_model_path, add_pooling_layer=False).eval()
    batch = tok(texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1)
    want = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    outs = embed_llm.embed(texts, use_tqdm=False)
    assert [o.prompt_token_ids for o in outs] == [ids for ids in tok(texts)["input_ids"]]
    got = torch.tensor([o.outputs.embedding for o in outs])
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    assert embed_llm.llm_engine.model_config.pooler_config.seq_pooling_type == "MEAN"


# Sentences the stand-in never saw: each pair says one thing twice, in other words.
PAIRS = [("My kitten is asleep on the sofa.", "The cat naps all afternoon."),
         ("Will there be rain and thunder tomorrow?", "The forecast says a storm is coming."),
         ("We took the train to Vienna.", "Our railway tickets were for the night express."),
         ("He plays guitar in a band.", "The concert had loud songs and drums.")]


def test_similar_sentences_embed_closer_than_unrelated_ones(embed_llm):
    texts = [t for pair in PAIRS for t in pair]
    vectors = [o.outputs.embedding for o in embed_llm.embed(texts, use_tqdm=False)]
    for i in range(len(PAIRS)):
        a, b = vectors[2 * i], vectors[2 * i + 1]
        similar = cosine(a, b)
        unrelated = max(cosine(a, vectors[2 * j + 1]) for j in range(len(PAIRS)) if j != i)
        assert similar > unrelated, (PAIRS[i], similar, unrelated)


def test_the_lesson_search_finds_each_topic(embed_llm):
    from pathlib import Path

    from vllm_course.manifest import REPO_ROOT

    lines = Path(REPO_ROOT / "lessons/07-embeddings/passages.txt").read_text().splitlines()
    passages = [l for l in lines if l.strip() and not l.startswith("#")]
    queries = {"Where can I see the Eiffel Tower?": "Eiffel", "my cat is sleepy": "kitten",
               "will it rain tomorrow": "rain", "how do I cook pasta": "pasta",
               "running a model on a GPU": "GPU", "a trip by railway": "train"}
    vectors = [o.outputs.embedding
               for o in embed_llm.embed(list(queries) + passages, use_tqdm=False)]
    for q, (query, word) in enumerate(queries.items()):
        scores = [cosine(vectors[q], p) for p in vectors[len(queries):]]
        best = passages[max(range(len(passages)), key=scores.__getitem__)]
        assert word in best, (query, best)
