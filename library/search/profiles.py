"""Documents a question names by what they are: "the humidity sensor", "the 2.4 GHz radio".

Every document gets a profile at ingestion (library.parsing.profile: its title and the
paragraph that says what the part is) and the profile's embedding. A question's short
noun phrases after "the" are compared with the org's profiles, in meaning (cosine) and in
words (the share of the phrase's words the profile holds). A phrase names a document when
its best profile is close enough and clearly closer than the next one, and few of the
org's datasheets use the phrase at all; nothing is listed by hand per part.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from library.embeddings import embed_texts
from library.models import Document
from library.search.sql import documents_mentioning, words_held
from library.search.terms import STOPWORDS
from orgs.models import Organization

# A phrase names a document when its score (cosine + _WORDS_WEIGHT × word share) reaches
# _MIN_SCORE and beats the next document's by _MIN_MARGIN (documents within _MIN_MARGIN of the
# best are all named). Chosen on the dev datasheets' descriptions ("the CAN controller", "the
# accelerometer") against phrases that name no part ("the output", "the battery", "the checksum").
_MIN_SCORE = 0.45
_MIN_MARGIN = 0.04
_WORDS_WEIGHT = 0.15
_MAX_WORDS = 4
# At most this many documents a phrase fits alike are each taken as meant.
_MAX_TIED = 3
# A phrase most datasheets use is a property, not a part's name.
_MAX_MENTIONED_SHARE = 0.25
# "the faster I2C clock", "the lower supply current": a comparison's property, not a part.
_COMPARATIVE = re.compile(
    r"^(?:lower|higher|faster|slower|larger|smaller|bigger|greater|fewer|more|less|better|worse|wider|narrower"
    r"|longer|shorter|lowest|highest|fastest|slowest|largest|smallest|same|other|first|last|next|following)\b",
    re.IGNORECASE,
)
_PHRASE_END = re.compile(
    r"[,;:?!()\"]|\.(?!\d)|\s(?:or|and|vs\.?|versus|than|with|from|in|on|at|to|for|when|if|of)\s", re.I
)
_WORD = re.compile(r"[a-z0-9][a-z0-9.+]*", re.I)


@dataclass(frozen=True)
class Described:
    document: Document
    phrase: str  # as the question writes it, without "the"


def documents_described_in(*, org: Organization, text: str, topic_ids: Sequence[int] | None = None) -> list[Described]:
    """The documents the text names by description, in the order it names them."""
    candidates = _phrases(text)
    if not candidates:
        return []
    profiled = Document.objects.filter(org=org, profile_embedding__isnull=False).exclude(profile="")
    if topic_ids is not None:
        profiled = profiled.filter(topics__in=list(topic_ids)).distinct()
    documents = list(profiled.order_by("pk"))
    if len(documents) < 2:
        return []
    profiles = np.asarray([d.profile_embedding for d in documents], dtype=np.float32)
    profile_words = [[w.lower() for w in _WORD.findall(d.profile)] for d in documents]
    profile_sets = [set(words) for words in profile_words]
    found: list[Described] = []
    for options in candidates:
        vectors = embed_texts(options)
        named: list[tuple[float, list[int], str]] = []  # (score, document indexes, phrase) of each option
        for option, vector in zip(options, vectors, strict=True):
            words = _WORD.findall(option)
            shares = np.asarray([_word_share(words, held) for held in profile_sets])
            scores = profiles @ vector + _WORDS_WEIGHT * shares
            _score_spelled_out(words, profile_words, profile_sets, profiles, scores)
            order = np.argsort(-scores)
            top = float(scores[order[0]])
            if top >= _MIN_SCORE:
                # Documents within the margin of the best fit the phrase alike: the library holds
                # two humidity sensors, and "the humidity sensor" is answered for both.
                tied = [int(i) for i in order[:_MAX_TIED] if top - float(scores[i]) < _MIN_MARGIN]
                named.append((top, tied, option))
        for _, indexes, phrase in sorted(named, reverse=True):
            if any(item.document.pk == documents[indexes[0]].pk for item in found):
                break
            # Words every datasheet uses ("the output voltage") are a property, not a part's name;
            # a longer option may still name one ("serial" no, "serial flash" yes).
            if documents_mentioning(org=org, phrase=phrase) > max(2, _MAX_MENTIONED_SHARE * len(documents)):
                continue
            if len(indexes) == 1 and _spelled_by_another(org, documents[indexes[0]], phrase):
                break
            if len(indexes) > 1:
                indexes = _told_apart(org, documents, indexes, text, phrase)
            found += [Described(document=documents[index], phrase=phrase) for index in indexes]
            break
    return found


def _spelled_by_another(org: Organization, document: Document, phrase: str) -> bool:
    """Whether another datasheet writes every word of the phrase and this one does not: the
    phrase was matched to this one for a likeness in meaning ("the charge-pump converter" to a
    battery charger) while another says it in so many words. A datasheet that writes none of
    the words can still be meant ("the USB bridge")."""
    words = _plain_words(phrase)
    writers = {pk for pk, held in words_held(org=org, words=words).items() if held == len({w.lower() for w in words})}
    return bool(writers) and document.pk not in writers


def _told_apart(org: Organization, documents: list[Document], tied: list[int], text: str, phrase: str) -> list[int]:
    """Of the documents (indexes `tied`) a phrase fits alike, those that write the most of the
    rest of the question's words: "the humidity sensor" with "what does Bosch prescribe" is the
    one Bosch wrote."""
    rest = re.sub(re.escape(phrase), " ", text, flags=re.IGNORECASE)
    held = words_held(org=org, words=_plain_words(rest))
    most = max(held.get(documents[index].pk, 0) for index in tied)
    return [index for index in tied if held.get(documents[index].pk, 0) == most]


def _plain_words(phrase: str) -> list[str]:
    """The phrase's words a datasheet would write out: lower-case words of three letters or
    more, not stop words; not an acronym (a profile may spell it out instead) nor a unit ("GHz")."""
    words = re.findall(r"(?<![\w.])[A-Za-z]{3,}(?![\w.])", phrase)
    return [w for w in words if w[1:].islower() and w.lower() not in STOPWORDS]


def _word_share(words: list[str], profile: set[str]) -> float:
    """The share of the phrase's words the profile holds."""
    return sum(w.lower() in profile for w in words) / len(words)


