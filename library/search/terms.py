"""The question's terms: the one stop-word list, stems, compound names, part numbers, IDF.

Pure text rules, no database: library.search.sql asks PostgreSQL how the `simple` parser
splits the question and how many chunks hold each term, and `query_terms_weighed` turns
those counts into the weights every later stage uses.
"""

import functools
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

# Words that carry no search signal in a question. Everything else, including one-letter
# symbols and numbers, is kept: "tPD", "I2C", "0x76", "5 V" must reach full-text search.
STOPWORDS = frozenset(
    """
    a about above after again all also am an and any are as at be been before being below
    between both but by can could did do does doing down during each either few for from
    further get gets give gives had has have having he her here hers how i if in into is it
    its itself just me more most my need no nor not of off on once only or other our out
    over own same she should so some such than that the their them then there these they
    this those through to too under until up use used using very was we were what when where
    which while who whom why will with would you your yours tell much many
    """.split()
)

# A term this long is no word of a datasheet (a run of characters without spaces).
_LONGEST_TERM = 60


@dataclass(frozen=True)
class HeldTerms:
    """Which of the question's terms the chunks of a scope hold, as `query_terms` read them going
    through the scope row by row. The chunks holding any are grouped by which they hold: bit i of
    a pattern is `lexemes[i]`, and each pattern maps to how many chunks hold exactly those terms
    and their ids, comma-separated (read only for the patterns that can make the full-text
    candidates). `scope` names the scope (org, topics, documents), so only a search of it takes them.
    When the pass was given the question's vector, `nearest` holds the scope's chunks nearest it,
    nearest first, and `nearest_to` that vector and how many were asked for."""

    scope: tuple[int, tuple[int, ...] | None, tuple[int, ...] | None]
    lexemes: tuple[str, ...]
    patterns: Mapping[int, tuple[int, str]]
    nearest: tuple[int, ...] = ()
    nearest_to: tuple[tuple[float, ...], int] | None = None

    def chunks_holding(self, lexeme: str) -> int:
        """How many chunks of the scope hold the term."""
        bit = 1 << self.lexemes.index(lexeme)
        return sum(count for pattern, (count, _) in self.patterns.items() if pattern & bit)


@dataclass(frozen=True)
class QueryTerms:
    """The question's full-text lexemes with their inverse document frequency in the org.

    A plain word is searched by its stem as a prefix ("addresses" finds "address"), since
    the `simple` configuration does not stem; numbers and symbols are searched exactly.
    """

    weights: dict[str, float]
    absent: frozenset[str] = frozenset()  # terms no chunk in the scope holds (not in weights)
    absent_weight: float = 0.0
    scope_chunks: int | None = None  # how many chunks the scope holds, when counted
    held: HeldTerms | None = field(default=None, compare=False, repr=False)
    # Plain words the question writes side by side ("output voltage", "temperature range").
    pairs: tuple[tuple[str, str], ...] = ()

    @property
    def present_share(self) -> float:
        """The share of the question's weight that some chunk in the scope holds."""
        present = sum(self.weights.values())
        return present / (present + self.absent_weight) if present + self.absent_weight else 0.0

    @property
    def lexemes(self) -> list[str]:
        return list(self.weights)

    def matched(self, lexemes: set[str]) -> set[str]:
        """The question's terms found among a text's lexemes (a compound: all of its parts)."""
        found = set()
        heads: dict[int, set[str]] = {}  # the text's lexemes cut to a stem's length, by length
        joined: set[str] | None = None  # the text's number+unit lexemes' units ("4kb" → "kb")
        for lex, stem, parts in self._forms:
            if parts:
                if all(part in lexemes for part in parts):
                    found.add(lex)
            elif lex in lexemes or ABBREVIATIONS.get(lex) in lexemes:
                found.add(lex)
            elif _MIXED.fullmatch(lex) and all(run in lexemes for run in _RUNS.findall(lex)):
                found.add(lex)  # "ufqfpn48" in the question, "UFQFPN 48" in the text
            elif lex.isalpha() and len(lex) <= _UNIT_LETTERS:
                if joined is None:
                    joined = units_written_on_numbers(lexemes)
                if lex in joined:
                    found.add(lex)  # "4 KB" in the question, "4KB" in the text
            elif stem is not None:
                if len(stem) not in heads:
                    heads[len(stem)] = {other[: len(stem)] for other in lexemes}
                if stem in heads[len(stem)]:  # some lexeme starts with the stem
                    found.add(lex)
        return found

    @cached_property
    def match_forms(self) -> list[str | None]:
        """Each term's `match_form`, in the order of `weights`: what `matched` finds, asked of SQL,
        but for a short word written onto a number ("4KB" for "kb"; see `unit_terms`)."""
        return [match_form(lex) for lex in self.weights]

    @cached_property
    def unit_terms(self) -> list[str]:
        """The terms `matched` also finds written onto a number, as a unit ("kb" in "4kb"): no
        tsquery says that, so those lexemes are read (`unit_pattern` finds them, and more)."""
        return [lex for lex in self.weights if "_" not in lex and lex.isalpha() and len(lex) <= _UNIT_LETTERS]

    def pairs_written(self, text: str) -> int:
        """How many of the question's word pairs `text` writes side by side, each word in any of
        its forms ("Output Voltage" for "output voltage", "temperature-range" for "temperature range")."""
        return sum(1 for pattern in self._pair_patterns if pattern.search(text))

    @cached_property
    def _pair_patterns(self) -> list[re.Pattern[str]]:
        return [
            re.compile(rf"\b{word_forms(first)}\w*[\s/-]+{word_forms(second)}", re.IGNORECASE)
            for first, second in self.pairs
        ]

    @cached_property
    def _forms(self) -> list[tuple[str, str | None, list[str]]]:
        """Each term, its stem (None: found only exactly) and a compound's parts, worked out
        once: `matched` runs on every block of every candidate page."""
        return [(lex, None, lex.split("_")) if "_" in lex else (lex, word_stem(lex), []) for lex in self.weights]


