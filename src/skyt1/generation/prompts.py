"""Chat messages for a question, from a prompt config {system, fewshot}."""

from __future__ import annotations


def build(prompt: dict, user_content: str) -> list[dict]:
    messages = []
    if prompt.get("system") is not None:
        messages.append({"role": "system", "content": prompt["system"]})
    for turn in prompt.get("fewshot") or []:
        messages.append({"role": turn["role"], "content": turn["content"]})
    messages.append({"role": "user", "content": user_content})
    return messages
