"""Data adapters: each turns one raw source into records of the one schema (skyt1.core.records).

An adapter is a function (name, spec) -> list[record]; `spec` is the source's config entry
(adapter, domain, limit, options). Register new ones with @adapter("name") (the registry: data/catalog.py)."""

from __future__ import annotations

from ..core.errors import SkyT1Error
from .catalog import _DROPPED, ADAPTERS, adapter, drop, dropped  # noqa: F401  (the package's interface)


def load(name: str, spec: dict) -> list[dict]:
    from . import hub, packaged  # noqa: F401  (registration)

    kind = spec["adapter"]
    _DROPPED.pop(name, None)
    try:
        fn = ADAPTERS.get(kind)
    except SkyT1Error as e:
        raise SkyT1Error(f"source {name!r}: {e.cause}", e.fix) from None
    records = fn(name, spec)
    limit = spec.get("limit")
    if limit:
        records = records[:limit]
    if not records:
        raise SkyT1Error(f"source {name!r} (adapter {kind!r}) yielded no records",
                         "check its options (size, split, filters) or the input file")
    return records