# A term of letters and digits ("ufqfpn48", "4kb") is also found written apart, and a short
# word of letters ("kb") also written onto a number ("4kb").
_MIXED = re.compile(r"(?=.*[a-z])(?=.*\d)[a-z0-9]+")
_RUNS = re.compile(r"[a-z]+|\d+")
_NUMBER_UNIT = re.compile(r"(\d+(?:\.\d+)?)([a-z]+)")
_UNIT_LETTERS = 3


def units_written_on_numbers(lexemes: Iterable[str]) -> set[str]:
    """The units of a text's number+unit lexemes ("4kb" → "kb", "3.3v" → "v")."""
    return {m.group(2) for other in lexemes if (m := _NUMBER_UNIT.fullmatch(other))}


def unit_pattern(units: Sequence[str]) -> str:
    """A PostgreSQL regular expression matching every lexeme that writes one of these units (all
    letters, so none is special to a pattern) onto a number, and some that do not: the unit,
    after anything but a-z, at the end."""
    return "[^a-z](?:" + "|".join(units) + ")$"


# How datasheet tables write a word of the question: "Max" for "maximum" (column headers, units).
ABBREVIATIONS = {
    "maximum": "max",
    "minimum": "min",
    "typical": "typ",
    "typically": "typ",
    "temperature": "temp",
    "frequency": "freq",
}


_PLAIN_WORD = re.compile(r"[A-Za-z]+(?![\w-])|\S+")


def word_pairs(question: str, terms: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """The question's terms that are plain words written side by side in it, in pairs: a
    line that writes them together names the same thing ("output voltage"), where one holding
    both apart may speak of two ("output current … input voltage")."""
    plain = {term for term in terms if term.isalpha()}
    words = [match.group().lower() for match in _PLAIN_WORD.finditer(question)]
    return tuple(dict.fromkeys((a, b) for a, b in itertools.pairwise(words) if a in plain and b in plain and a != b))


def question_terms(lexemes: list[str], question: str) -> list[str]:
    """The terms worth searching for: the parser's lexemes less stop words, then compound names."""
    terms = [lex for lex in lexemes if lex not in STOPWORDS and len(lex) < _LONGEST_TERM]
    return terms + [name for name in compound_terms(question) if len(name) < _LONGEST_TERM]


def query_terms_weighed(
    terms: list[str], chunk_counts: dict[str, int], total_chunks: int, *, identifier_weight: float = 1.0
) -> QueryTerms:
    """Weigh each term by BM25's IDF over `total_chunks`, `chunk_counts` holding it, times
    `identifier_weight` for an identifier ("who_am_i", "0x76", "ctrl1_xl"): it names one thing
    exactly, where a word of the question ("return", "value") is one way among many to say it.

    Terms no chunk holds cannot rank anything; their weight is kept apart so that a question
    made mostly of them is seen to be covered by no page.
    """
    idf = {
        lex: math.log(1 + (total_chunks - chunk_counts.get(lex, 0) + 0.5) / (chunk_counts.get(lex, 0) + 0.5))
        * (identifier_weight if is_identifier(lex) else 1.0)
        for lex in terms
    }
    absent = frozenset(lex for lex in terms if not chunk_counts.get(lex))
    return QueryTerms(
        weights={lex: w for lex, w in idf.items() if lex not in absent},
        absent=absent,
        absent_weight=sum(idf[lex] for lex in absent),
        scope_chunks=total_chunks,
    )


# A register, field or constant name: "who_am_i", "ctrl1_xl", "0x76", "9fh".
_IDENTIFIER = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)+|0x[0-9a-f]+|(?=[0-9a-f]*\d)[0-9a-f]+h")


