"""The pip list of an environment file under envs/, for installs without conda.

envs/<kind>.yaml is the one definition of each environment: `--sdm conda` builds it with conda, and
`make install` builds a venv from the same list (`python3 tools/envs.py envs/pipeline.yaml` prints
it as a pip requirements file). Standard library only: it runs before anything is installed."""

from __future__ import annotations

import sys
from pathlib import Path

# Installed separately: the packages that need build flags pip requirements files cannot carry.
SPECIAL = {"deepspeed": "DS_BUILD_OPS=0 pip install --no-build-isolation"}


def pip_requirements(env_file) -> list[str]:
    """The entries of the `- pip:` list in a conda environment file, in order (comments dropped)."""
    lines = Path(env_file).read_text().splitlines()
    out, indent = [], None
    for line in lines:
        stripped = line.strip()
        if indent is None:
            if stripped == "- pip:":
                indent = len(line) - len(line.lstrip())
            continue
        if not stripped or stripped.startswith("#"):
            continue
        if len(line) - len(line.lstrip()) <= indent or not stripped.startswith("- "):
            break
        out.append(stripped[2:].split(" #")[0].strip())
    if indent is None:
        raise ValueError(f"{env_file}: no '- pip:' list")
    return out


def name_of(req: str) -> str:
    for sep in "=<>!~[; ":
        req = req.split(sep)[0]
    return req.lower().replace("_", "-")


def main(argv: list[str]) -> int:
    """`envs.py FILE [--special]`: the requirements to pass to `pip install -r`, with the local path
    entries (`-e ..`) and the SPECIAL packages left out; --special prints only the SPECIAL ones."""
    env_file, special = argv[0], "--special" in argv[1:]
    for req in pip_requirements(env_file):
        if req.startswith("-e") or req.startswith("."):
            continue
        if (name_of(req) in SPECIAL) == special:
            print(req)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
