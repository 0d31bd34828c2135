"""Data adapters: each turns one raw source into records of the one schema (skyt1.records).

An adapter is a function (name, spec) -> list[record]; `spec` is the source's config entry
(adapter, domain, limit, options). Register new ones with @adapter("name")."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import SkyT1Error

ADAPTERS: dict[str, Callable[[str, dict], list[dict]]] = {}
_DROPPED: dict[str, list[dict]] = {}


def drop(source: str, row: str, reason: str) -> None:
    """An adapter skips one unusable row (malformed tests, no usable answer): it is named in the source's
    report (results/data/*/<source>.meta.json) instead of stopping the whole source."""
    _DROPPED.setdefault(source, []).append({"row": str(row), "reason": reason})


def dropped(source: str) -> list[dict]:
    """The rows the last load of `source` skipped, with the reason for each."""
    return list(_DROPPED.get(source, []))


def adapter(name: str):
    def deco(fn):
        ADAPTERS[name] = fn
        return fn
    return deco


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
