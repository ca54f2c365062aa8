"""Name -> object registries, so adding a benchmark or strategy never touches an if/elif chain."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from lpft.errors import InputError, quote

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items:
                raise InputError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            return obj

        return add

    def unregister(self, name: str) -> None:
        """Removes an entry (a plugin's or a test's own); the rest is untouched."""
        self[name]  # unknown: the usual InputError
        del self._items[name]

    def __getitem__(self, name: str) -> T:
        if name not in self:
            known = ", ".join(sorted(self._items))
            raise InputError(f"unknown {self.kind} {quote(name)} (known: {known})")
        return self._items[name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._items  # a list from YAML is no name, not a TypeError

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def names(self) -> list[str]:
        return sorted(self._items)
