"""The files of the offline stand-ins for the course's encoder models (BERT).

``offline_model`` builds, caches and verifies every stand-in; this module
writes the files of the encoder kinds, each trained briefly, with a fixed
seed, on a data file of the kit's own (the recipe's ``data``):
  * ``bert-embed``: a ``BertModel`` laid out as a sentence-transformers model
    (``modules.json``, mean pooling, normalised), like
    ``sentence-transformers/all-MiniLM-L6-v2``; vLLM reads the pooling and
    normalisation from those files, as it does for the real model. Trained on
    ``topics.yaml``: two sentences of one topic are pulled together and
    sentences of different topics pushed apart (in-batch contrastive loss).
  * ``bert-classify``: a ``BertForSequenceClassification`` whose ``id2label``
    are the recipe's labels, like ``ProsusAI/finbert``; trained on
    ``sentiment.yaml`` (cross-entropy).
  * ``bert-cross-encoder``: a ``BertForSequenceClassification`` with one
    label, reading a (query, passage) pair, like
    ``cross-encoder/ms-marco-MiniLM-L-6-v2``; trained on ``topics.yaml`` to
    score a pair of one topic above a pair of two (binary cross-entropy).

The vocabulary is the words of the training data; any other word reads as
[UNK], which training (replacing some words by it) teaches the models to
ignore. Every step also drops words at random, so that a few words of a
topic or a mood already carry it, as a short query does.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from vllm_course.course.paths import DATA_DIR

# Bump when this module's output changes (part of the encoder recipes' hash).
ENCODER_VERSION = 2
TOPICS_PATH = DATA_DIR / "topics.yaml"

# BERT's special tokens, at the first ids of the stand-in's vocabulary.
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID = 0, 1, 2, 3

_CHECKPOINT = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
               "special_tokens_map.json")
FILES = {
    "bert-embed": _CHECKPOINT + ("modules.json", "sentence_bert_config.json",
                                 "1_Pooling/config.json"),
    "bert-classify": _CHECKPOINT,
    "bert-cross-encoder": _CHECKPOINT,
}
ARCHITECTURES = {"bert-embed": "BertModel", "bert-classify": "BertForSequenceClassification",
                 "bert-cross-encoder": "BertForSequenceClassification"}


def load_groups(path: Path = TOPICS_PATH) -> dict[str, list[str]]:
    """A data file: a mapping of group (a topic, a label) to its sentences."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(
        isinstance(v, list) and len(v) >= 2 and all(isinstance(s, str) for s in v)
        for v in data.values()
    ):
        raise ValueError(f"{path}: expected a mapping of group to two or more sentences")
    return data


