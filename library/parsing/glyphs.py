"""Characters as people type them: Symbol-font glyphs, ligatures and superscripts folded.

PDFs set in the Symbol font store its glyphs in the private-use area (U+F000 + Symbol code):
as they are, "µA" would be "\\uf06dA" and no one could search for it.
"""

import unicodedata

SYMBOL_FONT_GLYPHS = str.maketrans(
    {
        0xF020: " ", 0xF02D: "−", 0xF057: "Ω", 0xF06D: "µ", 0xF071: "θ", 0xF07E: "∼", 0xF0A3: "≤",
        0xF0A5: "∞", 0xF0B0: "°", 0xF0B1: "±", 0xF0B3: "≥", 0xF0B4: "×", 0xF0B7: "•", 0xF0E0: "►",
        0xF061: "α", 0xF062: "β", 0xF064: "δ", 0xF044: "Δ", 0xF070: "π", 0xF074: "τ", 0xF0D7: "·",
    }
)  # fmt: skip


def normalise_glyphs(text: str) -> str:
    """Symbol-font glyphs mapped, then NFKC (ﬁ → fi, I²C → I2C, the micro sign µ → μ).

    Questions go through NFKC too, so "µA" typed either way finds "μA" on the page.
    """
    return unicodedata.normalize("NFKC", text.translate(SYMBOL_FONT_GLYPHS))
