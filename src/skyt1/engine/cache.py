"""The engine's KV cache: a transformers DynamicCache that grows in place, drops finished rows and joins
new ones (transformers 4.52.4 internals, pinned in envs/engine-cpu.yaml)."""

from __future__ import annotations


def growing_cache_class():
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
