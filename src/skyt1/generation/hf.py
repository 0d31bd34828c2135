"""transformers backend: batched generate() on CPU or GPU, prompts sorted by length."""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field

from tqdm import tqdm

from ..errors import SkyT1Error
from . import Completion, OnDone, Params

log = logging.getLogger(__name__)

GQA_SDPA = "skyt1_gqa_sdpa"


@dataclass(frozen=True)
class Request:
    """One request as the decoding loop sees it: its prompt ids and its own sampling parameters
    (vLLM's SamplingParams, the part this engine implements; top_k 0 = off, seed None = unseeded)."""
    prompt: list[int]
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    n: int = 1
    seed: int | None = None
    stop: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, prompt: list[int], params: Params) -> "Request":
        return cls(prompt, params.max_new_tokens, params.temperature, params.top_p, 0, params.n, params.seed)


@dataclass
class _Live:
    """A request being decoded: its rows' tokens, finish reasons and its generator."""
    req: Request
    gen: object
    tokens: list = field(default_factory=list)
    texts: list = field(default_factory=list)
    reasons: list = field(default_factory=list)
    left: int = 0

    def __post_init__(self):
        n = self.req.n
        self.tokens, self.texts, self.reasons, self.left = [[] for _ in range(n)], [None] * n, [None] * n, n


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


def _growing_cache_class():
    """A DynamicCache that writes new keys/values in place into preallocated buffers.

    DynamicCache appends with torch.cat, which allocates and copies every layer's whole cache at
    every decoding step; with glibc's malloc those fresh multi-MB blocks are page-faulted in each
    time, and that copy was 40% of a batch-32 decode step of SmolLM2 on CPU (profiled). Here each
    layer's buffer doubles when full, so a step writes one position and hands out views."""
    import torch
    from transformers import DynamicCache

    class GrowingCache(DynamicCache):
        def __init__(self) -> None:
            super().__init__()
            self._buffers: list[list[torch.Tensor]] = []  # per layer: [keys, values], (B, H, capacity, D)
            self._lengths: list[int] = []

        def update(self, key_states, value_states, layer_idx, cache_kwargs=None):
            n = key_states.shape[-2]
            if layer_idx == 0:
                self._seen_tokens += n
            if layer_idx == len(self._buffers):
                shape = key_states.shape[:2] + (max(2 * n, 64),) + key_states.shape[3:]
                self._buffers.append([key_states.new_zeros(shape), value_states.new_zeros(shape)])
                self._lengths.append(0)
                self.key_cache.append(key_states)
                self.value_cache.append(value_states)
            start = self._lengths[layer_idx]
            if start + n > self._buffers[layer_idx][0].shape[-2]:
                self._move(layer_idx, 2 * (start + n))
            for buf, new in zip(self._buffers[layer_idx], (key_states, value_states)):
                buf[:, :, start:start + n] = new
            self._lengths[layer_idx] = start + n
            self._views(layer_idx)
            return self.key_cache[layer_idx], self.value_cache[layer_idx]

        def _move(self, layer_idx: int, capacity: int, left_pad: int = 0) -> None:
            """Copy the layer's used positions into new zeroed buffers of `capacity` positions,
            shifted right by `left_pad` (the padding stays zero and is masked out)."""
            length = self._lengths[layer_idx]
            for j, old in enumerate(self._buffers[layer_idx]):
                buf = old.new_zeros(old.shape[:2] + (capacity,) + old.shape[3:])
                buf[:, :, left_pad:left_pad + length] = old[:, :, :length]
                self._buffers[layer_idx][j] = buf
            self._lengths[layer_idx] = length + left_pad
            self._views(layer_idx)

        def _views(self, layer_idx: int) -> None:
            end = self._lengths[layer_idx]
            self.key_cache[layer_idx] = self._buffers[layer_idx][0][:, :, :end]
            self.value_cache[layer_idx] = self._buffers[layer_idx][1][:, :, :end]

        def batch_select_indices(self, indices) -> None:
            for layer, bufs in enumerate(self._buffers):
                bufs[:] = [b.index_select(0, indices) for b in bufs]
                self._views(layer)

        def repeated(self, rows: int) -> "GrowingCache":
            """A new cache holding `rows` copies of this one-row cache (a shared prompt prefix)."""
            copy = GrowingCache()
            copy._seen_tokens, copy._lengths = self._seen_tokens, list(self._lengths)
            index = torch.zeros(rows, dtype=torch.long, device=self._buffers[0][0].device)
            for layer, bufs in enumerate(self._buffers):
                copy._buffers.append([b.index_select(0, index) for b in bufs])
                copy.key_cache.append(None)
                copy.value_cache.append(None)
                copy._views(layer)
            return copy

        def join(self, other: "GrowingCache") -> None:
            """Append other's rows below ours, left-padding the shorter side to the longer."""
            for layer in range(len(self._buffers)):
                length = max(self._lengths[layer], other._lengths[layer])
                capacity = max(2 * length, 64)
                for cache in (self, other):
                    cache._move(layer, capacity, left_pad=length - cache._lengths[layer])
                self._buffers[layer] = [torch.cat([a, b]) for a, b in zip(self._buffers[layer], other._buffers[layer])]
                self._views(layer)
            self._seen_tokens = max(self._seen_tokens, other._seen_tokens)

    return GrowingCache


