"""Data adapters: each turns one raw source into records of the one schema (skyt1.records).

An adapter is a function (name, spec) -> list[record]; `spec` is the source's config entry
(adapter, domain, limit, options). Register new ones with @adapter("name")."""

from __future__ import annotations

from ..errors import SkyT1Error
from .adapters import _DROPPED, ADAPTERS, adapter, drop, dropped  # noqa: F401  (the registry; adapters register there)


def load(name: str, spec: dict) -> list[dict]:
    from . import hub, packaged  # noqa: F401  (registration)

    kind = spec["adapter"]
    _DROPPED.pop(name, None)
    if kind not in ADAPTERS:
        raise SkyT1Error(f"source {name!r}: unknown adapter {kind!r}", f"use one of {sorted(ADAPTERS)}")
    records = ADAPTERS[kind](name, spec)
    limit = spec.get("limit")
    if limit:
        records = records[:limit]
    if not records:
        raise SkyT1Error(f"source {name!r} (adapter {kind!r}) yielded no records",
                         "check its options (size, split, filters) or the input file")
    return records
