"""Named registries: the one way a config name becomes a part of the code.

A `Registry[T]` maps a name (the string a config holds, e.g. ``conditioners.NAME.model:
t5``) to a class or builder of type T. Parts register themselves where they are defined,
either with the decorator or with `add`:

    CONDITIONERS: Registry[ConditionerEntry] = Registry("conditioner")

    @CONDITIONERS.register("t5")
    def _build_t5(output_dim: int, args: dict, context: ConditionerContext) -> T5Conditioner:
        ...

    LOSSES.add("l1", nn.L1Loss)

`get(name)` (or ``registry[name]``) raises `UnknownNameError` for a name nobody
registered: the message names the kind, the bad name, the known names (sorted) and the
closest one when there is one.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
U = TypeVar("U")


class UnknownNameError(ValueError):
    """A name looked up in a registry that nobody registered.

    Attributes: kind (e.g. "conditioner"), name (the bad name), known (sorted names).
    """

    def __init__(self, kind: str, name: object, known: list[str], where: str | None = None):
        self.kind = kind
        self.name = name
        self.known = known
        close = difflib.get_close_matches(str(name), known, n=1) if isinstance(name, str) else []
        hint = f" Did you mean {close[0]!r}?" if close else ""
        at = f" (at `{where}`)" if where else ""
        super().__init__(f"Unknown {kind} {name!r}{at}: known {kind}s are {known}.{hint}")


class Registry(Generic[T]):
    """Name -> T (a class or a builder), filled by `register` (decorator) or `add`.

    Supports ``name in registry``, ``registry[name]`` (same as `get`), iteration over the
    names (sorted) and ``len``. Registering a name twice is an error (`replace=True` to
    override deliberately, e.g. in a test).

    Args:
        kind: what the entries are, singular, for messages ("conditioner", "loss").
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T, replace: bool = False) -> T:
        """Register `entry` under `name`; returns the entry."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"A {self.kind} name must be a non-empty string, got {name!r}.")
        if name in self._entries and not replace and self._entries[name] is not entry:
            raise ValueError(f"{self.kind} {name!r} is already registered "
                             f"({self._entries[name]!r}); pass replace=True to override it.")
        self._entries[name] = entry
        return entry

    def register(self, name: str, replace: bool = False) -> Callable[[U], U]:
        """Decorator form of `add`: ``@REGISTRY.register("name")`` on a class or function.
        The decorated object is returned unchanged."""

        def decorator(entry: U) -> U:
            self.add(name, entry, replace=replace)  # type: ignore[arg-type]
            return entry

        return decorator

    def remove(self, name: str) -> None:
        """Unregister `name` (tests that register a temporary entry clean up with it)."""
        self.get(name)
        del self._entries[name]

    def get(self, name: str, where: str | None = None) -> T:
        """The entry of `name`; `where` (a config key) is named in the error message.

        Raises UnknownNameError (a ValueError) for an unregistered name."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(self.kind, name, self.names(), where) from None

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
