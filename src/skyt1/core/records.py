"""The one record schema every adapter writes (src/skyt1/schemas/record.schema.json)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Iterable

import jsonschema

from .errors import SkyT1Error

FIELDS = ("id", "source", "domain", "question", "answer", "tests", "metadata")


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(resources.files("skyt1").joinpath("schemas/record.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def make(*, id: str, source: str, domain: str, question: str, answer=None, tests=None, metadata=None) -> dict:
    return {"id": id, "source": source, "domain": domain, "question": question,
            "answer": answer, "tests": tests, "metadata": metadata or {}}


def check(record: dict, where: str) -> None:
    """Raise SkyT1Error naming `where` (file:line) and the offending field."""
    errors = list(_validator().iter_errors(record))
    if not errors:
        return
    err = jsonschema.exceptions.best_match(errors)
    field = ".".join(str(p) for p in err.absolute_path) or (err.message.split("'")[1] if "'" in err.message else "?")
    raise SkyT1Error(f"{where}: record field '{field}' is invalid: {err.message}",
                     "fix the adapter or the input file so every record matches schemas/record.schema.json")


def check_all(records: Iterable[dict], path: str) -> list[dict]:
    out, seen = [], set()
    for i, rec in enumerate(records, 1):
        check(rec, f"{path}:{i}")
        if rec["id"] in seen:
            raise SkyT1Error(f"{path}:{i}: duplicate record id {rec['id']!r}", "make ids unique within a source")
        seen.add(rec["id"])
        out.append(rec)
    return out
