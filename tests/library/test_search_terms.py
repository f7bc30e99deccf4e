"""library/search/terms.py: which of the question's terms a text holds."""

import random
import re

from library.search.terms import (
    ABBREVIATIONS,
    QueryTerms,
    part_number_names,
    part_numbers_in,
    word_pairs,
    word_stem,
)


def _matched_term_by_term(terms: QueryTerms, lexemes: set[str]) -> set[str]:
    """The rule `matched` implements, written out plainly: a compound needs all its parts; a
    word its stem as the start of some lexeme, or its tables' abbreviation; letters and digits
    mixed their runs apart; a short word of letters itself after a number; anything else itself."""
    found = set()
    for lex in terms.weights:
        if "_" in lex:
            if all(part in lexemes for part in lex.split("_")):
                found.add(lex)
            continue
        stem = word_stem(lex)
        runs = re.findall(r"[a-z]+|\d+", lex)
        if (
            lex in lexemes
            or ABBREVIATIONS.get(lex) in lexemes
            or (stem is not None and any(other.startswith(stem) for other in lexemes))
            or (len(runs) > 1 and lex.isalnum() and lex.isascii() and all(run in lexemes for run in runs))
            or (lex.isalpha() and len(lex) <= 3 and any(re.fullmatch(rf"\d+(?:\.\d+)?{lex}", o) for o in lexemes))
        ):
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
        "kb",
        "4kb",
        "ufqfpn",
        "48",
        "ufqfpn48",
        "maximum",
        "max",
        "i2",
        "c",
    ]
    for _ in range(500):
        terms = QueryTerms(weights={lex: 1.0 for lex in rng.sample([*words, "who_am_i", "ctrl1_xl"], 5)})
        lexemes = set(rng.sample(words, rng.randint(0, 12)))
        assert terms.matched(lexemes) == _matched_term_by_term(terms, lexemes)


def test_numbers_and_units_are_found_written_together_or_apart() -> None:
    terms = QueryTerms(weights={"kb": 1.0, "ufqfpn48": 1.0, "maximum": 1.0})
    assert terms.matched({"4kb", "sector", "erase"}) == {"kb"}  # "4 KB" asked, "4KB" written
    assert terms.matched({"ufqfpn", "48", "7"}) == {"ufqfpn48"}  # "UFQFPN48" asked, "UFQFPN 48" written
    assert terms.matched({"max", "typ"}) == {"maximum"}  # the table's column header


def test_a_word_meets_its_relatives_through_its_stem() -> None:
    # "-ation" keeps "at" and a final "e" goes: the question's "regulate" finds "Regulation",
    # "regulation" finds "regulated" and "regulator".
    assert word_stem("regulation") == word_stem("regulate") == word_stem("regulated") == "regulat"
    assert QueryTerms(weights={"regulate": 1.0}).matched({"battery", "voltage", "regulation"}) == {"regulate"}
    assert QueryTerms(weights={"regulation": 1.0}).matched({"regulator"}) == {"regulation"}
    # A short word keeps its "e": "state" does not find "status" or "static".
    assert word_stem("state") == "state"


def test_words_the_question_writes_side_by_side_are_found_side_by_side_in_any_form() -> None:
    question = "What output voltage does the AMS1117-3.3 guarantee over the full temperature range?"
    weights = dict.fromkeys(["output", "voltage", "ams1117", "guarantee", "full", "temperature", "range"], 1.0)
    pairs = word_pairs(question, weights)
    assert pairs == (("output", "voltage"), ("full", "temperature"), ("temperature", "range"))
    terms = QueryTerms(weights=weights, pairs=pairs)
    assert terms.pairs_written("Parameter: Output Voltage · Device: AMS1117-3.3") == 1
    assert terms.pairs_written("Operating temperature-ranges: 0 to 125 °C") == 1
    # Both words apart name two things, not the one the question names.
    assert terms.pairs_written("Output current · Input voltage · Temperature: 25 °C") == 0


def test_a_family_written_with_an_x_is_a_part_number_and_names_its_members_datasheet() -> None:
    found = [m.group() for m in part_numbers_in("After I send 0x2400 to the SHT3x, or to an ADS111x, how long?")]
    assert found == ["SHT3x", "ADS111x"]
    assert part_number_names("SHT3x", "sensirion-sht3x.pdf")
    # The file name writes the family: each of its members names it, other parts do not.
    assert part_number_names("SHT31", "sensirion-sht3x.pdf")
    assert part_number_names("SHT35", "sensirion-sht3x.pdf")
    assert not part_number_names("SHT40", "sensirion-sht3x.pdf")
    assert not part_number_names("SHT310", "sensirion-sht3x.pdf")
    # An x that stands for no digit is a letter like any other.
    assert [m.group() for m in part_numbers_in("Is the box 3x bigger than the MAX7219?")] == ["MAX7219"]


def test_a_renamed_file_is_named_by_the_part_numbers_of_its_profile() -> None:
    profile = "STM32F103x8 STM32F103xB Medium-density performance line Arm®-based 32-bit MCU with 64 KB Flash"
    assert part_number_names("STM32F103C8", "en.CD00161566.pdf", profile)
    assert part_number_names("STM32F103RB", "en.CD00161566.pdf", profile)
    assert not part_number_names("STM32F105RC", "en.CD00161566.pdf", profile)
    assert not part_number_names("STM32F103C8", "en.CD00161566.pdf")  # the file name alone says nothing
    assert part_number_names("MAX7221", "1234.pdf", "The MAX7219/MAX7221 are compact display drivers.")
    assert part_number_names("SHT31", "datasheet (3).pdf", "SHT3x-DIS is the next generation of sensors.")
