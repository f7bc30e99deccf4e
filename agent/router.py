"""AUTO mode: a rule-based classifier (no LLM call) that picks FAST or AGENTIC.

Simple look-ups go to FAST. Comparisons, multi-part questions, questions about several
documents, calculations and why/how questions need several searches and go to AGENTIC.
"""

import re

from agent.events import Mode

_COMPARISON = re.compile(
    r"\b(compare[sd]?|comparison|versus|vs\.?|differ(?:ence|ent|s)?|better|worse|"
    r"which (?:of|one)|(?:faster|slower|lower|higher|larger|smaller|more|less|bigger)\b.*\bor\b)",
    re.IGNORECASE,
)
_CALCULATION = re.compile(
    r"\b(calculate|compute|how (?:many|long|much) .* (?:if|when|at)|if i (?:write|set|use|tie|connect)|"
    r"what .* do i get|resulting|total|sum of|multiply|divided)\b",
    re.IGNORECASE,
)
_WHY_HOW = re.compile(r"^\s*(why|how (?:do|does|can|should|to|would|is|are))\b|\bwhy\b|\bhow do i\b", re.IGNORECASE)
# "..., and what/which/how ..." or two questions in one.
_MULTI_PART = re.compile(
    r"(,|;)?\s+and\s+(what|which|how|where|when|why|is|are|does|do|can|at which|for how)\b",
    re.IGNORECASE,
)


def route(*, query: str, named_documents: int) -> Mode:
    """FAST or AGENTIC for `query`; `named_documents` is how many documents it names."""
    several_searches = (
        named_documents >= 2  # several documents
        or _COMPARISON.search(query)
        or query.count("?") >= 2
        or _MULTI_PART.search(query)
        or _CALCULATION.search(query)
        or _WHY_HOW.search(query)
    )
    return Mode.AGENTIC if several_searches else Mode.FAST
