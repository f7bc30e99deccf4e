"""The extractive backend's AGENTIC driver: a deterministic plan over the same tools.

1. Split the question: one sub-question per named document for a comparison (in the order
   the question names them), one per clause for a multi-part question ("..., and what ..."),
   else the question itself.
2. A comparison: search each part within its document, hop once for what is still missing,
   and compose one labelled answer per part.
3. Otherwise: search the whole question and answer it as a look-up would; search each clause
   (within the part found first when none is named) and add a line for each clause the
   answer leaves uncovered; read the next page when the terms are still not covered.
"""

import re
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass

from agent.events import ToolStep
from agent.extractive import (
    LOOKUP_MAX_LINES,
    LOOKUP_PAGES,
    LOOKUP_PAGES_READ,
    NOTHING_FOUND,
    Selection,
    Unit,
    adding_lines,
    at_most_lines,
    render,
    select_lookup,
    select_units,
)
from agent.scope import is_description, searched_question
from agent.tools import Toolbox, ToolResult
from agent.verdict import comparison_verdict
from library.embeddings import line_similarity
from library.models import Document
from library.search import CitedPage, QueryTerms, is_relevant, page_weights
from library.search.terms import part_number_names, part_numbers_in

_CLAUSE_SPLIT = re.compile(
    r"(?:,|;)?\s+and\s+(?=(?:what|which|how|where|when|is|are|does|do|can|at which|for how)\b)", re.IGNORECASE
)
_WELL_COVERED = 0.75
# The look-up part of an AGENTIC answer spreads over one page fewer than FAST's: the line
# added for each uncovered clause often comes from another page, and an answer that cites
# everything it read is no answer.
_LOOKUP_PAGES = LOOKUP_PAGES - 1
# Value-stating lines added per selection for the terms its first lines left out.
_VALUE_LINES = 2


@dataclass
class Part:
    question: str
    documents: list[Document]
    label: str | None = None


def plan(question: str, documents: list[Document], phrases: Mapping[int, str] | None = None) -> list[Part]:
    """`phrases`: for a document the question names by what it is, the words it uses ("LDO")."""
    if len(documents) >= 2:
        phrases = phrases or {}
        return [
            Part(
                question=_as_asked_of(question, d, documents, phrases),
                documents=[d],
                label=_part_label(question, d),
            )
            for d in documents
        ]
    clauses = [c.strip(" ,;?") for c in _CLAUSE_SPLIT.split(question) if c.strip(" ,;?")]
    if len(clauses) >= 2:
        # Later clauses say "it"/"its": carry the subject over by searching the same documents.
        return [Part(question=clause[0].upper() + clause[1:] + "?", documents=documents) for clause in clauses]
    return [Part(question=question, documents=documents)]


# "the faster SPI clock", "the lower supply voltage": the direction of a comparison, which no
# datasheet page states; the property itself ("SPI clock") is what each part's search needs.
_COMPARATIVE = re.compile(
    r"\b(?:lower|higher|faster|slower|larger|smaller|bigger|greater|fewer|more|less|better|worse|wider|narrower"
    r"|longer|shorter|lowest|highest|fastest|largest|smallest)\b\s*",
    re.IGNORECASE,
)


_JOINED_BEFORE = re.compile(
    r"(?:\s*,\s*|\s+(?:and|or|vs\.?|versus|than|compared (?:to|with))\s+)(?:the\s+)?$", re.IGNORECASE
)
_JOINED_AFTER = re.compile(r"^\s*(?:,\s*(?:and|or)?|and|or|vs\.?|versus)\s+(?:the\s+)?", re.IGNORECASE)


def _as_asked_of(question: str, document: Document, documents: list[Document], phrases: Mapping[int, str]) -> str:
    """The question as asked of one document: without the other parts' numbers or names
    ("the LDO"), which would only mislead its search, without its own description, and without
    the comparison's direction."""
    others = [d for d in documents if d.pk != document.pk]
    spans = [
        match.span()
        for match in part_numbers_in(question)
        if any(part_number_names(match.group(), d.source_name, d.profile) for d in others)
    ]
    # Its own description goes too: the search is kept to its document, where "the 2.4 GHz
    # radio" only points at the pages that say what the part is.
    for described in [*others, document]:
        phrase = phrases.get(described.pk, "")
        if (described in others and phrase) or is_description(phrase):
            spans += [m.span() for m in re.finditer(rf"\b{re.escape(phrase)}(?:['’]s)?(?!\w)", question)]
    text = question
    for start, end in sorted(spans, reverse=True):
        before, after = text[:start], text[end:]
        # The other part goes with the words that join it on: "… of the ADS1115 and the
        # PCA9685?" is asked of the ADS1115 as "… of the ADS1115?", of the PCA9685 as
        # "… of the PCA9685?". A part joined by nothing stays: cutting it would break the
        # sentence, and the search is kept to this document anyway.
        if _JOINED_AFTER.match(after):
            text = before + _JOINED_AFTER.sub("", after, count=1)
        elif joined := _JOINED_BEFORE.search(before):
            text = before[: joined.start()] + after
    text = _COMPARATIVE.sub("", text)
    text = re.sub(r"\s+([,?.])", r"\1", re.sub(r"\s{2,}", " ", text))
    return re.sub(r",\s*\?", "?", text).strip()


