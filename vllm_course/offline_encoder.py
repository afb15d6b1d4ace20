"""The files of the offline stand-ins for the course's encoder models (BERT).

``offline_model`` builds, caches and verifies every stand-in; this module
writes the files of the encoder kinds:
  * ``bert-embed``: a ``BertModel`` checkpoint laid out as a
    sentence-transformers model (``modules.json``, mean pooling, normalised),
    like ``sentence-transformers/all-MiniLM-L6-v2``. vLLM reads the pooling
    and normalisation from those files, as it does for the real model.

Weights are trained briefly, with a fixed seed, on ``data/topics.yaml``: two
sentences of one topic are pulled together and sentences of different topics
pushed apart (in-batch contrastive loss), so that similar sentences embed
closer than unrelated ones. The vocabulary is the words of those sentences;
any other word reads as [UNK], which training teaches the model to ignore.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

TOPICS_PATH = Path(__file__).parent / "data" / "topics.yaml"

# BERT's special tokens, at the first ids of the stand-in's vocabulary.
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID = 0, 1, 2, 3

FILES = {
    "bert-embed": (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
    ),
}
ARCHITECTURES = {"bert-embed": "BertModel"}


def load_topics() -> dict[str, list[str]]:
    import yaml

    data = yaml.safe_load(TOPICS_PATH.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(
        isinstance(v, list) and len(v) >= 2 and all(isinstance(s, str) for s in v)
        for v in data.values()
    ):
        raise ValueError(f"{TOPICS_PATH}: expected a mapping of topic to two or more sentences")
    return data


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

    width = max(map(len, batch))
    ids = torch.full((len(batch), width), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, seq in enumerate(batch):
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    summed = (hidden * mask.unsqueeze(-1)).sum(1)
    return torch.nn.functional.normalize(summed / mask.sum(1, keepdim=True), dim=-1)


def _train_embedder(model, recipe: dict, groups: list[list[list[int]]], progress) -> None:
    """In-batch contrastive training: each step draws two sentences of every
    topic; each first one must pick its partner out of all the second ones."""
    import torch

    t = recipe["train"]
    gen = torch.Generator().manual_seed(recipe["seed"])
    opt = torch.optim.AdamW(model.parameters(), lr=t["lr"], weight_decay=0.0)
    steps, warm = t["steps"], t["warmup_steps"]
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm
        else 0.1 + 0.45 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm))))
    def dropped(seq):  # keep [CLS] and [SEP]; drop each word with probability p
        keep = torch.rand(len(seq) - 2, generator=gen) >= t["token_dropout"]
        inner = [tok for tok, k in zip(seq[1:-1], keep.tolist()) if k] or seq[1:2]
        # Words the model never learned reach it as [UNK]: teach it to ignore them.
        unknown = (torch.rand(len(inner), generator=gen) < t["unknown"]).tolist()
        return [seq[0], *(UNK_ID if u else tok for tok, u in zip(inner, unknown)), seq[-1]]

    model.train()
    for step in range(1, steps + 1):
        pairs = []
        for group in groups:
            # Token dropout teaches that a few of a topic's words already name it,
            # so that a short query lands near the sentences that share its words.
            i, j = torch.randperm(len(group), generator=gen)[:2].tolist()
            pairs.append((dropped(group[i]), dropped(group[j])))
        a = _mean_pooled(model, [p[0] for p in pairs])
        b = _mean_pooled(model, [p[1] for p in pairs])
        logits = a @ b.T / t["temperature"]
        target = torch.arange(len(pairs))
        loss = (torch.nn.functional.cross_entropy(logits, target)
                + torch.nn.functional.cross_entropy(logits.T, target)) / 2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % max(1, steps // 4) == 0 or step == steps:
            progress(f"training the embedding stand-in: step {step}/{steps}, loss {loss.item():.2f}")
    model.eval()


def build_files(name: str, recipe: dict, out: Path, progress) -> None:
    """Write the files of encoder recipe `name` into `out`."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel

    topics = load_topics()
    sentences = [s for group in topics.values() for s in group]
    tok = _make_tokenizer(sentences)
    max_len = recipe["max_position_embeddings"]
    _write_tokenizer(tok, out, max_len)
    vocab = -(-tok.get_vocab_size() // 64) * 64
    config = _bert_config(name, recipe, vocab)
    _write_json(out / "config.json", config)
    _write_sentence_transformers(out, recipe["hidden_size"], max_len)

    torch.manual_seed(recipe["seed"])
    model = BertModel(BertConfig(**{k: v for k, v in config.items() if not k.startswith("_")}),
                      add_pooling_layer=False).float()
    groups = [[tok.encode(s).ids for s in group] for group in topics.values()]
    _train_embedder(model, recipe, groups, progress)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
