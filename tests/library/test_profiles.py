"""Documents named by what they are: profiles read at ingestion, phrases matched to them."""

from pathlib import Path

import pypdfium2
import pytest

from agent.planner import plan
from agent.scope import scope_choose
from library.models import Document
from library.parsing.pages import page_layout
from library.parsing.profile import PROFILE_PAGES, document_profile
from library.search.profiles import _phrases, _spelled_out, documents_described_in
from library.search.sql import words_held
from library.selectors import documents_named_in
from tests.conftest import DATASHEETS
from tests.library.conftest import ingest

EXTRA_DATASHEETS = Path(DATASHEETS).parent / "datasheets-extra"


def profile_of(path: Path) -> str:
    pdf = pypdfium2.PdfDocument(path)
    try:
        return document_profile([page_layout(pdf, index) for index in range(min(PROFILE_PAGES, len(pdf)))])
    finally:
        pdf.close()


@pytest.mark.parametrize(
    ("path", "says"),
    [
        (DATASHEETS / "microchip-mcp2515.pdf", "Stand-Alone CAN Controller"),
        (DATASHEETS / "bosch-bme280.pdf", "humidity"),
        # A cover page and a copyright notice come first: the defining paragraph is further on.
        (EXTRA_DATASHEETS / "nordic-nrf24l01p.pdf", "single chip 2.4GHz transceiver"),
        (EXTRA_DATASHEETS / "mps-mp2603.pdf", "Li-ion battery charger"),
    ],
)
def test_a_profile_says_what_the_part_is_in_the_datasheets_own_words(path: Path, says: str) -> None:
    profile = profile_of(path)
    assert says.lower() in profile.lower()
    assert len(profile) <= 400 and "All rights reserved" not in profile


@pytest.mark.django_db
@pytest.mark.slow
def test_a_part_named_by_what_it_is_resolves_to_its_document(datasheets_org) -> None:
    def described(text: str) -> list[str]:
        return [d.document.source_name for d in documents_described_in(org=datasheets_org, text=text)]

    assert described("What is the maximum bit rate of the CAN controller?") == ["microchip-mcp2515.pdf"]
    assert described("How fast can the USB UART bridge transfer data?") == ["ftdi-ft232r.pdf"]
    # An acronym the model does not know, spelled out by a profile ("iNEMO inertial module").
    assert described("What full-scale ranges does the IMU's gyroscope offer?") == ["st-lsm6ds33.pdf"]
    # Words that name no part leave the search to the whole library.
    assert described("What is the output voltage at the lowest temperature?") == []


@pytest.mark.django_db
@pytest.mark.slow
def test_a_comparison_of_described_parts_asks_each_without_either_description(datasheets_org) -> None:
    question = "Which accepts the faster SPI clock, the CAN controller or the power MOSFET?"
    scope = scope_choose(org=datasheets_org, query=question, history=[], topics=None)
    assert [d.source_name for d in scope.documents] == ["microchip-mcp2515.pdf", "infineon-irf540n.pdf"]
    assert scope.named_in_query == 2  # AUTO answers it as a comparison
    parts = plan(question, scope.documents, scope.phrases)
    can, mosfet = (p.question for p in parts)
    # Each search is kept to its part's document: the description would only find its title page.
    assert can == mosfet == "Which accepts the SPI clock?"


def test_a_number_with_a_decimal_point_stays_in_the_phrase() -> None:
    assert _phrases("Which draws less, the 2.4 GHz radio or the serial flash?") == [
        ["2.4", "2.4 GHz", "2.4 GHz radio"],
        ["serial", "serial flash"],
    ]


def test_an_acronym_is_spelled_out_by_initials_and_the_last_words_own_letters() -> None:
    assert _spelled_out("ldo", "1a low dropout voltage regulator".split()) == "low dropout"
    assert _spelled_out("rtc", "an accurate real time clock with".split()) == "real time clock"
    # Letters from inside a word other than the last, or stop words, spell nothing.
    assert _spelled_out("dac", "in a dsbga chip sized package".split()) == ""
    assert _spelled_out("ldo", "led displays of up to".split()) == ""


def test_what_comes_before_of_is_a_property_not_a_part() -> None:
    assert _phrases("What is the supply current of the CAN controller?") == [["CAN", "CAN controller"]]


@pytest.mark.django_db
@pytest.mark.slow
def test_a_phrase_another_datasheet_writes_out_does_not_name_one_alike_in_meaning_only(datasheets_org) -> None:
    def described(text: str) -> list[str]:
        return [d.document.source_name for d in documents_described_in(org=datasheets_org, text=text)]

    # The BME280's profile is closest in meaning, but it never writes "tilt"; the accelerometers do.
    assert "bosch-bme280.pdf" not in described("What angle can the tilt sensor resolve?")
    icl7660 = Document.objects.get(org=datasheets_org, source_name="renesas-icl7660.pdf")
    assert words_held(org=datasheets_org, words=["charge", "pump", "converter"]).get(icl7660.pk) == 3


@pytest.mark.django_db
@pytest.mark.slow
def test_a_phrase_two_datasheets_fit_alike_names_both_unless_the_rest_of_the_question_tells_them_apart(
    datasheets_org,
) -> None:
    def described(text: str) -> set[str]:
        return {d.document.source_name for d in documents_described_in(org=datasheets_org, text=text)}

    # Both are MEMS accelerometers; only the LSM6DS33's datasheet writes of a pedometer.
    assert described("What range does the MEMS accelerometer have?") == {"st-lsm6ds33.pdf", "adi-adxl345.pdf"}
    assert described("How many steps can the pedometer of the MEMS accelerometer count?") == {"st-lsm6ds33.pdf"}


def test_a_datasheet_uploaded_under_another_name_is_named_by_its_part_numbers(org, upload) -> None:
    renamed = ingest(upload("datasheet (3).pdf", (DATASHEETS / "infineon-irf540n.pdf").read_bytes()))
    other = ingest(upload("renesas-icl7660.pdf", (DATASHEETS / "renesas-icl7660.pdf").read_bytes()))
    assert renamed.status == other.status == Document.Status.READY
    named = documents_named_in(org=org, text="Which runs hotter, the IRF540N or the ICL7660A?")
    assert [d.source_name for d in named] == ["datasheet (3).pdf", "renesas-icl7660.pdf"]
    parts = plan("Which runs hotter, the IRF540N or the ICL7660A?", named)
    assert [part.label for part in parts] == ["IRF540N", "ICL7660A"]
    assert "ICL7660A" not in parts[0].question and "IRF540N" not in parts[1].question
