"""The transformers internals the runner patches (transformers 4.52.4, pinned in envs/engine-cpu.yaml):
grouped-query SDPA attention without repeat_kv, and oneDNN-prepacked linear layers for decode steps.
With cache.py, the only modules that touch transformers' private API."""

from __future__ import annotations

GQA_SDPA = "skyt1_gqa_sdpa"


def _gqa_sdpa(module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None, **kwargs):
    """SDPA attention that lets torch handle grouped-query attention (enable_gqa) instead of
    transformers' repeat_kv, which copies the whole KV cache of every layer at every decoding step:
    that copy was 43% of a batch-64 decode step of SmolLM2 on CPU. Same numbers, no copy."""
    import torch.nn.functional as F

    mask = attention_mask
    if mask is not None and mask.ndim == 4:
        mask = mask[:, :, :, : key.shape[-2]]
    if is_causal is None:
        is_causal = query.shape[2] > 1 and mask is None
    out = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=dropout, scale=scaling,
                                         is_causal=is_causal, enable_gqa=key.shape[1] != query.shape[1])
    return out.transpose(1, 2).contiguous(), None


PACKED_MAX_ROWS = 256  # above this many rows (prefill) the plain MKL GEMM is as fast or faster


def prepack_linears(model) -> int:
    """Give every fp32 CPU nn.Linear a oneDNN-prepacked copy of its weight for decoding.

    A decode step multiplies a few dozen rows by every weight matrix; plain F.linear re-packs the
    weight on each call, which measured 1.3-3.4x slower than a prepacked oneDNN GEMM at 8-32 rows
    (SmolLM2 shapes, lm_head included). Numbers match F.linear to fp32 rounding. Costs one extra
    copy of the weights in memory. Returns how many layers were packed (0 when oneDNN is absent)."""
    import types

    import torch
    import torch.nn.functional as F

    if not torch.backends.mkldnn.is_available():
        return 0

    def forward(self, x):
        if x.numel() // x.shape[-1] > PACKED_MAX_ROWS:
            return F.linear(x, self.weight, self.bias)
        return torch.ops.mkldnn._linear_pointwise(x, self._skyt1_packed, self.bias, "none", [], "")

    packed = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear) and module.weight.device.type == "cpu" \
                and module.weight.dtype == torch.float32:
            module._skyt1_packed = torch.ops.mkldnn._reorder_linear_weight(module.weight.detach(), 32)
            module.forward = types.MethodType(forward, module)
            packed += 1
    return packed


def register_attention() -> str:
    try:
        from transformers import AttentionInterface
    except ImportError:  # older transformers: keep its own SDPA
        return "sdpa"
    AttentionInterface.register(GQA_SDPA, _gqa_sdpa)
    return GQA_SDPA
