"""Every source and benchmark of every preset (`skyt1 data list`), with the presets that read each."""

from __future__ import annotations

from pathlib import Path

from ..benchmarks import expand
from ..config import load_yaml
from ..core.errors import SkyT1Error
from ..data.catalog import describe


def _raw(path: Path, config_dir: Path) -> dict:
    """A preset or layered file as written, its `benchmarks:` names expanded into their declarations."""
    cfg = load_yaml(path)
    if "benchmarks" in cfg:
        cfg["benchmarks"] = expand(cfg["benchmarks"], folder=Path(config_dir) / "benchmarks")
    return cfg


def known(config_dir: Path) -> list[dict]:
    """Every source and benchmark of every preset under config_dir, with the presets that read it."""
    rows: dict[tuple, dict] = {}
    presets = sorted(p for p in Path(config_dir).glob("*.yaml") if p.stem != "schema")
    if not presets:
        raise SkyT1Error(f"no presets in {config_dir}", "pass --config-dir pointing at the repository's config/ folder")
    for path in presets:
        cfg = _raw(path, config_dir)
        # A file layered on a preset (it names another file's preset: the published-data run, the smoke run)
        # lists only the entries it adds; one it shares with the preset is the preset's own source, read
        # another way (the smoke run points it at a fixture), and is listed once, as the preset's.
        base_path = Path(config_dir) / f"{cfg.get('preset', path.stem)}.yaml"
        base = _raw(base_path, config_dir) if base_path != path and base_path.exists() else {}
        for role, section in (("train", "train_sources"), ("bench", "benchmarks")):
            for name, spec in (cfg.get(section) or {}).items():
                if name in (base.get(section) or {}):
                    continue
                row = describe(name, role, spec)
                key = (role, name, row["adapter"], row["where"], row["split"], str(spec.get("limit")))
                entry = rows.setdefault(key, {**row, "presets": [], "spec": spec})
                entry["presets"].append(cfg.get("preset", path.stem))
    return list(rows.values())


def count_rows(entry: dict) -> int | None:
    """Rows the adapter yields (after filters and limit), when it can run offline; else None."""
    from ..data import load

    if not entry["offline"]:
        return None
    recs = load(entry["name"], entry["spec"])
    if not entry["domain"]:
        entry["domain"] = ",".join(sorted({r["domain"] for r in recs}))
    return len(recs)
