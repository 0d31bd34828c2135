"""The CPU engine, split the way vLLM's is: the HTTP server (server.py: vLLM's OpenAI server and its
checks), the scheduler (scheduler.py), the model runner (runner.py) with its KV cache (cache.py), patched
kernels (kernels.py) and sampler (sampler.py); and how a job owns an engine, this one or `vllm serve`
(owned.py). Importing this package loads neither torch nor transformers."""
