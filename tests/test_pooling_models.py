"""The pooling models of lessons 7 and 8 on this machine. Their offline
stand-ins are built deterministically; vLLM runs them (encoder-only
attention) on the kit's CPU platform exactly as a plain transformers
computation does; and they behave as the lessons need: similar sentences
embed closer than unrelated ones, the classifier labels held-out sentences
well above chance, and the cross-encoder ranks the right passage first."""

import math

import pytest

from vllm_course.models import offline_model


# Session-scoped like offline_llm: vLLM tears down process-wide state when an
# engine is destroyed, which breaks every other engine still alive in the
# process ("pipeline model parallel group is not initialized").
@pytest.fixture(scope="session")
def embed_llm(embed_model_path):
    from vllm import LLM

    return LLM(model=embed_model_path, runner="pooling", dtype="float32")


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b))


# The cross-encoder (a minute to build) trains with the same two losses' code.
@pytest.mark.parametrize("recipe", ["minilm-embed", "finbert-classify"])
def test_the_stand_in_builds_byte_for_byte(recipe, stand_ins, tmp_path):
    import json

    again = offline_model.build(recipe, out_dir=tmp_path / "again", progress=lambda *_: None)
    stamp = offline_model.STAMP_NAME
    files = lambda p: json.loads((p / stamp).read_text())["files"]  # noqa: E731
    assert files(again) == files(offline_model.model_dir(recipe))


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

    from vllm_course.course.manifest import REPO_ROOT

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


def lesson8_model(stand_ins, index):
    from vllm_course.course.manifest import course

    return stand_ins[course().models_of(course().lesson("lesson08"))[index].name][1]


@pytest.fixture(scope="session")
def classifier(stand_ins):
    from vllm import LLM

    path = lesson8_model(stand_ins, 0)
    return path, LLM(model=path, runner="pooling", dtype="float32")


@pytest.fixture(scope="session")
def cross_encoder(stand_ins):
    from vllm import LLM

    path = lesson8_model(stand_ins, 1)
    return path, LLM(model=path, runner="pooling", dtype="float32")


def test_vllm_classifies_as_transformers_does(classifier):
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    path, llm = classifier
    texts = ["Profits rose.", "The shares plunged after a weak report on Monday."]
    tok = AutoTokenizer.from_pretrained(path)
    model = BertForSequenceClassification.from_pretrained(path).eval()
    with torch.no_grad():
        want = model(**tok(texts, return_tensors="pt", padding=True)).logits.softmax(-1)
    got = torch.tensor([o.outputs.probs for o in llm.classify(texts, use_tqdm=False)])
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    assert llm.model_config.hf_config.id2label == model.config.id2label


# Sentences the classifier never saw, by their true label.
HELD_OUT = {
    "positive": ["Earnings grew and the stock rose.", "Strong demand lifted sales.",
                 "I love the new store.", "Sales increased and the outlook improved."],
    "negative": ["Losses widened and the shares fell.", "Weak demand hurt profits.",
                 "The company posted a loss.", "Profits fell and jobs were cut."],
    "neutral": ["The annual meeting is in May.", "The company has offices in Paris.",
                "The report was published on Monday.", "The board meets next week."],
}


def test_the_classifier_labels_held_out_sentences_well_above_chance(classifier):
    _, llm = classifier
    id2label = llm.model_config.hf_config.id2label
    texts = [t for group in HELD_OUT.values() for t in group]
    truth = [label for label, group in HELD_OUT.items() for _ in group]
    outs = llm.classify(texts, use_tqdm=False)
    got = [id2label[max(range(len(o.outputs.probs)), key=o.outputs.probs.__getitem__)]
           for o in outs]
    right = sum(g == t for g, t in zip(got, truth))
    assert right >= 10, list(zip(texts, got))  # chance is 4 of 12


def test_vllm_scores_pairs_as_transformers_does(cross_encoder):
    # The passage's token type (1) matters: vLLM must pass it as transformers does.
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    path, llm = cross_encoder
    query, passages = "how do I cook pasta", ["Boil the pasta.", "The striker scored a goal."]
    tok = AutoTokenizer.from_pretrained(path)
    model = BertForSequenceClassification.from_pretrained(path).eval()
    batch = tok([query] * 2, passages, return_tensors="pt", padding=True)
    assert batch["token_type_ids"].max() == 1
    with torch.no_grad():
        want = model(**batch).logits.squeeze(-1).sigmoid()
    got = torch.tensor([o.outputs.score for o in llm.score(query, passages, use_tqdm=False)])
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_the_cross_encoder_ranks_the_right_passage_first(cross_encoder):
    from pathlib import Path

    from vllm_course.course.manifest import REPO_ROOT

    _, llm = cross_encoder
    lines = Path(REPO_ROOT / "lessons/07-embeddings/passages.txt").read_text().splitlines()
    passages = [l for l in lines if l.strip() and not l.startswith("#")]
    queries = {"Where can I see the Eiffel Tower?": "Eiffel", "will it rain tomorrow": "rain",
               "a trip by railway": "train", "my cat is sleepy": "kitten",
               "learning the piano": "piano", "whales in the sea": "Whales",
               "when to plant tomatoes": "tomato", "astronauts in space": "Astronauts"}
    right = 0
    for query, word in queries.items():
        scores = [o.outputs.score for o in llm.score(query, passages, use_tqdm=False)]
        right += word in passages[max(range(len(passages)), key=scores.__getitem__)]
    assert right >= 6, right  # chance is 1 in 12 per query
