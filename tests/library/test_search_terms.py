"""library/search/terms.py: which of the question's terms a text holds."""

import random

from library.search.terms import QueryTerms, word_stem


def _matched_term_by_term(terms: QueryTerms, lexemes: set[str]) -> set[str]:
    """The rule `matched` implements, written out plainly: a compound needs all its parts, a
    word its stem as the start of some lexeme, anything else itself."""
    found = set()
    for lex in terms.weights:
        if "_" in lex:
            if all(part in lexemes for part in lex.split("_")):
                found.add(lex)
            continue
        stem = word_stem(lex)
        if lex in lexemes or (stem is not None and any(other.startswith(stem) for other in lexemes)):
            found.add(lex)
    return found


def test_a_word_is_found_by_its_stem_a_compound_by_all_its_parts() -> None:
    terms = QueryTerms(weights={"addresses": 1.0, "who_am_i": 1.0, "0x76": 1.0, "i2c": 1.0})
    assert terms.matched({"address", "who", "am", "i", "0x76"}) == {"addresses", "who_am_i", "0x76"}
    assert terms.matched({"addressing", "who", "i2c"}) == {"addresses", "i2c"}
    assert terms.matched({"0x7", "add"}) == set()


def test_matched_agrees_with_the_rule_on_random_texts() -> None:
    rng = random.Random(7)
    words = [
        "address",
        "addresses",
        "addressing",
        "voltage",
        "voltages",
        "supply",
        "supplied",
        "i2c",
        "0x76",
        "who",
        "am",
        "i",
        "ctrl1",
        "xl",
        "current",
        "currents",
        "range",
        "ranges",
        "vdd",
        "vddio",
        "sleep",
    ]
    for _ in range(500):
        terms = QueryTerms(weights={lex: 1.0 for lex in rng.sample([*words, "who_am_i", "ctrl1_xl"], 5)})
        lexemes = set(rng.sample(words, rng.randint(0, 12)))
        assert terms.matched(lexemes) == _matched_term_by_term(terms, lexemes)


def test_a_word_meets_its_relatives_through_its_stem() -> None:
    # "-ation" keeps "at" and a final "e" goes: the question's "regulate" finds "Regulation",
    # "regulation" finds "regulated" and "regulator".
    assert word_stem("regulation") == word_stem("regulate") == word_stem("regulated") == "regulat"
    assert QueryTerms(weights={"regulate": 1.0}).matched({"battery", "voltage", "regulation"}) == {"regulate"}
    assert QueryTerms(weights={"regulation": 1.0}).matched({"regulator"}) == {"regulation"}
    # A short word keeps its "e": "state" does not find "status" or "static".
    assert word_stem("state") == "state"
