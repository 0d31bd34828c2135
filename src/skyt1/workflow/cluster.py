"""What runs on the login node of a cluster: the jobs that need the internet.

Compute nodes of many sites reach neither the model hub nor an API endpoint. Snakemake runs a rule named
in `localrules` in its own process (the login node) instead of submitting it, so the jobs that download
(prepare_model for hub snapshots, the data stage for hub datasets) or call a paid API (the rewrite with an
API backend) go there, and everything they write lands on the shared filesystem for the compute jobs.
Only the rules that do need it are listed, from the resolved config: a preset that reads no hub (the tiny
preset, the smoke run's fixtures) submits every job. docs/cluster-32b.md says what is tested of this."""

from __future__ import annotations

from ..engine import owned
from ..data.catalog import PACKAGED


def _files(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, dict):  # {split name: path(s)}
        return [str(f) for v in value.values() for f in _files(v)]
    return [str(value)] if isinstance(value, str) else [str(f) for f in value]


def reads_hub(spec: dict) -> bool:
    """A source or benchmark spec whose adapter downloads from the hub (no local data_files stand in)."""
    if spec.get("adapter") in PACKAGED:
        return False
    options = spec.get("options") or {}
    files = _files(options.get("data_files"))
    if not files or any("://" in f for f in files):
        return True
    return bool(options.get("difficulty_repo")) and not options.get("difficulty_files")


def internet_rules(config: dict) -> dict[str, str]:
    """Rule name -> why it needs the internet, for this config."""
    out = {}
    hub_models = sorted(m for m, s in config["models"].items() if s.get("source") == "hub")
    if hub_models:
        out["prepare_model"] = f"downloads hub snapshots ({', '.join(hub_models)})"
    for rule, section in (("data_train", "train_sources"), ("data_bench", "benchmarks")):
        hub = sorted(n for n, s in config[section].items() if reads_hub(s))
        if hub:
            out[rule] = f"reads hub datasets ({', '.join(hub)})"
    rewrite_model = config["models"].get(config["rewrite"]["model"], {})
    if rewrite_model.get("source") == "api" and not owned.on_engine(config, "rewrite"):
        out["rewrite"] = f"calls the {rewrite_model.get('api_model', config['rewrite']['model'])} API"
    return out


def local_rules(config: dict) -> list[str]:
    return sorted(internet_rules(config))
