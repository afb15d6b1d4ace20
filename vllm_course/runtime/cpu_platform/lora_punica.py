"""LoRA on the CPU platform: vLLM's PyTorch LoRA ops, with "no adapter" honoured.

Every token carries the index of its adapter's slot, and -1 for a request with
no adapter (PunicaWrapperBase.token_lora_indices says so). vLLM 0.32.0's
PyTorch ops (vllm/lora/ops/torch_ops) index the stacked weights with it, and
in PyTorch -1 is the last slot: once every slot holds an adapter (two adapters
with max_loras=2), a base-model request in the same batch is answered with the
last slot's adapter. The fix: after the shrink (x @ A), the rows of tokens with
no adapter are zeroed, so the expand adds nothing to them. Only the linear
layers' path is corrected; LoRA on embeddings and logits (not used by the
course) is left as vLLM has it.
"""

from __future__ import annotations

import torch
from vllm.lora.punica_wrapper.punica_cpu import PunicaWrapperCPU


class CoursePunicaWrapperCPU(PunicaWrapperCPU):
    def _apply_shrink(self, y: torch.Tensor, x: torch.Tensor, w_t_all: torch.Tensor,
                      scale: float) -> None:
        super()._apply_shrink(y, x, w_t_all, scale)
        if self.no_lora:
            return
        rows = y.view(-1, y.shape[-1])
        indices = self.token_lora_indices
        rows[: indices.shape[0]][indices < 0] = 0
