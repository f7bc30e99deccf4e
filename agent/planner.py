"""The extractive backend's AGENTIC driver: a deterministic plan over the same tools.

1. Split the question: one sub-question per named document for a comparison, one per clause
   for a multi-part question ("..., and what ..."), else the question itself.
2. Search each sub-question (within its document when one is named).
3. When the passages found do not cover the sub-question's terms, hop: read the pages next
   to the best one, and search again for what is still missing.
4. Compose one cited answer per part.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from agent.citations import Evidence
from agent.events import ToolStep
from agent.extractive import NOTHING_FOUND, Selection, render, select_units
from agent.tools import Toolbox
from library.models import Document
from library.selectors import PageHit, QueryTerms

_CLAUSE_SPLIT = re.compile(
    r"(?:,|;)?\s+and\s+(?=(?:what|which|how|where|when|is|are|does|do|can|at which|for how)\b)", re.IGNORECASE
)
_WELL_COVERED = 0.75


@dataclass
class Part:
    question: str
    documents: list[Document]
    label: str | None = None


def plan(question: str, documents: list[Document]) -> list[Part]:
    if len(documents) >= 2:
        return [Part(question=question, documents=[d], label=_part_name(d)) for d in documents]
    clauses = [c.strip(" ,;?") for c in _CLAUSE_SPLIT.split(question) if c.strip(" ,;?")]
    if len(clauses) >= 2:
        # Later clauses say "it"/"its": carry the subject over by searching the same documents.
        return [Part(question=clause + "?", documents=documents) for clause in clauses]
    return [Part(question=question, documents=documents)]


def _part_name(document: Document) -> str:
    stem = document.source_name.rsplit(".", 1)[0]
    words = [w for w in re.split(r"[-_ ]+", stem) if w]
    parts = [w for w in words if any(ch.isdigit() for ch in w)]
    return "-".join(parts).upper() if parts else stem


def _weights(pages: list[PageHit]) -> list[float]:
    if not pages:
        return []
    top = pages[0].score
    return [max(0.0, 1.0 + (page.score - top) / 0.6) for page in pages]


def run(*, question: str, documents: list[Document], toolbox: Toolbox, max_steps: int) -> Iterator[ToolStep | str]:
    """Yield each tool step as it runs, then the answer text (with evidence markers)."""
    parts = plan(question, documents)
    budget = max_steps
    answers: list[str] = []
    for part in parts:
        if budget <= 0:
            break
        document_ids = [d.pk for d in part.documents] or None
        result = toolbox.search(part.question, document_ids=document_ids)
        budget -= 1
        yield result.step
        if result.retrieved is None or not result.retrieved.pages:
            continue
        terms = result.retrieved.terms
        pages = list(result.retrieved.pages)
        weights = _weights(pages)
        selection = select_units(terms=terms, evidence=[_evidence(p) for p in pages], page_weights=weights)
        if selection.coverage < _WELL_COVERED and budget > 0:
            missing = _missing_terms(terms, selection)
            if missing:
                hop_query = f"{part.question} {' '.join(missing)}"
                hop = toolbox.search(hop_query, document_ids=document_ids)
                budget -= 1
                yield hop.step
                if hop.retrieved is not None:
                    known = {(p.document_id, p.page) for p in pages}
                    extra = [p for p in hop.retrieved.pages[:2] if (p.document_id, p.page) not in known]
                    pages.extend(extra)
                    weights.extend(0.6 for _ in extra)
            if budget > 0 and pages:
                top = pages[0]
                for neighbour in (top.page + 1,):
                    if budget <= 0 or any(p.document_id == top.document_id and p.page == neighbour for p in pages):
                        continue
                    read = toolbox.read_page(top.source_name, neighbour)
                    budget -= 1
                    yield read.step
                    page = _page_of(toolbox, read.numbers)
                    if page is not None:
                        pages.append(page)
                        weights.append(0.5)
            selection = select_units(terms=terms, evidence=[_evidence(p) for p in pages], page_weights=weights)
        numbers = [toolbox.add_evidence(p) for p in pages]
        text = render(selection=selection, evidence=[_evidence(p) for p in pages], label=part.label, numbers=numbers)
        if text:
            answers.append(text)
    yield "\n".join(answers) if answers else NOTHING_FOUND


def _missing_terms(terms: QueryTerms, selection: Selection) -> list[str]:
    covered = set().union(*(u.lexemes for u in selection.units)) if selection.units else set()
    return [lex for lex, _ in sorted(terms.weights.items(), key=lambda kv: -kv[1]) if lex not in covered][:4]


def _evidence(page: PageHit) -> Evidence:
    return Evidence(document_id=page.document_id, source_name=page.source_name, page=page.page, text=page.text)


def _page_of(toolbox: Toolbox, numbers: tuple[int, ...]) -> PageHit | None:
    if not numbers:
        return None
    item = toolbox.evidence[numbers[0] - 1]
    return PageHit(
        document_id=item.document_id, source_name=item.source_name, page=item.page, score=0.0, text=item.text
    )