def _part_label(question: str, document: Document) -> str:
    """The part number as the question writes it ("ESP32-WROOM-32"), else one from the file name."""
    for match in part_numbers_in(question):
        if part_number_names(match.group(), document.source_name, document.profile):
            return match.group()
    stem = document.source_name.rsplit(".", 1)[0]
    words = [w for w in re.split(r"[-_ ]+", stem) if w]
    parts = [w for w in words if any(ch.isdigit() for ch in w)]
    return "-".join(parts).upper() if parts else stem


def run(
    *,
    question: str,
    documents: list[Document],
    toolbox: Toolbox,
    max_steps: int,
    phrases: Mapping[int, str] | None = None,
) -> Iterator[ToolStep | str]:
    """Yield each tool step as it runs, then the answer text (with evidence markers)."""
    budget = [max_steps]
    if len(documents) >= 2:
        answers = []
        stated = []
        for part in plan(question, documents, phrases):
            text = yield from _answer_part(part, toolbox, budget, max_units=2)
            if text:
                answers.append(text.split("\n"))
                stated.append((part.label or "", part.question, answers[-1][0].removeprefix(f"{part.label}: ")))
        # The first line answers for every part (after the verdict, when one is certain); each
        # part's supporting lines follow.
        verdict = comparison_verdict(question, stated) if len(stated) == len(documents) else ""
        first = " ".join(line for line in [verdict, *(lines[0] for lines in answers)] if line)
        yield "\n".join([first, *(line for lines in answers for line in lines[1:])]) if answers else NOTHING_FOUND
        return
    text = yield from _answer_clauses(searched_question(question, documents, phrases or {}), documents, toolbox, budget)
    yield text or NOTHING_FOUND


def _search(
    toolbox: Toolbox, query: str, document_ids: list[int] | None, budget: list[int], limit: int = 4
) -> ToolResult | None:
    if budget[0] <= 0:
        return None
    budget[0] -= 1
    return toolbox.search(query, document_ids=document_ids, limit=limit)


def _answer_clauses(
    question: str, documents: list[Document], toolbox: Toolbox, budget: list[int]
) -> Generator[ToolStep, None, str]:
    """The whole question first, answered from its pages as a look-up would be; then each clause
    of a multi-part question is searched on its own, and where the answer so far leaves that
    clause uncovered, its best value line is added. The first citation stays the best page of
    the whole question: AGENTIC leads with the page FAST leads with."""
    document_ids = [d.pk for d in documents] or None
    first = _search(toolbox, question, document_ids, budget, limit=LOOKUP_PAGES_READ)
    if first is None:
        return ""
    yield first.step
    if first.retrieved is None or not first.retrieved.pages or not is_relevant(first.retrieved.pages[0]):
        return ""
    pages = list(first.retrieved.pages)
    weights = page_weights(pages)
    clause_terms: list[QueryTerms] = []
    clauses = [part.question for part in plan(question, documents)]
    # A later clause says "it": when the question names no part, it is about the part found first.
    clause_documents = document_ids or [pages[0].document_id]
    if len(clauses) >= 2:
        for clause in clauses:
            result = _search(toolbox, clause, clause_documents, budget)
            if result is None:
                break
            yield result.step
            if result.retrieved is None or not result.retrieved.pages:
                continue
            _merge(pages, weights, result.retrieved.pages[:3], 0.7)
            clause_terms.append(result.retrieved.terms)
    selection = _select(first.retrieved.terms, clause_terms, pages, weights)
    if selection.coverage < _WELL_COVERED and budget[0] > 0:
        # The answer may continue on the next page (a table that runs over): read it.
        top = pages[0]
        if not any(p.document_id == top.document_id and p.page == top.page + 1 for p in pages):
            budget[0] -= 1
            read = toolbox.read_page(top.source_name, top.page + 1)
            yield read.step
            page = _page_of(toolbox, read.numbers)
            if page is not None:
                _merge(pages, weights, [page], 0.5)
                selection = _select(first.retrieved.terms, clause_terms, pages, weights)
    numbers = [toolbox.add_evidence(p) for p in pages]
    return render(selection=selection, evidence=pages, numbers=numbers)