PACKED_MAX_ROWS = 256  # above this many rows (prefill) the plain MKL GEMM is as fast or faster


def _prepack_linears(model) -> int:
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


def _register_attention() -> str:
    try:
        from transformers import AttentionInterface
    except ImportError:  # older transformers: keep its own SDPA
        return "sdpa"
    AttentionInterface.register(GQA_SDPA, _gqa_sdpa)
    return GQA_SDPA


class TransformersBackend:
    name = "transformers"

    def __init__(self, model_dir: str, cfg: dict, threads: int = 1, progress: bool = True):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not isinstance(model_dir, str):
            raise SkyT1Error("the transformers backend needs a local model folder", "use a gguf_package or hub model")
        torch.set_num_threads(cfg.get("threads", threads))
        device = cfg.get("device", "auto")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise SkyT1Error("backend.device is cuda but no GPU is visible", "set backend.device: auto or cpu")
        dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16,
                 "auto": "auto"}[cfg.get("dtype", "float32")]
        self.torch = torch
        self.device = device
        self.batch_size = cfg.get("batch_size", 8)
        self.progress = progress
        self.tok = AutoTokenizer.from_pretrained(model_dir)
        self.tok.padding_side = "left"  # decoder-only batching: pad on the left so generation continues the prompt
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=dtype,
                                                          attn_implementation=_register_attention()).to(device).eval()
        self.eos_ids = self._eos_ids()
        self._cache_class = _growing_cache_class()
        if cfg.get("prepack", True) and device == "cpu":
            log.info("prepacked %d linear layers for oneDNN", _prepack_linears(self.model))

    def _eos_ids(self) -> set[int]:
        ids = self.model.generation_config.eos_token_id
        ids = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
        ids.add(self.tok.eos_token_id)
        return ids

    def _encode(self, conversation: list[dict]) -> list[int]:
        prompt = self.tok.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
        return self.tok(prompt, add_special_tokens=False).input_ids

    def max_model_len(self, configured: int | None = None) -> int:
        """The context the engine enforces: the configured max_model_len, else the model's
        max_position_embeddings (as vLLM derives it); a configured length above the model's is refused
        (vLLM refuses it too)."""
        derived = getattr(self.model.config, "max_position_embeddings", None)
        if configured and derived and configured > derived:
            raise SkyT1Error(f"max_model_len {configured} is above the model's max_position_embeddings {derived}",
                             f"set backend.max_model_len to at most {derived}, or leave it out")
        if not (configured or derived):
            raise SkyT1Error("the model's config has no max_position_embeddings", "set backend.max_model_len")
        return int(configured or derived)

    def encode(self, conversation: list[dict]) -> list[int]:
        return self._encode(conversation)

    def generate(self, conversations: list[list[dict]], params: Params, on_done: OnDone) -> None:
        """In-process generation with one set of sampling parameters (tests, benches)."""
        ids = [self._encode(c) for c in conversations]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths share a prefill
        pending = deque(order)
        t0, generated = time.time(), 0
        bar = tqdm(total=len(ids), desc="generate", unit="item", mininterval=2.0, disable=not self.progress)

        def take(free: int, idle: bool) -> list:
            out = []
            while pending and (len(out) + 1) * params.n <= max(free, params.n if idle and not out else 0):
                i = pending.popleft()
                out.append((i, Request.from_params(ids[i], params)))
            return out

        def emit(i: int, comp: Completion) -> None:
            nonlocal generated
            generated += comp.completion_tokens
            on_done(i, comp)
            bar.update(1)
            bar.set_postfix(tok_s=f"{generated / max(time.time() - t0, 1e-9):.1f}", refresh=False)

        self.run(take, emit)
        bar.close()

    def run(self, take, emit, on_step=None) -> None:
        """Continuous batching over requests that keep arriving, each with its own sampling parameters.

        take(free, idle) returns (request id, Request) pairs whose rows (n each) fit in `free` rows; idle
        is True when nothing is decoding, and returning nothing then ends the call. emit(id, Completion)
        is called as each request finishes; on_step(rows) after each decoding step (counters)."""
        with self.torch.inference_mode():
            self._continuous(take, emit, on_step or (lambda rows: None))

    # Continuous batching on one device (vLLM's scheduler / model runner / sampler, in small): up to
    # batch_size rows (sequences) decode together, each with its request's own sampling parameters; a
    # row leaves the batch (with its KV cache rows) the step it ends, and waiting prompts are
    # prefilled and merged in once a quarter of the slots are free.
    def _continuous(self, take, emit, on_step) -> None:
        torch = self.torch
        live: dict = {}  # request id -> _Live
        refill_at = max(1, self.batch_size // 4)
        rows: list[tuple] = []  # (request id, sample index) per batch row
        state = None  # (cache, attention mask, next position, last logits) of the rows
        prefix, first = None, True
        while True:
            free = self.batch_size - len(rows)
            if not rows or free >= refill_at:
                new = take(free, not rows)
                if new:
                    prompts = [req.prompt for _, req in new for _ in range(req.n)]
                    if first:
                        prefix, first = self._prefix(prompts), False
                    state = self._merge(state, self._prefill(prompts, prefix))
                    for rid, req in new:
                        live[rid] = _Live(req, self._generator(req.seed))
                        rows += [(rid, k) for k in range(req.n)]
                elif not rows:
                    return
            cache, mask, pos, logits = state
            on_step(len(rows))
            token = self._sample(logits, [live[rid] for rid, _ in rows])
            keep = []
            for r, ((rid, k), t) in enumerate(zip(rows, token.tolist())):
                item = live[rid]
                out = item.tokens[k]
                out.append(t)
                reason = None
                if t in self.eos_ids:
                    reason = "stop"
                elif item.req.stop and (cut := self._stop_cut(out, item.req.stop)) is not None:
                    item.texts[k], reason = cut, "stop"
                elif len(out) >= item.req.max_tokens:
                    reason = "length"
                if reason is None:
                    keep.append(r)
                    continue
                item.reasons[k] = reason
                item.left -= 1
                if item.left == 0:
                    del live[rid]
                    emit(rid, self._completion(item))
            if not keep:
                rows, state = [], None
                continue
            if len(keep) < len(rows):
                kept = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(kept)
                mask, pos, token = mask[kept], pos[kept], token[kept]
                rows = [rows[r] for r in keep]
            mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=-1)
            out = self.model(input_ids=token[:, None], attention_mask=mask, position_ids=pos,
                             past_key_values=cache, use_cache=True)
            state = (out.past_key_values, mask, pos + 1, out.logits[:, -1, :])

    def _generator(self, seed: int | None):
        gen = self.torch.Generator(device=self.device)
        if seed is None:  # vLLM: no seed, no reproducibility
            gen.seed()
        else:
            gen.manual_seed(seed)
        return gen

    def _stop_cut(self, tokens: list[int], stop: tuple[str, ...]) -> str | None:
        """The text before the first stop string, once one appears in the decoded output (vLLM leaves the
        stop string out by default)."""
        text = self.tok.decode(tokens, skip_special_tokens=True)
        hits = [i for i in (text.find(s) for s in stop) if i >= 0]
        return text[: min(hits)] if hits else None

    def _completion(self, item: "_Live") -> Completion:
        texts, ntok = [], 0
        for k, row in enumerate(item.tokens):
            ntok += len(row)
            if item.texts[k] is not None:
                texts.append(item.texts[k])
                continue
            kept = row[:-1] if row and row[-1] in self.eos_ids else row
            texts.append(self.tok.decode(kept, skip_special_tokens=True))
        return Completion(texts, list(item.reasons), prompt_tokens=len(item.req.prompt), completion_tokens=ntok)

    def _sample(self, logits, items: list["_Live"]):
        """One token per row, each with its request's own parameters and generator (generation/sampler.py)."""
        from .sampler import RowParams, sample  # torch is imported lazily here, as everywhere in this module

        params = [RowParams(it.req.temperature, it.req.top_p, it.req.top_k) for it in items]
        return sample(logits, params, [it.gen for it in items])

    def _prefix(self, prompts: list[list[int]]):
        """The prompt prefix the batch shares (system prompt and chat template), run once.

        Every prefill after that copies its keys/values instead of recomputing them: with a
        shared system prompt this is most of each prompt. None when there is too little to share."""
        if len(prompts) < 2:
            return None
        shared = os.path.commonprefix(prompts)[: min(len(p) for p in prompts) - 1]  # keep one token to run
        if len(shared) < 8:
            return None
        out = self.model(input_ids=self.torch.tensor([shared], device=self.device), use_cache=True,
                         past_key_values=self._cache_class(), logits_to_keep=1)
        return shared, out.past_key_values

    def _prefill(self, batch: list[list[int]], prefix=None):
        torch = self.torch
        shared, cache = ([], self._cache_class())
        if prefix is not None and all(x[: len(prefix[0])] == prefix[0] for x in batch):
            shared, cache = prefix[0], prefix[1].repeated(len(batch))
            batch = [x[len(shared):] for x in batch]
        width = max(len(x) for x in batch)
        pad = self.tok.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(x)) + x for x in batch], device=self.device)
        mask = torch.tensor([[1] * len(shared) + [0] * (width - len(x)) + [1] * len(x) for x in batch],
                            device=self.device)
        position = len(shared) + (mask[:, len(shared):].cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=position, use_cache=True,
                         past_key_values=cache, logits_to_keep=1)
        return out.past_key_values, mask, position[:, -1:] + 1, out.logits[:, -1, :]

    def _merge(self, a, b):
        """Join two batches of sequences: the shorter cache is left-padded (masked out) to the longer."""
        if a is None:
            return b
        import torch.nn.functional as F

        torch = self.torch
        (ca, ma, pa, la), (cb, mb, pb, lb) = a, b
        length = max(ma.shape[1], mb.shape[1])
        ca.join(cb)
        mask = torch.cat([F.pad(ma, (length - ma.shape[1], 0)), F.pad(mb, (length - mb.shape[1], 0))], dim=0)
        return ca, mask, torch.cat([pa, pb]), torch.cat([la, lb])

    def close(self) -> None:
        del self.model
