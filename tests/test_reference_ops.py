"""The CPU reference ops against a plain full-attention computation.

Random shapes: several requests, prompts spanning several blocks, chunked
prefill mixed with decode, grouped-query heads, padding slots. The ops are
called through torch.ops._C, exactly as vLLM's CPU attention backend calls them.
"""

import math
import random

import pytest
import torch

from vllm_course.runtime.cpu_platform import reference_ops

reference_ops.register_missing_ops()
C = torch.ops._C


def plain_attention(q, k, v, scale, causal=True, window=-1, softcap=0.0):
    """q [Lq, H, D], k/v [L, KVH, D]; queries are the last Lq positions."""
    lq, h, _ = q.shape
    L = k.shape[0]
    g = h // k.shape[1]
    k = k.repeat_interleave(g, dim=1).float()
    v = v.repeat_interleave(g, dim=1).float()
    scores = torch.einsum("qhd,khd->hqk", q.float(), k) * scale
    if softcap:
        scores = softcap * torch.tanh(scores / softcap)
    qpos = torch.arange(L - lq, L)[:, None]
    kpos = torch.arange(L)[None, :]
    allowed = torch.ones(lq, L, dtype=torch.bool)
    if causal:
        allowed &= kpos <= qpos
    if window > 0:
        allowed &= kpos > qpos - window
    scores = scores.masked_fill(~allowed, -math.inf)
    return torch.einsum("hqk,khd->qhd", scores.softmax(-1), v)


