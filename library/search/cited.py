"""A cited page: one shape from the search that finds it to the message that stores it."""

from dataclasses import dataclass, field
from typing import Any

from library.search.ranking import PageFeatures


@dataclass
class CitedPage:
    """One page of one document, as search ranks it, the answer cites it and a message keeps it.

    `chunk_ids` and `passages` are the chunks that matched (or were read), best first: the
    library page highlights them. `text` is the whole page (chunks joined, overlaps removed);
    it is not stored with a message, where the page is read again from its chunks.
    """

    document_id: int
    source_name: str
    page: int
    text: str = ""
    chunk_ids: list[int] = field(default_factory=list)
    passages: list[str] = field(default_factory=list)
    score: float = 0.0
    features: PageFeatures | None = None  # what ranking measured; None for a page read, not searched
    # The question's terms that name this page's document (its title or file name holds them).
    identity: frozenset[str] = frozenset()

    def copy(self) -> "CitedPage":
        """A copy whose chunk lists can grow without touching this page's."""
        return CitedPage(
            document_id=self.document_id,
            source_name=self.source_name,
            page=self.page,
            text=self.text,
            chunk_ids=list(self.chunk_ids),
            passages=list(self.passages),
            score=self.score,
            features=self.features,
            identity=self.identity,
        )

    def merge_chunks(self, other: "CitedPage") -> None:
        """Add the chunks of `other` (the same page) that this one does not hold yet."""
        known = set(self.chunk_ids)
        for chunk_id, passage in zip(other.chunk_ids, other.passages, strict=False):
            if chunk_id not in known:
                self.chunk_ids.append(chunk_id)
                self.passages.append(passage)
                known.add(chunk_id)

    def stored(self, *, url: str) -> dict[str, Any]:
        """The form a message stores (chat.models.Message.sources): JSON, with the page's URL."""
        return {
            "source_name": self.source_name,
            "page": self.page,
            "url": url,
            "document_id": self.document_id,
            "chunk_ids": list(self.chunk_ids),
            "passages": list(self.passages),
        }

    @classmethod
    def from_stored(cls, item: dict[str, Any]) -> "CitedPage":
        """The page a message stored; fields older messages lack take their empty values."""
        return cls(
            document_id=int(item.get("document_id") or 0),
            source_name=str(item["source_name"]),
            page=int(item.get("page") or 1),
            chunk_ids=[int(i) for i in item.get("chunk_ids") or [] if str(i).isdigit()],
            passages=[p for p in item.get("passages") or [] if isinstance(p, str)],
        )
