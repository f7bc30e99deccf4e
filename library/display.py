"""Stored text as people read it: Symbol-font glyphs shown as the characters they draw.

Pages are stored (and searched) as extracted; PDFs set in the Symbol font leave glyphs in
the private-use area there, which a browser shows as boxes. Every page that shows stored text
(the library's cited page, the chat's answers) maps them through library.parsing.glyphs.
"""

import re

from library.parsing.glyphs import normalise_glyphs

_PRIVATE_USE = re.compile("[\uf000-\uf0ff]")


def readable(text: str) -> str:
    """The text with each Symbol-font glyph replaced by the character it draws (μ, Ω, ≤, …)."""
    return _PRIVATE_USE.sub(lambda match: normalise_glyphs(match.group()), text)
