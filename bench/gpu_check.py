"""The transformers backend on a CUDA GPU, with random weights built from a model config.

No hub and no weights are needed: give a folder holding a config.json and tokenizer files (for
example results/models/smollm2-135m-instruct without its model.safetensors). The script builds a
randomly initialised model from that config, saves it, and runs the project's TransformersBackend on
it the way the sample stage does. It prints:
1. greedy parity in float32: continuous batching (rows leaving, prompts joining, a shared prefix)
   against unpadded model.generate() one prompt at a time, as matching prompts out of all;
2. seeded sampling on the GPU: two runs with the same seed give the same n samples;
3. bf16 throughput (generated tokens/s) at batch 1 and with continuous batching.

    python bench/gpu_check.py --config-dir results/models/smollm2-135m-instruct [--prompts 256]

It exits non-zero if no GPU is visible or parity/seeding fail.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "generation_config.json", "tokenizer.model")


def random_model(config_dir: Path, out: Path, dtype) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(config_dir), torch_dtype=dtype)
    model.save_pretrained(out)
    for name in TOKENIZER_FILES:
        if (config_dir / name).exists():
            shutil.copy(config_dir / name, out / name)


def conversations(n: int) -> list[list[dict]]:
    return [[{"role": "user", "content": f"Calculate {i} + {3 * i + 7}, then explain it step by step."}]
            for i in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config-dir", required=True)
    ap.add_argument("--prompts", type=int, default=256)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args()

    import torch

    from skyt1.generation import Params
    from skyt1.engine.runner import TransformersBackend

    if not torch.cuda.is_available():
        print("no CUDA GPU visible", file=sys.stderr)
        return 2
    print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        fp32, bf16 = Path(tmp) / "fp32", Path(tmp) / "bf16"
        random_model(Path(args.config_dir), fp32, torch.float32)
        random_model(Path(args.config_dir), bf16, torch.bfloat16)

        backend = TransformersBackend(str(fp32), {"batch_size": 4, "dtype": "float32", "device": "cuda"},
                                      progress=False)
        assert next(backend.model.parameters()).device.type == "cuda"
        convs = conversations(12)
        tok = backend.tok
        expected = []
        for conv in convs:
            enc = tok(tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=True),
                      return_tensors="pt", add_special_tokens=False).to("cuda")
            with torch.inference_mode():
                out = backend.model.generate(**enc, max_new_tokens=24, do_sample=False,
                                             pad_token_id=tok.pad_token_id, eos_token_id=sorted(backend.eos_ids))
            expected.append(tok.decode([t for t in out[0, enc.input_ids.shape[1]:].tolist()
                                        if t not in backend.eos_ids], skip_special_tokens=True))
        got = {}
        backend.generate(convs, Params(max_new_tokens=24), lambda i, c: got.__setitem__(i, c.texts[0]))
        same = sum(got[i] == expected[i] for i in range(len(convs)))
        print(f"greedy parity, fp32 on GPU, batch 4 over {len(convs)} prompts: {same}/{len(convs)} identical")
        ok &= same == len(convs)

        runs = []
        for _ in range(2):
            got = {}
            backend.generate(convs[:5], Params(max_new_tokens=16, temperature=0.8, top_p=0.9, n=3, seed=7),
                             lambda i, c: got.__setitem__(i, c.texts))
            runs.append(got)
        seeded = runs[0] == runs[1] and all(len(v) == 3 for v in runs[0].values())
        print(f"seeded sampling on GPU (n=3, same seed twice): {'identical' if seeded else 'DIFFERENT'}")
        ok &= seeded
        backend.close()
        del backend
        torch.cuda.empty_cache()

        backend = TransformersBackend(str(bf16), {"batch_size": 1, "dtype": "bfloat16", "device": "cuda"},
                                      progress=False)
        convs = conversations(args.prompts)
        params = Params(max_new_tokens=args.max_new_tokens, temperature=0.0)
        for batch in (1, args.batch_size):
            backend.batch_size = batch
            sample = convs[:16] if batch == 1 else convs
            tokens = 0

            def count(i, c):
                nonlocal tokens
                tokens += c.completion_tokens

            torch.cuda.synchronize()
            t0 = time.perf_counter()
            backend.generate(sample, params, count)
            torch.cuda.synchronize()
            secs = time.perf_counter() - t0
            print(f"bf16, batch {batch:>4}, {len(sample)} prompts: {tokens} tokens in {secs:.1f} s = "
                  f"{tokens / secs:.0f} tok/s; peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
