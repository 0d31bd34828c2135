"""Model folders as pipeline outputs: prepare_model's sources and the tiny Qwen2 stand-in."""
