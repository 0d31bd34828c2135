"""One way to register things by name: data adapters, generation backends, CLI commands, artifacts.

A `Registry` maps names to objects of one kind. `register(name)` is a decorator (or call `add`); `get`
fails with one line naming the unknown name and the known ones. Registries live beside what they
register and are filled when that module is imported; nothing here imports the rest of the package.
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from .errors import SkyT1Error

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, hint: str = ""):
        self.kind = kind
        self.hint = hint
        self._items: dict[str, T] = {}

    def add(self, name: str, obj: T) -> T:
        if name in self._items and self._items[name] is not obj:
            raise SkyT1Error(f"two {self.kind}s are registered as {name!r}", "rename one of them")
        self._items[name] = obj
        return obj

    def register(self, name: str) -> Callable[[T], T]:
        return lambda obj: self.add(name, obj)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            fix = f"use one of {sorted(self._items)}" + (f" ({self.hint})" if self.hint else "")
            raise SkyT1Error(f"unknown {self.kind} {name!r}", fix) from None

    __getitem__ = get  # registry[name]: the same one-line error as get() for an unknown name

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)
