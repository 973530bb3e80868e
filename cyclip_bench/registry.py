"""One small generic registry (task kinds, datasets, model presets) with did-you-mean errors and entry points."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from cyclip_bench.errors import UserError

T = TypeVar("T")


def did_you_mean(name: str, choices: list[str]) -> str:
    """' Did you mean X?' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


class Registry(Generic[T]):
    """Name → object map. Registering a taken name is an error; an unknown name lists the known ones."""

    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self._entry_points_loaded = False

    def register(self, name: str, aliases: tuple[str, ...] = ()) -> Callable[[T], T]:
        """Decorator: ``@registry.register("name")``."""

        def decorate(obj: T) -> T:
            self.add(name, obj, aliases)
            return obj

        return decorate

    def add(self, name: str, obj: T, aliases: tuple[str, ...] = ()) -> None:
        for key in (name, *aliases):
            if key in self._items or key in self._aliases:
                raise ValueError(f"{self.kind} {key!r} is already registered")
        self._items[name] = obj
        for alias in aliases:
            self._aliases[alias] = name

    def _load_entry_points(self) -> None:
        # Third-party packages extend us through entry points; loaded lazily, once.
        if self._entry_points_loaded or not self.entry_point_group:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.entry_point_group):
            if ep.name in self._items:
                continue
            obj = ep.load()
            if ep.name not in self._items:  # loading may have registered it through the decorator
                self.add(ep.name, obj)

    def canonical(self, name: str) -> str:
        self._load_entry_points()
        if name in self._items:
            return name
        if name in self._aliases:
            return self._aliases[name]
        known = self.names()
        raise UserError(
            f"unknown {self.kind} {name!r}.{did_you_mean(name, known + list(self._aliases))} Known: {', '.join(known)}"
        )

    def get(self, name: str) -> T:
        return self._items[self.canonical(name)]

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return name in self._items or name in self._aliases

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        self._load_entry_points()
        return iter(sorted(self._items.items()))
