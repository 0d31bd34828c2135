"""A stand-in for a Qwen2.5 model, built offline in seconds: Qwen2 architecture, random weights, a small
byte-level BPE tokenizer with Qwen's special tokens and chat format.

It lets the 32B preset's code paths (LLaMA-Factory's argument and template checks, DeepSpeed ZeRO-3,
checkpoint loading) run on a CPU machine with no model hub. The weights are random: it says nothing about
quality. Special tokens and their roles follow Qwen2.5-Instruct's tokenizer files: eos <|im_end|>,
pad <|endoftext|>, no bos token."""

from __future__ import annotations

import json
from pathlib import Path

from ..core.io import atomic_dir
from ..identity import MANIFEST, weights_sha256

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = [ENDOFTEXT, IM_START, IM_END]

# The same rendering as Qwen2.5-Instruct's template for plain (tool-free) chats, written for this
# stand-in: a default system turn when none is given, <|im_end|> after every turn.
CHAT_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{{ '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{% else %}{% set loop_messages = messages %}"
    "{{ '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{% endif %}"
    "{% for message in loop_messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Text the BPE merges are learned from: enough for common English words, digits and the chat scaffolding.
_CORPUS = [
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    "system user assistant tool",
    "What is 2 + 3? The answer is 5. Let us think step by step.",
    "Return the final answer within \\boxed{}. def solve(n): return n * 2",
    "<|begin_of_thought|> First, check the numbers. <|end_of_thought|> <|begin_of_solution|> 42 <|end_of_solution|>",
    "The quick brown fox jumps over the lazy dog. 0123456789 + - * / = ( ) [ ] { } , . : ; ! ?",
]


def build_tokenizer(vocab_size: int = 400):
    """A fast tokenizer with byte-level BPE (every string encodes, nothing is unknown) and Qwen's specials."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator(_CORPUS * 4, trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=core, eos_token=IM_END, pad_token=ENDOFTEXT,
                                  additional_special_tokens=[IM_START, IM_END], model_max_length=32768,
                                  clean_up_tokenization_spaces=False)
    tok.chat_template = CHAT_TEMPLATE
    return tok


def build_model(tokenizer, layers: int = 2, hidden: int = 64, heads: int = 4, kv_heads: int = 2,
                intermediate: int = 128, seed: int = 0):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=32768,
        rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=False, use_sliding_window=False,
        bos_token_id=tokenizer.convert_tokens_to_ids(ENDOFTEXT),
        eos_token_id=tokenizer.convert_tokens_to_ids(IM_END),
        pad_token_id=tokenizer.convert_tokens_to_ids(ENDOFTEXT),
    )
    torch.manual_seed(seed)
    return Qwen2ForCausalLM(config)


def build_tiny_qwen2(out_dir: str | Path, *, layers: int = 2, hidden: int = 64, heads: int = 4, kv_heads: int = 2,
                     intermediate: int = 128, vocab_size: int = 400, seed: int = 0, manifest: dict | None = None) -> Path:
    """Write a loadable model folder (config, safetensors, tokenizer files) to out_dir atomically.
    `manifest` entries go into its skyt1_model.json beside the sizes (the pipeline's model source
    names the model and what it stands in for there)."""

    out_dir = Path(out_dir)
    tok = build_tokenizer(vocab_size)
    model = build_model(tok, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads,
                        intermediate=intermediate, seed=seed)
    sizes = {"layers": layers, "hidden": hidden, "heads": heads, "kv_heads": kv_heads, "intermediate": intermediate,
             "vocab_size": vocab_size, "seed": seed}
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (tmp / MANIFEST).write_text(json.dumps(
            {"name": "tiny-qwen2", "source": "random", **(manifest or {}), "architecture": "Qwen2ForCausalLM",
             "random_weights": True, "sizes": sizes, "seed": seed,
             "parameters": sum(p.numel() for p in model.parameters()), "weights_sha256": weights_sha256(tmp)},
            indent=2) + "\n")
    return out_dir
