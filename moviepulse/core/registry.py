"""A registry of things plugins contribute, keyed by slug, remembering who gave each."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from moviepulse.core.errors import StartupError

T = TypeVar("T")


def slug_of(item: Any) -> str:
    """The slug of a registered item: its ``slug`` attribute (class or instance)."""
    slug = getattr(item, "slug", None)
    if not isinstance(slug, str) or not slug:
        raise StartupError(f"{item!r} has no 'slug' string attribute")
    return slug


@dataclass(frozen=True)
class Entry(Generic[T]):
    slug: str
    item: T
    plugin: str


class Registry(Generic[T]):
    """Ordered mapping slug -> item. A duplicate slug is a start-up error naming both plugins."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def add(self, item: T, plugin: str) -> None:
        slug = slug_of(item)
        existing = self._entries.get(slug)
        if existing is not None:
            raise StartupError(
                f"Duplicate {self.kind} slug {slug!r}: registered by plugin {existing.plugin!r} "
                f"and by plugin {plugin!r}"
            )
        self._entries[slug] = Entry(slug, item, plugin)

    def get(self, slug: str) -> T:
        try:
            return self._entries[slug].item
        except KeyError:
            raise KeyError(f"no {self.kind} registered with slug {slug!r}") from None

    def find(self, slug: str) -> T | None:
        entry = self._entries.get(slug)
        return entry.item if entry else None

    def plugin_of(self, slug: str) -> str:
        return self._entries[slug].plugin

    def entries(self) -> list[Entry[T]]:
        return list(self._entries.values())

    def slugs(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, slug: object) -> bool:
        return slug in self._entries

    def __iter__(self) -> Iterator[T]:
        return (e.item for e in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)