def load_topics() -> dict[str, list[str]]:
    return load_groups(TOPICS_PATH)


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _make_tokenizer(texts: list[str]):
    """A WordPiece tokenizer whose vocabulary is every word of `texts`; any
    other word is [UNK]. Built from a sorted list, not trained: the tokenizers
    library's WordPiece trainer breaks ties differently from one run to the
    next. Whole words only, because every one of them is then trained (words
    the training never shows keep random vectors that drown a short query)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    normalizer = normalizers.BertNormalizer(lowercase=True)  # uncased, like MiniLM
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    words = {w for t in texts for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(t))}
    vocab = [*SPECIAL_TOKENS, *sorted(words)]
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.WordPiece()
    # BERT's framing; a pair (query, passage) gets token type 1 on its second text.
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", CLS_ID), ("[SEP]", SEP_ID)])
    return tok


def _write_tokenizer(tok, out: Path, max_len: int) -> None:
    (out / "tokenizer.json").write_text(tok.to_str(pretty=True), encoding="utf-8")
    special = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]",
               "sep_token": "[SEP]", "mask_token": "[MASK]"}
    _write_json(out / "special_tokens_map.json", special)
    _write_json(out / "tokenizer_config.json", {
        **special,
        "tokenizer_class": "PreTrainedTokenizerFast",  # tokenizer.json as is
        # As BERT's tokenizer: a pair's second text gets token type 1.
        "model_input_names": ["input_ids", "token_type_ids", "attention_mask"],
        "do_lower_case": True,
        "clean_up_tokenization_spaces": False,
        "model_max_length": max_len,
    })


def _bert_config(name: str, recipe: dict, vocab_size: int) -> dict:
    import transformers

    return {
        "_name_or_path": f"vllm-course/{name}",
        "architectures": [ARCHITECTURES[recipe["kind"]]],
        "attention_probs_dropout_prob": 0.0,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "hidden_size": recipe["hidden_size"],
        "initializer_range": recipe["init_std"],
        "intermediate_size": recipe["intermediate_size"],
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": recipe["max_position_embeddings"],
        "model_type": "bert",
        "num_attention_heads": recipe["num_attention_heads"],
        "num_hidden_layers": recipe["num_hidden_layers"],
        "pad_token_id": PAD_ID,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "transformers_version": transformers.__version__,
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": vocab_size,
    }


def _write_sentence_transformers(out: Path, dim: int, max_len: int) -> None:
    """The files that make a folder a sentence-transformers model: vLLM reads
    its pooling (mean) and normalisation from them."""
    _write_json(out / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": max_len,
                                                    "do_lower_case": False})
    _write_json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": dim,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })


def _mean_pooled(model, batch: list[list[int]]):
    import torch

    inputs = _padded(batch)
    mask = inputs["attention_mask"]
    hidden = model(**inputs).last_hidden_state
    summed = (hidden * mask.unsqueeze(-1)).sum(1)
    return torch.nn.functional.normalize(summed / mask.sum(1, keepdim=True), dim=-1)


def _train(model, recipe: dict, step_loss, what: str, progress) -> None:
    """AdamW with warm-up and cosine decay; `step_loss(draw, dropped)` gives
    each step's loss from the seeded draws it makes."""
    import torch

    t = recipe["train"]
    gen = torch.Generator().manual_seed(recipe["seed"])
    opt = torch.optim.AdamW(model.parameters(), lr=t["lr"], weight_decay=0.0)
    steps, warm = t["steps"], t["warmup_steps"]
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm
        else 0.1 + 0.45 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm))))

    def draw(n: int, k: int) -> list[int]:  # k distinct indices below n
        return torch.randperm(n, generator=gen)[:k].tolist()

    def dropped(seq):  # keep [CLS] and [SEP]; drop each word with probability p
        keep = torch.rand(len(seq) - 2, generator=gen) >= t["token_dropout"]
        inner = [tok for tok, k in zip(seq[1:-1], keep.tolist()) if k] or seq[1:2]
        # Words the model never learned reach it as [UNK]: teach it to ignore them.
        unknown = (torch.rand(len(inner), generator=gen) < t["unknown"]).tolist()
        return [seq[0], *(UNK_ID if u else tok for tok, u in zip(inner, unknown)), seq[-1]]

    model.train()
    for step in range(1, steps + 1):
        loss = step_loss(draw, dropped)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % max(1, steps // 4) == 0 or step == steps:
            progress(f"training the {what} stand-in: step {step}/{steps}, loss {loss.item():.2f}")
    model.eval()


def _padded(batch: list[list[int]], types: list[list[int]] | None = None) -> dict:
    import torch

    width = max(map(len, batch))
    ids = torch.full((len(batch), width), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    token_types = torch.zeros((len(batch), width), dtype=torch.long)
    for row, seq in enumerate(batch):
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
        if types:
            token_types[row, : len(seq)] = torch.tensor(types[row])
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": token_types}


def _embedding_loss(model, recipe, groups):
    """In-batch contrastive loss: two sentences of every topic; each first one
    must pick its partner out of all the second ones."""
    import torch

    def step_loss(draw, dropped):
        pairs = []
        for group in groups:
            i, j = draw(len(group), 2)
            pairs.append((dropped(group[i]), dropped(group[j])))
        a = _mean_pooled(model, [p[0] for p in pairs])
        b = _mean_pooled(model, [p[1] for p in pairs])
        logits = a @ b.T / recipe["train"]["temperature"]
        target = torch.arange(len(pairs))
        return (torch.nn.functional.cross_entropy(logits, target)
                + torch.nn.functional.cross_entropy(logits.T, target)) / 2
    return step_loss


def _classification_loss(model, recipe, groups):
    """Cross-entropy over a few sentences of every label."""
    import torch

    per_label = recipe["train"]["per_label"]

    def step_loss(draw, dropped):
        batch, labels = [], []
        for label, group in enumerate(groups):
            for i in draw(len(group), per_label):
                batch.append(dropped(group[i]))
                labels.append(label)
        logits = model(**_padded(batch)).logits
        return torch.nn.functional.cross_entropy(logits, torch.tensor(labels))
    return step_loss


def _cross_encoder_loss(model, recipe, groups):
    """Listwise: for every topic, a short query (a sentence with words
    dropped) scored against another sentence of its topic and sentences of
    other topics; cross-entropy puts the one of its topic first. (A pairwise
    yes/no loss stalled at a constant score.)"""
    import torch

    negatives = recipe["train"]["negatives"]

    def pair(query, passage):  # [CLS] query [SEP] passage [SEP], types 0 then 1
        return query + passage[1:], [0] * len(query) + [1] * (len(passage) - 1)

    def step_loss(draw, dropped):
        batch, types = [], []
        for g, group in enumerate(groups):
            i, j = draw(len(group), 2)
            query = dropped(group[i])
            others = [groups[o] for o in draw(len(groups), negatives + 1) if o != g][:negatives]
            for passage in [group[j]] + [o[draw(len(o), 1)[0]] for o in others]:
                ids, kinds = pair(query, passage)
                batch.append(ids)
                types.append(kinds)
        logits = model(**_padded(batch, types)).logits.view(len(groups), negatives + 1)
        return torch.nn.functional.cross_entropy(logits, torch.zeros(len(groups), dtype=torch.long))
    return step_loss


def build_files(name: str, recipe: dict, out: Path, progress) -> None:
    """Write the files of encoder recipe `name` into `out`."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertForSequenceClassification, BertModel

    kind = recipe["kind"]
    data = load_groups(DATA_DIR / recipe["data"])
    tok = _make_tokenizer([s for group in data.values() for s in group])
    max_len = recipe["max_position_embeddings"]
    _write_tokenizer(tok, out, max_len)
    vocab = -(-tok.get_vocab_size() // 64) * 64
    config = _bert_config(name, recipe, vocab)
    if kind == "bert-classify":
        labels = recipe["labels"]
        if sorted(labels) != sorted(data):
            raise ValueError(f"{recipe['data']}: expected the labels {labels}, found {list(data)}")
        data = {label: data[label] for label in labels}  # id order = the recipe's order
        config["id2label"] = {str(i): label for i, label in enumerate(labels)}
        config["label2id"] = {label: i for i, label in enumerate(labels)}
    elif kind == "bert-cross-encoder":
        config["id2label"], config["label2id"] = {"0": "LABEL_0"}, {"LABEL_0": 0}
    _write_json(out / "config.json", config)
    if kind == "bert-embed":
        _write_sentence_transformers(out, recipe["hidden_size"], max_len)

    torch.manual_seed(recipe["seed"])
    hf_config = BertConfig(**{k: v for k, v in config.items() if not k.startswith("_")})
    groups = [[tok.encode(s).ids for s in group] for group in data.values()]
    if kind == "bert-embed":
        model = BertModel(hf_config, add_pooling_layer=False).float()
        _train(model, recipe, _embedding_loss(model, recipe, groups), "embedding", progress)
    else:
        model = BertForSequenceClassification(hf_config).float()
        if kind == "bert-classify":
            _train(model, recipe, _classification_loss(model, recipe, groups), "classification",
                   progress)
        else:
            # From random weights a cross-encoder stalls at one score for every
            # pair: first teach its encoder the topics (as the embedding
            # stand-in learns them), then to score pairs.
            _train(model.bert, recipe, _embedding_loss(model.bert, recipe, groups),
                   "cross-encoder (topics)", progress)
            _train(model, recipe, _cross_encoder_loss(model, recipe, groups),
                   "cross-encoder (pairs)", progress)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