def _select(
    terms: QueryTerms, clause_terms: list[QueryTerms], pages: list[CitedPage], weights: list[float]
) -> Selection:
    """The look-up answer to the whole question, plus a value line for each clause it leaves
    uncovered; coverage is the whole question's."""
    selection = select_lookup(terms=terms, evidence=pages, page_weights=weights, pages=_LOOKUP_PAGES)
    units = list(selection.units)
    for clause in clause_terms:
        if _coverage(clause, units) >= _WELL_COVERED:
            continue
        extra = select_units(terms=clause, evidence=pages, page_weights=weights, max_units=1, value_lines=1)
        known = {(u.evidence_index, u.line_index) for u in units}
        units += [u for u in extra.units if (u.evidence_index, u.line_index) not in known]
    lead = _lead(units, clause_terms)
    units = at_most_lines([*lead, *(u for u in units if u not in lead)], LOOKUP_MAX_LINES + len(lead) - 1)
    units = adding_lines(units, terms, pages, lead=len(lead))
    coverage = _coverage(terms, units) if terms.weights else 0.0
    return Selection(units=units, coverage=max(coverage, selection.coverage), lead=len(lead))


def _lead(units: list[Unit], clause_terms: list[QueryTerms]) -> list[Unit]:
    """The lines of the answer's first line: the best one, then for each part of the question it
    leaves uncovered the line that covers that part best."""
    if not units:
        return []
    lead = [units[0]]
    for clause in clause_terms:
        if _coverage(clause, lead) >= _WELL_COVERED:
            continue
        best = max(units, key=lambda u: _coverage(clause, [u]))
        if best not in lead and _coverage(clause, [*lead, best]) > _coverage(clause, lead):
            lead.append(best)
    return lead


def _coverage(terms: QueryTerms, units: list[Unit]) -> float:
    """The share of a clause's (IDF-weighted) terms the chosen lines hold."""
    total = sum(terms.weights.values())
    if not total:
        return 1.0
    held: set[str] = set()
    for unit in units:
        held |= unit.lexemes
    return sum(w for lex, w in terms.weights.items() if lex in held) / total


def _merge(pages: list[CitedPage], weights: list[float], extra: list[CitedPage], weight: float) -> None:
    known = {(p.document_id, p.page) for p in pages}
    for page in extra:
        if (page.document_id, page.page) not in known:
            pages.append(page)
            weights.append(weight)
            known.add((page.document_id, page.page))


def _answer_part(part: Part, toolbox: Toolbox, budget: list[int], max_units: int) -> Generator[ToolStep, None, str]:
    """One part of a comparison: search its document, hop once if the terms are not covered."""
    document_ids = [d.pk for d in part.documents] or None
    result = _search(toolbox, part.question, document_ids, budget)
    if result is None:
        return ""
    yield result.step
    if result.retrieved is None or not result.retrieved.pages:
        return ""
    terms = result.retrieved.terms
    pages = list(result.retrieved.pages)
    weights = page_weights(pages)
    selection = select_units(terms=terms, evidence=pages, page_weights=weights, max_units=max_units)
    if selection.coverage < _WELL_COVERED:
        missing = _missing_terms(terms, selection)
        hop = _search(toolbox, f"{part.question} {' '.join(missing)}", document_ids, budget) if missing else None
        if hop is not None:
            yield hop.step
            if hop.retrieved is not None:
                _merge(pages, weights, hop.retrieved.pages[:2], 0.6)
    selection = select_units(
        terms=terms,
        evidence=pages,
        page_weights=weights,
        max_units=max_units,
        value_lines=_VALUE_LINES,
        meaning=line_similarity(result.retrieved.query_embedding),
    )
    numbers = [toolbox.add_evidence(p) for p in pages]
    return render(selection=selection, evidence=pages, label=part.label, numbers=numbers)


def _missing_terms(terms: QueryTerms, selection: Selection) -> list[str]:
    covered = set().union(*(u.lexemes for u in selection.units)) if selection.units else set()
    ranked = sorted(terms.weights.items(), key=lambda kv: -kv[1])
    return [lex for lex, _ in ranked if lex not in covered and lex not in terms.absent][:4]


def _page_of(toolbox: Toolbox, numbers: tuple[int, ...]) -> CitedPage | None:
    """The page a tool call added to the evidence list (a page read)."""
    if not numbers:
        return None
    return toolbox.evidence[numbers[0] - 1].copy()
