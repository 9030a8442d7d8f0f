"""A tiny name → builder registry, one instance per kind (models, datasets, baselines)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from trainlab.errors import TrainlabError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to builder functions; duplicate or unknown names fail with the list of known ones.

    An entry may carry metadata given at registration (``@BASELINES.register("majority", description="...")``),
    kept beside its builder rather than in a side table that could drift from the registry.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._builders: dict[str, Callable[..., T]] = {}
        self._metadata: dict[str, dict[str, Any]] = {}

    def register(self, name: str, **metadata: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(builder: Callable[..., T]) -> Callable[..., T]:
            if name in self._builders:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._builders[name] = builder
            self._metadata[name] = dict(metadata)
            return builder

        return decorator

    def metadata(self, name: str) -> dict[str, Any]:
        """What ``name`` was registered with (an empty dict for none); an unknown name fails like :meth:`get`."""
        self.get(name)
        return dict(self._metadata[name])

    def get(self, name: str) -> Callable[..., T]:
        if name not in self._builders:
            raise TrainlabError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        return self._builders[name]

    def build(self, name: str, **kwargs: object) -> T:
        return self.get(name)(**kwargs)

    def names(self) -> list[str]:
        return sorted(self._builders)

    def __contains__(self, name: object) -> bool:
        return name in self._builders