def is_identifier(lexeme: str) -> bool:
    return bool(_IDENTIFIER.fullmatch(lexeme))


# Endings cut from a word to search the rest as a prefix, each with what it leaves and the
# least length of what it leaves: "-ation" keeps "at" and a final "e" goes, so "regulation",
# "regulate" and "regulated" all find "regulator".
_SUFFIXES = (
    ("ations", "at", 4),
    ("ation", "at", 4),
    ("ies", "", 4),
    ("es", "", 4),
    ("s", "", 4),
    ("ing", "", 4),
    ("ed", "", 4),
    ("e", "", 5),
)


def word_stem(lexeme: str) -> str | None:
    """A crude stem of a plain English word ("addresses" → "address"); None for symbols."""
    if not lexeme.isalpha() or not lexeme.isascii() or len(lexeme) < 5:
        return None
    for suffix, kept, least in _SUFFIXES:
        if lexeme.endswith(suffix) and len(lexeme) - len(suffix) >= least and not lexeme.endswith("ss"):
            return lexeme[: -len(suffix)] + kept
    return lexeme


def word_forms(word: str) -> str:
    """A regular expression finding a word in any of its forms, written from a word boundary:
    its stem ("regulat" for "regulation"), or the word itself when it has none."""
    return re.escape(word_stem(word) or word)


# A register or field name: WHO_AM_I, CTRL1_XL, PRE_SCALE. The parser splits it at the
# underscores, often into stop words ("who", "am", "i"), so it is searched as a phrase.
_COMPOUND = re.compile(r"(?<![\w])[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+(?![\w])")


def compound_terms(text: str) -> list[str]:
    """The underscore-joined names in a text, lower-cased ("who_am_i")."""
    return list(dict.fromkeys(match.lower() for match in _COMPOUND.findall(text)))


def search_form(lexeme: str) -> str:
    """The tsquery text that finds a lexeme: a prefix query on a word's stem, a phrase for a
    compound name, else exact."""
    if "_" in lexeme:
        return " <-> ".join(search_form(part) for part in lexeme.split("_") if part)
    if lexeme in ABBREVIATIONS:
        return f"('{word_stem(lexeme) or lexeme}':* | '{ABBREVIATIONS[lexeme]}')"
    stem = word_stem(lexeme)
    if stem is not None:
        return "'" + stem + "':*"
    return _exact_form(lexeme)


def match_form(lexeme: str) -> str | None:
    """The tsquery text that holds for a text exactly when `QueryTerms.matched` finds the term
    among the text's lexemes, but for a unit written onto a number (`QueryTerms.unit_terms`): a
    compound's parts each exactly, anywhere in the text (not as a phrase); any other term
    exactly, as its table abbreviation, as its runs of letters and digits written apart, or by
    its stem as a prefix. None for a compound with an empty part, which `matched` never finds."""
    if "_" in lexeme:
        parts = lexeme.split("_")
        return None if "" in parts else " & ".join(_exact_form(part) for part in parts)
    forms = [_exact_form(lexeme)]
    if lexeme in ABBREVIATIONS:
        forms.append(_exact_form(ABBREVIATIONS[lexeme]))
    if _MIXED.fullmatch(lexeme):
        forms.append("(" + " & ".join(_exact_form(run) for run in _RUNS.findall(lexeme)) + ")")
    stem = word_stem(lexeme)
    if stem is not None:
        forms.append("'" + stem + "':*")
    return " | ".join(forms)


def _exact_form(lexeme: str) -> str:
    return "'" + lexeme.replace("'", "''").replace("\\", "\\\\") + "'"


# --- part numbers -------------------------------------------------------------------------

