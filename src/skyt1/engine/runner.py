"""The engine's model runner: loads the model with transformers, prefills and decodes with continuous
batching (each row with its request's own sampling parameters), on CPU or one GPU. The scheduler
(scheduler.py) feeds it; the KV cache (cache.py), the patched kernels (kernels.py) and the sampler
(sampler.py) are its parts."""

from __future__ import annotations

import logging
import os
import time
from collections import deque

from tqdm import tqdm

from ..core.errors import SkyT1Error
from ..generation import Completion, OnDone, Params
from .cache import growing_cache_class
from .kernels import prepack_linears, register_attention
from .request import Live, Request
from .sampler import RowParams, sample

log = logging.getLogger(__name__)


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
                                                          attn_implementation=register_attention()).to(device).eval()
        self.eos_ids = self._eos_ids()
        self._cache_class = growing_cache_class()
        if cfg.get("prepack", True) and device == "cpu":
            log.info("prepacked %d linear layers for oneDNN", prepack_linears(self.model))

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
        live: dict = {}  # request id -> Live
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
                        live[rid] = Live(req, self._generator(req.seed))
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

    def _completion(self, item: "Live") -> Completion:
        texts, ntok = [], 0
        for k, row in enumerate(item.tokens):
            ntok += len(row)
            if item.texts[k] is not None:
                texts.append(item.texts[k])
                continue
            kept = row[:-1] if row and row[-1] in self.eos_ids else row
            texts.append(self.tok.decode(kept, skip_special_tokens=True))
        return Completion(texts, list(item.reasons), prompt_tokens=len(item.req.prompt), completion_tokens=ntok)

    def _sample(self, logits, items: list["Live"]):
        """One token per row, each with its request's own parameters and generator (generation/sampler.py)."""
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
