"""The AGENTIC tools and the numbered evidence list they fill.

Both drivers of the tool loop use this: the LLM (through tool calls) and the extractive
backend's deterministic planner. Every page a tool shows becomes a numbered evidence item;
the final answer cites those numbers.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.events import ToolStep
from agent.scope import Scope
from core.errors import UnknownTopic
from library.search import CitedPage, Retrieved, page_read, page_search
from library.selectors import document_by_source_name, document_list, documents_named_in
from orgs.models import Organization
from topics.selectors import topic_list, topics_resolve

TOOL_SPECS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "search_library",
            "description": "Search the datasheet library. Returns numbered passages with file name and page.",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "what to look for, with part numbers and symbols"},
                    "topic_names": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "optional: only these topics",
                    },
                },
                "required": ["query"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "read_page",
            "description": "Read one whole page of a document. Returns its text as a numbered evidence item.",
            "parameters": {
                "type": "object",
                "properties": {
                    "source_name": {"type": "string", "description": "file name, e.g. ti-ads1115.pdf"},
                    "page": {"type": "integer", "description": "1-based page number"},
                },
                "required": ["source_name", "page"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "list_topics",
            "description": "List the library's topics.",
            "parameters": {"type": "object", "properties": {}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "list_documents",
            "description": "List the library's documents, optionally of one topic.",
            "parameters": {"type": "object", "properties": {"topic": {"type": "string"}}},
        },
    },
]

_PASSAGE_CHARS = 1500


@dataclass
class ToolResult:
    text: str  # what the model reads
    step: ToolStep  # what the client is shown
    retrieved: Retrieved | None = None
    numbers: tuple[int, ...] = ()  # evidence numbers this call added or reused


class Toolbox:
    """Runs tools for one question within its scope, keeping the numbered evidence list."""

    def __init__(self, *, org: Organization, scope: Scope) -> None:
        self.org = org
        self.scope = scope
        self.evidence: list[CitedPage] = []

    def add_evidence(self, page: CitedPage) -> int:
        """The 1-based number of this page in the evidence list (added if new, else given the
        page's chunks it lacks)."""
        for number, item in enumerate(self.evidence, start=1):
            if item.document_id == page.document_id and item.page == page.page:
                item.merge_chunks(page)
                return number
        self.evidence.append(page.copy())
        return len(self.evidence)

    def call(self, name: str, arguments: dict[str, Any] | str | None) -> ToolResult:
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments or "{}")
            except json.JSONDecodeError:
                return self._record(name, {}, "Error: the arguments are not valid JSON.", "invalid arguments")
        arguments = arguments if isinstance(arguments, dict) else {}
        handler = {
            "search_library": self._search_library,
            "read_page": self._read_page,
            "list_topics": self._list_topics,
            "list_documents": self._list_documents,
        }.get(name)
        if handler is None:
            return self._record(name, arguments, f"Error: there is no tool named {name!r}.", "unknown tool")
        try:
            return handler(arguments)
        except (TypeError, ValueError) as exc:
            return self._record(name, arguments, f"Error: bad arguments ({exc}).", "bad arguments")

    def _record(
        self,
        name: str,
        arguments: dict[str, Any],
        text: str,
        summary: str,
        retrieved: Retrieved | None = None,
        numbers: Sequence[int] = (),
    ) -> ToolResult:
        step = ToolStep(tool=name, input=arguments, result=summary)
        return ToolResult(text=text, step=step, retrieved=retrieved, numbers=tuple(numbers))

    def search(
        self,
        query: str,
        *,
        topic_names: Sequence[str] | None = None,
        document_ids: Sequence[int] | None = None,
        limit: int = 4,
    ) -> ToolResult:
        """search_library, also callable by the planner with explicit documents."""
        arguments: dict[str, Any] = {"query": query}
        if topic_names:
            arguments["topic_names"] = list(topic_names)
        topic_ids = self.scope.topic_ids
        if topic_names:
            try:
                wanted = [t.pk for t in topics_resolve(org=self.org, names=list(topic_names))]
            except UnknownTopic as error:
                return self._record("search_library", arguments, f"Error: {error.message}", "unknown topic")
            topic_ids = [pk for pk in wanted if topic_ids is None or pk in topic_ids]
        if document_ids is None:
            named = documents_named_in(org=self.org, text=query)
            document_ids = [d.pk for d in named] or self.scope.document_ids
        retrieved = page_search(org=self.org, query=query, topic_ids=topic_ids, document_ids=document_ids, limit=limit)
        numbers = [self.add_evidence(page) for page in retrieved.pages]
        lines = [
            f"[{number}] {page.source_name} p.{page.page}:\n{page.text[:_PASSAGE_CHARS]}"
            for number, page in zip(numbers, retrieved.pages, strict=True)
        ]
        documents = len({page.document_id for page in retrieved.pages})
        summary = f"{len(numbers)} pages from {documents} document{'s' if documents != 1 else ''}"
        text = "\n\n".join(lines) if lines else "No passages found."
        return self._record("search_library", arguments, text, summary, retrieved, numbers)

    def _search_library(self, arguments: dict[str, Any]) -> ToolResult:
        query = str(arguments.get("query") or "").strip()
        if not query:
            return self._record("search_library", arguments, "Error: query is required.", "missing query")
        topic_names = arguments.get("topic_names") or None
        if topic_names is not None and not isinstance(topic_names, list):
            topic_names = [str(topic_names)]
        return self.search(query, topic_names=[str(n) for n in topic_names] if topic_names else None)

    def read_page(self, source_name: str, page: int) -> ToolResult:
        arguments = {"source_name": source_name, "page": page}
        document = document_by_source_name(org=self.org, source_name=source_name)
        if document is None or (
            self.scope.topic_ids is not None and not document.topics.filter(pk__in=self.scope.topic_ids).exists()
        ):
            return self._record(
                "read_page", arguments, f"Error: no document named {source_name!r}.", "no such document"
            )
        hit = page_read(org=self.org, document_id=document.pk, page=int(page))
        if hit is None:
            return self._record("read_page", arguments, f"Error: {source_name} has no text on page {page}.", "no text")
        number = self.add_evidence(hit)
        text = f"[{number}] {hit.source_name} p.{hit.page}:\n{hit.text}"
        return self._record("read_page", arguments, text, f"{source_name} p.{page}", numbers=[number])

    def _read_page(self, arguments: dict[str, Any]) -> ToolResult:
        return self.read_page(str(arguments.get("source_name") or ""), int(arguments.get("page") or 0))

    def _list_topics(self, arguments: dict[str, Any]) -> ToolResult:
        topics = list(topic_list(org=self.org))
        if self.scope.topic_ids is not None:
            topics = [t for t in topics if t.pk in self.scope.topic_ids]
        text = "\n".join(f"- {t.name}" + (f": {t.description}" if t.description else "") for t in topics)
        return self._record("list_topics", arguments, text or "No topics.", f"{len(topics)} topics")

    def _list_documents(self, arguments: dict[str, Any]) -> ToolResult:
        topic_ids = self.scope.topic_ids
        topic = str(arguments.get("topic") or "").strip()
        if topic:
            try:
                wanted = [t.pk for t in topics_resolve(org=self.org, names=[topic])]
            except UnknownTopic as error:
                return self._record("list_documents", arguments, f"Error: {error.message}", "unknown topic")
            topic_ids = [pk for pk in wanted if topic_ids is None or pk in topic_ids]
        documents = list(document_list(org=self.org, topic_ids=topic_ids))
        text = "\n".join(
            f"- {d.source_name} ({d.served_pages_total or '?'} pages;"
            f" topics: {', '.join(t.name for t in d.topics.all())})"
            for d in documents
        )
        return self._record("list_documents", arguments, text or "No documents.", f"{len(documents)} documents")
