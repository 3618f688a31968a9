"""A SPARQL backend over the embedded store that remembers every query text it was asked."""

from __future__ import annotations

from data_gen.wikidata.client import StoreBackend


class RecordingBackend(StoreBackend):
    """The embedded store, remembering every query text it was asked."""

    def __init__(self, store) -> None:
        super().__init__(store)
        self.queries: list[str] = []

    def fetch(self, query: str) -> bytes:
        self.queries.append(query)
        return super().fetch(query)