# A part number: letters and digits mixed ("BME280", "LSM6DS33", "ESP32-WROOM-32", "IRF540N").
# A hyphenated tail of lower-case words is English, not part of the number ("ICL7660-family",
# "BME280-based"); an upper-case or numbered one is ("ESP32-WROOM-32", "LM358-Q1").
_PART_TOKEN = re.compile(
    r"(?<![\w.])[A-Za-z][A-Za-z0-9]*\d[A-Za-z0-9]*(?:-(?![a-z]{3,}(?:-[a-z]+)*(?![\w-]))[A-Za-z0-9]+)*(?![\w.])"
)
# A part number whose digits follow a hyphen ("MPU-6050"): not a name `part_numbers_in` takes
# for a document's, but a part a question may ask about all the same.
_HYPHENATED_PART = re.compile(r"(?<![\w.])[A-Za-z]{2,}[A-Za-z0-9]*-\d{2,}[A-Za-z0-9-]*(?![\w.])")


# "SHT3x", "STM32F10x": a lower-case x after a digit stands for any one digit or letter.
_WILDCARD_X = re.compile(r"(?<=\d)x")


def part_numbers_in(text: str) -> list[re.Match[str]]:
    """The part numbers written in a text, as matches ("BME280", "ICL7660A", "ESP32-WROOM-32",
    and a family with a lower-case "x" for a digit: "SHT3x", "ADS111x")."""
    return [
        match
        for match in _PART_TOKEN.finditer(text)
        if len(token := _alnum(match.group())) >= 4
        and (digits := sum(ch.isdigit() for ch in token) + len(_WILDCARD_X.findall(match.group()))) >= 2
        # "A4988": one letter is enough before three digits or more.
        and sum(ch.isalpha() for ch in token) >= (1 if digits >= 3 else 2)
    ]


def parts_asked_about(text: str) -> list[str]:
    """Every part a question may ask about: part numbers, and hyphenated ones ("MPU-6050")."""
    tokens = [match.group() for match in part_numbers_in(text)]
    return tokens + [match.group() for match in _HYPHENATED_PART.finditer(text) if match.group() not in tokens]


def part_number_names(part_number: str, source_name: str, profile: str = "") -> bool:
    """Whether a part number names the document of this file, whose profile (its title and
    first paragraph, read at ingestion) is `profile`: the file name contains it, or it is a
    word of the file name or a part number of the profile ("SHT3x-DIS", "STM32F103xB"), that
    word extended by a suffix letter or two (ICL7660A → renesas-icl7660.pdf), or a member of
    the family that word writes with an "x" (SHT31 → sensirion-sht3x.pdf, STM32F103C8 →
    "STM32F103x8"). A renamed file ("datasheet (3).pdf") is still named by its profile."""
    token = _alnum(part_number)
    stem, words, families = _names_of(source_name, profile)
    return (
        token in stem
        or any(token == w or (token.startswith(w) and len(token) - len(w) <= 2) for w in words)
        or any(family.fullmatch(token) for family in families)
    )


@functools.lru_cache(maxsize=1024)
def _names_of(source_name: str, profile: str) -> tuple[str, frozenset[str], tuple[re.Pattern[str], ...]]:
    """What names a document, worked out once (every question asks it of every document): its
    file name without the extension, its words of four characters or more (the file name's and
    the profile's part numbers'), and the families among them as patterns, each "x" after a
    digit any one digit or letter ("sht3x")."""
    stem = source_name.rsplit(".", 1)[0]
    words = {_alnum(w) for w in re.split(r"[-_ .]+", stem) if w}
    words |= {_alnum(w) for match in part_numbers_in(profile) for w in re.split(r"[-/]", match.group()) if w}
    words = {w for w in words if len(w) >= 4}
    families = tuple(re.compile(_WILDCARD_X.sub("[a-z0-9]", re.escape(w))) for w in words if _WILDCARD_X.search(w))
    return _alnum(stem), frozenset(words), families


_POSSESSIVE = re.compile(r"(?<=\w)['’]s\b")


def without_possessives(query: str) -> str:
    """ "the ADS1115's addresses" as "the ADS1115 addresses": the parser would make the "s" a
    term of its own, and as a rare one it would outweigh "address"."""
    return _POSSESSIVE.sub("", query)


def without_parts_of(query: str, documents: Sequence[tuple[str, str]]) -> str:
    """The question without the part numbers naming these documents (file name and profile
    of each): within the ESP32-WROOM-32's datasheet, "esp32", "wroom" and "32" tell no page
    from another, yet as rare words they would outweigh "strapping" on every page that spells
    the module's name."""
    for match in reversed(part_numbers_in(query)):
        if any(part_number_names(match.group(), name, profile) for name, profile in documents):
            query = query[: match.start()] + " " + query[match.end() :]
    return query


def _alnum(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())