def _score_spelled_out(
    words: list[str],
    profile_words: list[list[str]],
    profile_sets: list[set[str]],
    profiles: np.ndarray,
    scores: np.ndarray,
) -> None:
    """Score again, against each profile that spells out an acronym of the phrase ("LDO": "low
    dropout"), the phrase with the acronym in those words: the model does not know most
    acronyms. An acronym some profile holds as a word ("RTC", "ADCs") is left as it is."""
    acronyms = [
        w for w in words if len(w) >= 3 and w.isalpha() and w.isupper() and not _held_anywhere(w.lower(), profile_sets)
    ]
    if not acronyms:
        return
    spelled: list[tuple[int, str]] = []
    for index, profile in enumerate(profile_words):
        expansions = {acronym: _spelled_out(acronym.lower(), profile) for acronym in acronyms}
        if any(expansions.values()):
            spelled.append((index, " ".join(expansions.get(w) or w for w in words)))
    if spelled:
        for (index, phrase), vector in zip(spelled, embed_texts([phrase for _, phrase in spelled]), strict=True):
            share = _word_share(phrase.split(), profile_sets[index])
            scores[index] = max(scores[index], float(profiles[index] @ vector) + _WORDS_WEIGHT * share)


def _held_anywhere(word: str, profile_sets: list[set[str]]) -> bool:
    return any(word in profile or f"{word}s" in profile for profile in profile_sets)


def _spelled_out(letters: str, profile: list[str]) -> str:
    """Consecutive words of the profile that spell the acronym's letters, or "": each word gives
    its initial, the last one may give more of its letters after its first three ("low
    dropout" for "ldo", "inertial module" for "imu"); no stop word, no word under three letters."""
    for start in range(len(profile)):
        for length in range(2, len(letters) + 1):
            words = profile[start : start + length]
            if len(words) < length or any(len(w) < 3 or not w.isalpha() or w in STOPWORDS for w in words):
                continue
            initials, rest = letters[: length - 1], letters[length - 1 :]
            if all(w[0] == c for w, c in zip(words, initials, strict=False)) and _ends_with_letters(rest, words[-1]):
                return " ".join(words)
    return ""


def _ends_with_letters(letters: str, word: str) -> bool:
    """Whether the word starts with the first letter and holds the others in order, past its third."""
    if word[0] != letters[0]:
        return False
    position = 3
    for letter in letters[1:]:
        position = word.find(letter, position) + 1
        if not position:
            return False
    return True


def _phrases(text: str) -> list[list[str]]:
    """For each "the" of the text, the phrases of one to four words after it ("humidity",
    "humidity sensor", "humidity sensor use"), cut where a clause or list goes on."""
    out: list[list[str]] = []
    for match in re.finditer(r"\bthe\s+", text, re.IGNORECASE):
        rest = text[match.end() :]
        end = _PHRASE_END.search(rest)
        if end and end.group().strip().lower() == "of":
            continue  # "the dropout of the LDO": what comes before "of" is a property of what follows
        words = (rest[: end.start()] if end else rest).split()[:_MAX_WORDS]
        words = [w.removesuffix("'s").removesuffix("’s") for w in words]
        if not words or _COMPARATIVE.match(words[0]):
            continue
        out.append([" ".join(words[:n]) for n in range(1, len(words) + 1)])
    return out
