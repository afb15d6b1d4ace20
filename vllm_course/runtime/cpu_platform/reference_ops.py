"""Pure-PyTorch stand-ins for the compiled CPU ops that vLLM's CPU path calls.

The registry wheel of vLLM carries CUDA kernels only, so on a CPU-only machine
`torch.ops._C.*` is empty. vLLM's own CPU worker, model runner and attention
backend call the ops below; implementing them here lets all of that code run
unchanged. They favour clarity and plain tensor ops over speed, but avoid
per-token Python loops on the hot paths (cache writes, decode attention).

Layouts (vLLM 0.32.0, CPU_ATTN backend):
- a layer's cache is [num_blocks, num_kv_heads, block_size, 2*head_size], viewed
  as [num_blocks, num_kv_heads, 2*block_size, head_size] and split on dim 2
  into key_cache and value_cache, each [num_blocks, num_kv_heads, block_size,
  head_size] (non-contiguous views of the same storage);
- slot = block * block_size + offset; slot -1 is padding;
- request i has queries query[query_start_loc[i]:query_start_loc[i+1]], the
  last ones of its seq_lens[i] tokens, read through block_table[i].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

PAD_SLOT_ID = -1


def init_cpu_memory_env(nodes: list[int]) -> None:
    """NUMA binding is an optimisation of the compiled build; nothing to do."""


def cpu_attn_has_isa(isa: str) -> bool:
    # Only vLLM's RISC-V probe asks; the reference ops are ISA-neutral.
    return False


def get_scheduler_metadata(
    num_reqs: int,
    num_heads: int,
    num_kv_heads: int,
    head_dim: int,
    seq_lens: torch.Tensor,
    dtype: torch.dtype,
    query_start_loc: torch.Tensor,
    causal: bool,
    window_size: int,
    isa: str,
    enable_kv_split: bool,
    dynamic_causal: torch.Tensor | None,
    kv_cache_dtype: str,
) -> torch.Tensor:
    # The compiled kernel plans its work split here; the reference attention
    # needs no plan. The tensor is opaque to everyone but the attention op.
    return torch.empty(0, dtype=torch.uint8)


def compute_slot_mapping(
    query_start_loc: torch.Tensor,
    positions: torch.Tensor,
    block_table: torch.Tensor,
    slot_mapping: torch.Tensor,
    block_size: int,
) -> None:
    """slot_mapping[t] = block_table[req(t), pos(t) // bs] * bs + pos(t) % bs.

    Tokens past the last request's end are padding and get PAD_SLOT_ID.
    """
    num_reqs = query_start_loc.numel() - 1
    num_tokens = int(query_start_loc[num_reqs]) if num_reqs >= 0 else 0
    slot_mapping[num_tokens:] = PAD_SLOT_ID
    if num_tokens == 0:
        return
    counts = (query_start_loc[1:] - query_start_loc[:-1]).to(torch.long)
    req_of_token = torch.repeat_interleave(torch.arange(num_reqs), counts)
    pos = positions[:num_tokens].to(torch.long)
    blocks = block_table[req_of_token, pos // block_size].to(torch.long)
    slot_mapping[:num_tokens] = blocks * block_size + pos % block_size


def cpu_attn_reshape_and_cache(
    key: torch.Tensor,  # [num_tokens, num_kv_heads, head_size]
    value: torch.Tensor,
    key_cache: torch.Tensor,  # [num_blocks, num_kv_heads, block_size, head_size]
    value_cache: torch.Tensor,
    slot_mapping: torch.Tensor,  # [>= num_tokens]
    isa: str,
    k_scale: float,
    v_scale: float,
    kv_cache_dtype: str,
) -> None:
    fp8 = _fp8_of(kv_cache_dtype)
    num_tokens = key.shape[0]
    slots = slot_mapping[:num_tokens].to(torch.long)
    keep = slots >= 0
    if not bool(keep.all()):
        slots, key, value = slots[keep], key[keep], value[keep]
    block_size = key_cache.shape[2]
    blocks, offsets = slots // block_size, slots % block_size
    if fp8 is not None:  # vLLM keeps an fp8 cache as bytes: x / scale, as fp8, as bytes
        key = (key.float() / k_scale).to(fp8).view(torch.uint8)
        value = (value.float() / v_scale).to(fp8).view(torch.uint8)
    # Advanced indexing on the (non-contiguous) views writes through to the
    # shared cache storage. Result shape of cache[b, :, o] is [n, heads, dim].
    key_cache[blocks, :, offsets] = key.to(key_cache.dtype)
    value_cache[blocks, :, offsets] = value.to(value_cache.dtype)


def cpu_attention_with_kv_cache(
    query: torch.Tensor,  # [num_tokens, num_heads, head_size]
    key_cache: torch.Tensor,
    value_cache: torch.Tensor,
    output: torch.Tensor,  # [num_tokens, num_heads, head_size] (or flattened)
    query_start_loc: torch.Tensor,  # [num_reqs + 1]
    seq_lens: torch.Tensor,  # [num_reqs]
    scale: float,
    causal: bool,
    alibi_slopes: torch.Tensor | None,
    sliding_window: int,
    block_table: torch.Tensor,  # [num_reqs, max_blocks]
    softcap: float,
    scheduler_metadata: torch.Tensor,
    s_aux: torch.Tensor | None,
    dynamic_causal: torch.Tensor | None,
    k_scale: float,
    v_scale: float,
    kv_cache_dtype: str,
) -> None:
    fp8 = _fp8_of(kv_cache_dtype)
    for name, value in (("alibi_slopes", alibi_slopes), ("attention sinks", s_aux),
                        ("dynamic_causal", dynamic_causal)):
        if value is not None:
            raise NotImplementedError(
                f"vllm_course CPU reference attention does not support {name}; "
                "use a model without it (OPT needs none of these)."
            )
    num_tokens, num_heads, head_size = query.shape
    out = output.view(num_tokens, num_heads, head_size)
    num_reqs = seq_lens.numel()
    if num_reqs == 0:
        return
    q_starts = query_start_loc.tolist()
    lens = seq_lens.tolist()
    q_lens = [q_starts[i + 1] - q_starts[i] for i in range(num_reqs)]
    opts = (scale, causal, sliding_window, softcap)

    def load(cached: torch.Tensor, scale_of: float) -> torch.Tensor:
        """Gathered cache rows as the query's dtype (an fp8 cache dequantized)."""
        if fp8 is None:
            return cached
        return (cached.view(fp8).float() * scale_of).to(query.dtype)

    if max(q_lens) == 1 and min(q_lens) == 1:
        # Pure decode: one padded batch instead of a Python loop per request.
        out[:num_reqs] = _decode_batch(
            query[:num_reqs], key_cache, value_cache, block_table, lens, *opts,
            load=load, scales=(k_scale, v_scale)
        )
        return
    for i in range(num_reqs):
        s, e = q_starts[i], q_starts[i + 1]
        if e > s:
            out[s:e] = _attend_one(
                query[s:e], key_cache, value_cache, block_table[i], lens[i], *opts,
                load=load, scales=(k_scale, v_scale)
            )


# vLLM's fp8 KV-cache names; "fp8" is e4m3, as on GPUs.
FP8_CACHES = {"fp8": torch.float8_e4m3fn, "fp8_e4m3": torch.float8_e4m3fn,
              "fp8_e5m2": torch.float8_e5m2}


def _fp8_of(kv_cache_dtype: str) -> torch.dtype | None:
    """The fp8 type an fp8 cache holds, None for a plain one; else refuse."""
    if kv_cache_dtype in FP8_CACHES:
        return FP8_CACHES[kv_cache_dtype]
    if kv_cache_dtype not in ("auto", "float16", "bfloat16", "float32", "float"):
        raise NotImplementedError(
            f"vllm_course CPU reference ops do not support kv_cache_dtype="
            f"{kv_cache_dtype!r}; use 'auto' or one of {', '.join(FP8_CACHES)}."
        )
    return None


def _plain(cached: torch.Tensor, scale_of: float) -> torch.Tensor:
    return cached


def _gather_kv(cache: torch.Tensor, blocks: torch.Tensor, length: int) -> torch.Tensor:
    """[num_kv_heads, length, head_size] for one request's cached tokens."""
    picked = cache.index_select(0, blocks)  # [nb, kvh, bs, d]
    kvh, d = picked.shape[1], picked.shape[3]
    return picked.permute(1, 0, 2, 3).reshape(kvh, -1, d)[:, :length]


def _attend_one(q, key_cache, value_cache, blocks_row, seq_len, scale, causal,
                sliding_window, softcap, load=_plain, scales=(1.0, 1.0)):
    block_size = key_cache.shape[2]
    nb = -(-seq_len // block_size)
    blocks = blocks_row[:nb].to(torch.long)
    k = load(_gather_kv(key_cache, blocks, seq_len), scales[0])
    v = load(_gather_kv(value_cache, blocks, seq_len), scales[1])
    q_len = q.shape[0]
    # Queries are the last q_len positions of the sequence.
    q_pos = torch.arange(seq_len - q_len, seq_len).unsqueeze(1)
    k_pos = torch.arange(seq_len).unsqueeze(0)
    mask = _mask(q_pos, k_pos, causal, sliding_window)
    res = _sdpa(q.transpose(0, 1), k, v, mask, scale, softcap)  # [h, q, d]
    return res.transpose(0, 1)


def _decode_batch(q, key_cache, value_cache, block_table, lens, scale, causal,
                  sliding_window, softcap, load=_plain, scales=(1.0, 1.0)):
    num_reqs = q.shape[0]
    block_size = key_cache.shape[2]
    max_len = max(lens)
    nb = -(-max_len // block_size)
    kvh, d = key_cache.shape[1], key_cache.shape[3]
    if nb == 1:
        # Short sequences (the common case here): copy only the used slots.
        first = block_table[:num_reqs, 0].to(torch.long)
        k = key_cache[:, :, :max_len].index_select(0, first)  # [r, kvh, len, d]
        v = value_cache[:, :, :max_len].index_select(0, first)
    else:
        blocks = block_table[:num_reqs, :nb].to(torch.long).clamp_min(0)

        def gather(cache):
            picked = cache[blocks]  # [r, nb, kvh, bs, d]
            return picked.permute(0, 2, 1, 3, 4).reshape(num_reqs, kvh, -1, d)[:, :, :max_len]

        k, v = gather(key_cache), gather(value_cache)
    k, v = load(k, scales[0]), load(v, scales[1])
    # The query is each sequence's last token: causality only hides padding.
    lens_t = torch.tensor(lens).view(num_reqs, 1, 1, 1)
    k_pos = torch.arange(max_len).view(1, 1, 1, max_len)
    mask = k_pos < lens_t
    if sliding_window is not None and sliding_window > 0:
        mask = mask & (k_pos > lens_t - 1 - sliding_window)
    res = _sdpa(q.unsqueeze(2), k, v, mask, scale, softcap)  # [r, h, 1, d]
    return res.squeeze(2)


def _mask(q_pos, k_pos, causal, sliding_window):
    mask = torch.ones(torch.broadcast_shapes(q_pos.shape, k_pos.shape), dtype=torch.bool)
    if causal:
        mask &= k_pos <= q_pos
    if sliding_window is not None and sliding_window > 0:
        mask &= k_pos > q_pos - sliding_window
    return mask


def _sdpa(q, k, v, mask, scale, softcap):
    """q [..., h, q, d]; k, v [..., kvh, k, d]; grouped-query heads expanded."""
    groups = q.shape[-3] // k.shape[-3]
    if groups > 1:
        k = k.repeat_interleave(groups, dim=-3)
        v = v.repeat_interleave(groups, dim=-3)
    if softcap and softcap > 0:
        scores = (q.float() @ k.float().transpose(-1, -2)) * scale
        scores = softcap * torch.tanh(scores / softcap)
        scores = scores.masked_fill(~mask, -math.inf)
        return (scores.softmax(-1) @ v.float()).to(q.dtype)
    if q.dtype != v.dtype:
        k, v = k.to(q.dtype), v.to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)


def convert_weight_packed(weight: torch.Tensor) -> torch.Tensor:
    """vLLM pre-packs small bf16/fp16 weights for AMX kernels on AMX CPUs; the
    reference "packed" form is the weight itself, [N, K]."""
    return weight.contiguous()


def weight_packed_linear(out: torch.Tensor, x: torch.Tensor, packed_weight: torch.Tensor,
                         bias: torch.Tensor | None, is_vnni: bool) -> None:
    result = F.linear(x, packed_weight.to(x.dtype))
    if bias is not None:  # vLLM keeps this path's bias in float32
        result = result + bias.to(result.dtype)
    out.copy_(result)


def greedy_argmax(logits: torch.Tensor) -> torch.Tensor:
    return logits.argmax(dim=-1).view(-1)


def fused_gumbel_argmax(logits: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
    """Sample one token per row from softmax(logits), row i seeded by seeds[i].

    Exponential-race form of Gumbel-max: argmax(p / q), q ~ Exp(1). A row's
    sample depends only on its own seed, so seeded requests reproduce.
    """
    probs = logits.float().softmax(dim=-1)
    out = torch.empty(logits.shape[0], dtype=torch.long)
    gen = torch.Generator()
    noise = torch.empty(logits.shape[1], dtype=torch.float32)
    for i, seed in enumerate(seeds.tolist()):
        gen.manual_seed(int(seed))
        noise.exponential_(generator=gen)
        out[i] = torch.argmax(probs[i] / noise)
    return out


# name -> (schema, implementation). Schemas follow vLLM's csrc/cpu/torch_bindings.
OPS = {
    "init_cpu_memory_env": ("init_cpu_memory_env(int[] nodes) -> ()", init_cpu_memory_env),
    "cpu_attn_has_isa": ("cpu_attn_has_isa(str isa) -> bool", cpu_attn_has_isa),
    "get_scheduler_metadata": (
        "get_scheduler_metadata(int num_reqs, int num_heads, int num_kv_heads, "
        "int head_dim, Tensor seq_lens, ScalarType dtype, Tensor query_start_loc, "
        "bool causal, int window_size, str isa, bool enable_kv_split, "
        "Tensor? dynamic_causal, str kv_cache_dtype) -> Tensor",
        get_scheduler_metadata,
    ),
    "compute_slot_mapping_kernel_impl": (
        "compute_slot_mapping_kernel_impl(Tensor query_start_loc, Tensor positions, "
        "Tensor block_table, Tensor(a!) slot_mapping, int block_size) -> ()",
        compute_slot_mapping,
    ),
    "cpu_attn_reshape_and_cache": (
        "cpu_attn_reshape_and_cache(Tensor key, Tensor value, Tensor(a!) key_cache, "
        "Tensor(b!) value_cache, Tensor slot_mapping, str isa, float k_scale, "
        "float v_scale, str kv_cache_dtype) -> ()",
        cpu_attn_reshape_and_cache,
    ),
    "cpu_attention_with_kv_cache": (
        "cpu_attention_with_kv_cache(Tensor query, Tensor key_cache, "
        "Tensor value_cache, Tensor(a!) output, Tensor query_start_loc, "
        "Tensor seq_lens, float scale, bool causal, Tensor? alibi_slopes, "
        "int sliding_window, Tensor block_table, float softcap, "
        "Tensor scheduler_metadata, Tensor? s_aux, Tensor? dynamic_causal, "
        "float k_scale, float v_scale, str kv_cache_dtype) -> ()",
        cpu_attention_with_kv_cache,
    ),
    "convert_weight_packed": ("convert_weight_packed(Tensor weight) -> Tensor",
                              convert_weight_packed),
    "weight_packed_linear": (
        "weight_packed_linear(Tensor(a!) out, Tensor mat1, Tensor mat2, Tensor? bias, "
        "bool is_vnni) -> ()",
        weight_packed_linear,
    ),
    "greedy_argmax": ("greedy_argmax(Tensor logits) -> Tensor", greedy_argmax),
    "fused_gumbel_argmax": (
        "fused_gumbel_argmax(Tensor logits, Tensor seeds) -> Tensor",
        fused_gumbel_argmax,
    ),
}

_library: torch.library.Library | None = None


def register_missing_ops() -> list[str]:
    """Define in torch.ops._C each op of OPS that no compiled build provides.

    Returns the names registered. Ops that already exist (a real CPU build of
    vLLM was imported) are left alone, so compiled kernels are never shadowed.
    """
    global _library
    missing = [name for name in OPS if not hasattr(torch.ops._C, name)]
    if not missing:
        return []
    if _library is None:
        # FRAGMENT: the namespace may also hold ops from a compiled library.
        _library = torch.library.Library("_C", "FRAGMENT")
    for name in missing:
        schema, impl = OPS[name]
        _library.define(schema)
        _library.impl(name, impl, "CompositeExplicitAutograd")
    return missing
