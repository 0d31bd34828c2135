"""The adapter registry: the name each adapter registers under, and the rows a load skipped.

hub.py and packaged.py register here; skyt1.data.load imports them (to fill it) and reads it, so the
registry sits below both and nothing imports upward into the package's __init__."""

from __future__ import annotations

from collections.abc import Callable

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