def make_batch(rng, num_reqs, heads, kv_heads, head, block, dtype, decode_only=False):
    """Requests with random history; returns cache tensors, metadata and the
    full per-request K/V/Q the cache should hold."""
    num_blocks = 64
    cache = torch.zeros(num_blocks, kv_heads, block, 2 * head, dtype=dtype)
    key_cache, value_cache = cache.view(num_blocks, kv_heads, 2 * block, head).chunk(2, dim=2)
    free = list(range(num_blocks))
    rng.shuffle(free)
    reqs = []
    for _ in range(num_reqs):
        seq_len = rng.randint(1, 3 * block + 5)  # spans several blocks
        q_len = 1 if decode_only else rng.choice([1, seq_len, rng.randint(1, seq_len)])
        nb = -(-seq_len // block)
        blocks = [free.pop() for _ in range(nb)]
        reqs.append(dict(seq_len=seq_len, q_len=q_len, blocks=blocks,
                         k=torch.randn(seq_len, kv_heads, head).to(dtype),
                         v=torch.randn(seq_len, kv_heads, head).to(dtype),
                         q=torch.randn(q_len, heads, head).to(dtype)))
    max_blocks = max(len(r["blocks"]) for r in reqs) + 2
    block_table = torch.zeros(num_reqs, max_blocks, dtype=torch.int32)
    for i, r in enumerate(reqs):
        block_table[i, : len(r["blocks"])] = torch.tensor(r["blocks"])
    return cache, key_cache, value_cache, block_table, reqs


def fill_cache(key_cache, value_cache, block_table, reqs, block, pad=3):
    """Write each request's history through the op, with padding slots mixed in."""
    keys, values, slots = [], [], []
    for i, r in enumerate(reqs):
        for pos in range(r["seq_len"]):
            slots.append(int(block_table[i, pos // block]) * block + pos % block)
        keys.append(r["k"])
        values.append(r["v"])
    key = torch.cat(keys)
    value = torch.cat(values)
    kvh, d = key.shape[1:]
    # Padding tokens (slot -1) must be skipped, not written anywhere.
    key = torch.cat([key, torch.full((pad, kvh, d), 99.0, dtype=key.dtype)])
    value = torch.cat([value, torch.full((pad, kvh, d), 99.0, dtype=value.dtype)])
    slot_mapping = torch.tensor(slots + [-1] * pad, dtype=torch.long)
    C.cpu_attn_reshape_and_cache(key, value, key_cache, value_cache, slot_mapping,
                                 "vec", 1.0, 1.0, "auto")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("heads,kv_heads", [(4, 4), (8, 2), (12, 12)])
def test_attention_matches_full_attention(seed, heads, kv_heads):
    rng = random.Random(seed)
    torch.manual_seed(seed)
    block, head = rng.choice([16, 32]), rng.choice([32, 64])
    decode_only = seed % 3 == 0  # exercise the batched decode path too
    cache, kc, vc, block_table, reqs = make_batch(
        rng, rng.randint(1, 5), heads, kv_heads, head, block, torch.float32, decode_only
    )
    fill_cache(kc, vc, block_table, reqs, block)
    assert not (cache == 99.0).any(), "a padding slot was written into the cache"

    scale = head ** -0.5
    for r, got in zip(reqs, attend(reqs, kc, vc, block_table, scale, heads, kv_heads, head)):
        torch.testing.assert_close(got, plain_attention(r["q"], r["k"], r["v"], scale),
                                   atol=1e-4, rtol=1e-4)


def attend(reqs, kc, vc, block_table, scale, heads, kv_heads, head, window=-1, softcap=0.0,
           causal=True):
    """Run the op as vLLM's backend does; return each request's output rows."""
    query = torch.cat([r["q"] for r in reqs])
    qsl = torch.tensor([0] + [r["q_len"] for r in reqs]).cumsum(0).to(torch.int32)
    seq_lens = torch.tensor([r["seq_len"] for r in reqs], dtype=torch.int32)
    output = torch.full_like(query, float("nan"))
    meta = C.get_scheduler_metadata(len(reqs), heads, kv_heads, head, seq_lens, query.dtype,
                                    qsl, causal, window, "vec", False, None, "auto")
    C.cpu_attention_with_kv_cache(query, kc, vc, output, qsl, seq_lens, scale, causal, None,
                                  window, block_table, softcap, meta, None, None, 1.0, 1.0, "auto")
    return [output[int(qsl[i]): int(qsl[i + 1])] for i in range(len(reqs))]


def test_encoder_attention_sees_the_whole_sentence():
    # Encoder-only models (BERT, lesson 7's embedding model) attend both ways:
    # vLLM's CPU backend calls the same op with causal=False, each request's
    # queries being its whole sequence.
    rng = random.Random(3)
    torch.manual_seed(3)
    cache, kc, vc, block_table, reqs = make_batch(rng, 4, 2, 2, 64, 16, torch.float32)
    for r in reqs:
        r["q_len"] = r["seq_len"]
        r["q"] = torch.randn(r["seq_len"], 2, 64)
    fill_cache(kc, vc, block_table, reqs, 16)
    both_ways = attend(reqs, kc, vc, block_table, 0.125, 2, 2, 64, causal=False)
    causal = attend(reqs, kc, vc, block_table, 0.125, 2, 2, 64)
    for r, got, one_way in zip(reqs, both_ways, causal):
        want = plain_attention(r["q"], r["k"], r["v"], 0.125, causal=False)
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
        if r["seq_len"] > 1:  # the first token sees the rest only without the causal mask
            assert not torch.allclose(got[0], one_way[0], atol=1e-3)


@pytest.mark.parametrize("window,softcap", [(7, 0.0), (-1, 5.0)])
def test_sliding_window_and_softcap(window, softcap):
    rng = random.Random(11)
    torch.manual_seed(11)
    cache, kc, vc, block_table, reqs = make_batch(rng, 3, 4, 2, 32, 16, torch.float32)
    fill_cache(kc, vc, block_table, reqs, 16)
    outs = attend(reqs, kc, vc, block_table, 0.2, 4, 2, 32, window=window, softcap=softcap)
    for r, got in zip(reqs, outs):
        want = plain_attention(r["q"], r["k"], r["v"], 0.2, window=window, softcap=softcap)
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_half_precision_cache_close_to_float():
    rng = random.Random(5)
    torch.manual_seed(5)
    cache, kc, vc, block_table, reqs = make_batch(rng, 3, 8, 2, 64, 32, torch.bfloat16)
    fill_cache(kc, vc, block_table, reqs, 32)
    for r, got in zip(reqs, attend(reqs, kc, vc, block_table, 0.125, 8, 2, 64)):
        want = plain_attention(r["q"], r["k"], r["v"], 0.125)
        torch.testing.assert_close(got.float(), want, atol=3e-2, rtol=3e-2)


@pytest.mark.parametrize("kind", ["fp8", "fp8_e5m2"])
def test_an_fp8_cache_holds_bytes_and_stays_close_to_float(kind):
    """vLLM allocates an fp8 KV cache as uint8: the op stores x / scale as
    fp8 bytes and reads them back times the scale."""
    rng = random.Random(7)
    torch.manual_seed(7)
    floats, _, _, block_table, reqs = make_batch(rng, 3, 4, 2, 64, 16, torch.float32)
    cache = torch.zeros_like(floats, dtype=torch.uint8)  # vLLM's fp8 cache: one byte each
    kc, vc = cache.view(floats.shape[0], 2, 32, 64).chunk(2, dim=2)
    keys = torch.cat([r["k"] for r in reqs])
    slots = [int(block_table[i, p // 16]) * 16 + p % 16
             for i, r in enumerate(reqs) for p in range(r["seq_len"])]
    C.cpu_attn_reshape_and_cache(keys, torch.cat([r["v"] for r in reqs]), kc, vc,
                                 torch.tensor(slots), "vec", 2.0, 0.5, kind)
    assert cache.dtype == torch.uint8 and cache.any()
    query = torch.cat([r["q"] for r in reqs])
    qsl = torch.tensor([0] + [r["q_len"] for r in reqs]).cumsum(0).to(torch.int32)
    seq_lens = torch.tensor([r["seq_len"] for r in reqs], dtype=torch.int32)
    output = torch.full_like(query, float("nan"))
    meta = C.get_scheduler_metadata(3, 4, 2, 64, seq_lens, query.dtype, qsl, True, -1, "vec",
                                    False, None, kind)
    C.cpu_attention_with_kv_cache(query, kc, vc, output, qsl, seq_lens, 0.125, True, None, -1,
                                  block_table, 0.0, meta, None, None, 2.0, 0.5, kind)
    for i, r in enumerate(reqs):
        want = plain_attention(r["q"], r["k"], r["v"], 0.125)
        torch.testing.assert_close(output[int(qsl[i]): int(qsl[i + 1])], want, atol=0.15, rtol=0.15)


def test_an_unknown_cache_dtype_is_refused_by_name():
    with pytest.raises(NotImplementedError, match="kv_cache_dtype='int4'"):
        reference_ops._fp8_of("int4")


def test_slot_mapping_and_padding():
    block = 4
    block_table = torch.tensor([[7, 2, 0], [5, 9, 1]], dtype=torch.int32)
    # request 0: positions 2..5 (crosses a block); request 1: position 8
    qsl = torch.tensor([0, 4, 5], dtype=torch.int32)
    positions = torch.tensor([2, 3, 4, 5, 8])
    slots = torch.full((8,), 123, dtype=torch.long)
    C.compute_slot_mapping_kernel_impl(qsl, positions, block_table, slots, block)
    assert slots.tolist() == [7 * 4 + 2, 7 * 4 + 3, 2 * 4 + 0, 2 * 4 + 1, 1 * 4 + 0, -1, -1, -1]


def test_greedy_and_seeded_sampling():
    logits = torch.randn(4, 50)
    assert C.greedy_argmax(logits).tolist() == logits.argmax(-1).tolist()
    seeds = torch.tensor([1, 2, 1, 3])
    a = C.fused_gumbel_argmax(logits.clone(), seeds)
    b = C.fused_gumbel_argmax(logits.clone(), seeds)
    assert a.tolist() == b.tolist()  # same seeds, same samples
    # A row sees only its own seed: identical rows with equal seeds agree.
    same = logits[0].repeat(2, 1)
    assert C.fused_gumbel_argmax(same, torch.tensor([9, 9])).unique().numel() == 1
    # Masked (-inf) tokens are never drawn; the draw follows the distribution.
    peaked = torch.full((1, 10), -math.inf)
    peaked[0, 3], peaked[0, 6] = 0.0, math.log(3.0)
    draws = [int(C.fused_gumbel_argmax(peaked, torch.tensor([s]))) for s in range(400)]
    assert set(draws) == {3, 6}
    assert 0.65 < draws.count(6) / 400 < 0.85  # p = 0.75


def test_ops_are_registered_once_and_never_shadow():
    assert reference_ops.register_missing_ops() == []  # all present now
    for name in reference_ops.OPS:
        assert hasattr(C, name)


def test_packed_linear_is_a_linear_layer():
    # vLLM's AMX path for small half-precision weights: pack once, then multiply.
    w = torch.randn(48, 32).to(torch.bfloat16)
    x = torch.randn(5, 32).to(torch.bfloat16)
    bias = torch.randn(48)  # kept in float32 by vLLM
    packed = C.convert_weight_packed(w)
    out = torch.empty(5, 48, dtype=torch.bfloat16)
    C.weight_packed_linear(out, x, packed, bias, True)
    want = x.float() @ w.float().t() + bias
    torch.testing.assert_close(out.float(), want, atol=0.1, rtol=0.02)
