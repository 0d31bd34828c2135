"""The smoke run of the 32B preset (config/smoke-32b.yaml): the rewriter's stand-in server.

gpt-4o-mini cannot be called here (no key, no network). The smoke run keeps the rewrite stage on the
preset's own path, the `openai` client against an OpenAI-compatible endpoint with the key from
OPENAI_API_KEY, and points that client (SKYT1_OPENAI_BASE_URL) at a local server (skyt1.engine.server) serving
a random tiny Qwen2 under the API model's name. It is a declared stand-in: the config declares it
(`models.<name>: {source: tiny_qwen2, stand_in_for: gpt-4o-mini}`), its manifest says so, and the server's
/health and /v1/models say `stand_in_for: gpt-4o-mini`.

    python -m skyt1.workflow.smoke serve-rewriter     # builds it if needed, prints the exports, serves until Ctrl-C
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import threading
from pathlib import Path
from typing import Iterator

from ..core.errors import SkyT1Error
from ..weights.prepare import MANIFEST, materialize

REPO = Path(__file__).resolve().parents[3]
CONFIGFILES = (REPO / "config" / "sky-t1-32b.yaml", REPO / "config" / "smoke-32b.yaml")
# Sent as OPENAI_API_KEY: the client needs one, the stand-in server reads none.
DUMMY_KEY = "no-key-smoke-stand-in"


def rewriter_stand_in(cfg: dict) -> tuple[str, dict, str]:
    """(model name, spec, api model id) of the local model the config declares as the rewriter's stand-in."""
    api = cfg["models"][cfg["rewrite"]["model"]]
    if api["source"] != "api":
        raise SkyT1Error(f"rewrite.model {cfg['rewrite']['model']!r} is not an api model: it needs no stand-in server",
                         "run the pipeline as it is")
    found = [(n, s) for n, s in cfg["models"].items()
             if s["source"] == "tiny_qwen2" and s.get("stand_in_for") == api["api_model"]]
    if len(found) != 1:
        raise SkyT1Error(f"the config declares {len(found)} stand-ins for {api['api_model']!r}, not one",
                         f"add one models.<name> entry with source tiny_qwen2 and stand_in_for: {api['api_model']}")
    return found[0][0], found[0][1], api["api_model"]


def prepare(cfg: dict, model_dir: str | Path) -> Path:
    """The stand-in's folder, built (by the prepare_model stage's own code) if it is not there yet."""
    name, spec, _ = rewriter_stand_in(cfg)
    model_dir = Path(model_dir)
    manifest = model_dir / MANIFEST
    if not manifest.exists() or json.loads(manifest.read_text()).get("stand_in_for") != spec["stand_in_for"]:
        materialize(name, spec, model_dir)
    return model_dir


@contextlib.contextmanager
def serve_rewriter(cfg: dict, model_dir: str | Path, *, log_path: str | None = None, threads: int = 1,
                   batch_size: int = 16) -> Iterator[dict]:
    """Serve the rewriter's stand-in on loopback for the block; yields the environment a run needs
    (SKYT1_OPENAI_BASE_URL and a dummy OPENAI_API_KEY)."""
    from ..engine.server import local_server

    _, _, api_model = rewriter_stand_in(cfg)
    folder = prepare(cfg, model_dir)
    with local_server(str(folder), api_model, batch_size=batch_size, threads=threads, log_path=log_path) as url:
        yield {"SKYT1_OPENAI_BASE_URL": url, "OPENAI_API_KEY": DUMMY_KEY}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m skyt1.workflow.smoke", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve-rewriter", help="serve the declared gpt-4o-mini stand-in until interrupted")
    s.add_argument("--configfile", nargs="+", default=[str(f) for f in CONFIGFILES],
                   help="the run's config files, as given to snakemake (default: the 32B preset + the smoke override)")
    s.add_argument("--dir", help="the stand-in's model folder (default: results/models/<its name>)")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--log", help="server log file (default: its output goes nowhere)")
    args = p.parse_args(argv)
    from .recipe import load_config

    cfg = load_config(args.configfile)
    name, spec, api_model = rewriter_stand_in(cfg)
    folder = Path(args.dir or f"results/models/{name}")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with serve_rewriter(cfg, folder, log_path=args.log, threads=args.threads) as env:
        print(f"# serving {folder} as {api_model!r}: a declared stand-in for {spec['stand_in_for']} (random weights)")
        print(f"export SKYT1_OPENAI_BASE_URL={env['SKYT1_OPENAI_BASE_URL']} OPENAI_API_KEY={env['OPENAI_API_KEY']}",
              flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except SkyT1Error as e:
        import sys

        print(f"skyt1 error: {e}", file=sys.stderr)
        raise SystemExit(1)
