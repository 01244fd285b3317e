"""Cleaning: normalise text, merge and drop turns, redact PII, find duplicates, detect the language.

Each step is a small function or class so that the UI and the tests can use it on its own.
``Cleaner.clean`` runs the per-conversation steps and says why a conversation is set aside;
``Deduplicator`` and ``LanguageDetector`` keep state across conversations (bounded per unique
conversation: a few integers each, never the text).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from builder.config.recipe import cleaning_default
from builder.core.conversation import Conversation, Message

if TYPE_CHECKING:
    from langdetect.detector_factory import DetectorFactory

# --------------------------------------------------------------------------- normalisation

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")
# Runs of two or more spaces, or any other horizontal space: a lone " " needs no replacing (and is most text).
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]{2,}|[\t\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def normalise_text(text: str) -> str:
    """NFC, no control characters, one space between words, at most one blank line, no edge spaces."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u0085", "\n")
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    if "\n" in text:
        text = "\n".join(line.strip() for line in text.split("\n"))
    return (_MANY_NEWLINES.sub("\n\n", text) if "\n\n\n" in text else text).strip()


@dataclass
class TurnStats:
    empty_dropped: int = 0
    merged: int = 0


def tidy_turns(messages: list[Message], stats: TurnStats) -> list[Message]:
    """Normalise each turn, drop empty ones, merge consecutive turns of one role (a customer's burst of lines)."""
    out: list[Message] = []
    for message in messages:
        text = normalise_text(message.content)
        if not text:
            stats.empty_dropped += 1
            continue
        if out and out[-1].role == message.role:
            out[-1] = Message(message.role, out[-1].content + "\n" + text)
            stats.merged += 1
        else:
            out.append(Message(message.role, text))
    return out


# --------------------------------------------------------------------------- PII

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
# A phone number needs a leading + or separators between digit groups: bare digit runs are usually
# order or tracking numbers, which a support assistant must keep.
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w])")
_PHONE_PLUS = re.compile(r"(?<![\w+])\+\d{8,14}(?!\w)")


_DIGIT = re.compile(r"\d")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# Issuer prefixes and lengths of the common card networks: a Luhn check alone passes one random
# number in ten, and order numbers of the same length are common in support chats.
_CARD_NETWORKS = (
    (re.compile(r"4"), (13, 16, 19)),  # Visa
    (re.compile(r"5[1-5]|2[2-7]"), (16,)),  # Mastercard
    (re.compile(r"3[47]"), (15,)),  # American Express
    (re.compile(r"6(?:011|5|4[4-9])"), (16, 17, 18, 19)),  # Discover
    (re.compile(r"35"), (16, 17, 18, 19)),  # JCB
    (re.compile(r"3(?:0[0-5]|[68])"), (14, 16, 19)),  # Diners
    (re.compile(r"62"), (16, 17, 18, 19)),  # UnionPay
)


def card_number_valid(digits: str) -> bool:
    """A payment card number: a known issuer prefix and length, and a valid Luhn check digit."""
    network = any(prefix.match(digits) and len(digits) in lengths for prefix, lengths in _CARD_NETWORKS)
    return network and luhn_valid(digits)


def iban_valid(candidate: str) -> bool:
    s = candidate.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    rearranged = s[4:] + s[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def redact_pii(text: str, counts: Counter[str]) -> str:
    """Replace emails, IBANs, payment cards (Luhn-checked) and phone numbers with typed placeholders."""
    if "@" in text:
        text, n = _EMAIL.subn("<EMAIL>", text)
        counts["EMAIL"] += n
    if not _DIGIT.search(text):
        return text

    def iban(m: re.Match[str]) -> str:
        if iban_valid(m.group()):
            counts["IBAN"] += 1
            return "<IBAN>"
        return m.group()

    def card(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group())
        if card_number_valid(digits):
            counts["CARD"] += 1
            return "<CARD>"
        return m.group()

    def phone(m: re.Match[str]) -> str:
        digits = sum(ch.isdigit() for ch in m.group())
        if 9 <= digits <= 15 and not _looks_like_date(m.group()) and not _STARTS_WITH_DATE.match(m.group()):
            counts["PHONE"] += 1
            return "<PHONE>"
        return m.group()

    text = _IBAN.sub(iban, text)
    text = _CARD.sub(card, text)
    text = _PHONE_PLUS.sub(phone, text)
    return _PHONE.sub(phone, text)


# A date opening a run of digit groups is a timestamp (a WhatsApp attachment's name, "2024-03-15 10 22 31"),
# not a phone number: year-month-day or day-month-year with a 19xx/20xx year.
_STARTS_WITH_DATE = re.compile(
    r"(?:(?:19|20)\d\d[./-](?:0?[1-9]|1[0-2])[./-](?:0?[1-9]|[12]\d|3[01])"
    r"|(?:0?[1-9]|[12]\d|3[01])[./-](?:0?[1-9]|1[0-2])[./-](?:19|20)\d\d)(?!\d)"
)


def _looks_like_date(text: str) -> bool:
    return bool(re.fullmatch(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}", text.strip()))


# --------------------------------------------------------------------------- duplicates

_WORDS = re.compile(r"[^\W_]+")


def skeleton(text: str) -> str:
    """Text with case, punctuation, digits and spacing removed: two replies with the same skeleton are near-copies."""
    return " ".join(_WORDS.findall(re.sub(r"\d+", "0", text.lower())))


def conversation_text(conv: Conversation) -> str:
    return "\n".join(f"{m.role}: {m.content}" for m in conv.messages)


class Deduplicator:
    """Exact duplicates by hash; near duplicates by MinHash (16 hashes of word 3-grams, LSH in 4 bands).

    State per unique conversation: one 8-byte hash and four band keys, never the text.
    Deterministic: CRC32 and fixed seeds, no Python ``hash()`` of strings (salted per process).
    """

    NUM_HASHES = 16
    BANDS = 4
    THRESHOLD = 13  # of 16 equal MinHash values, about 0.8 Jaccard similarity
    MAX_WORDS = 2000  # a bounded prefix: long conversations that share their first 2000 words are near-copies

    def __init__(self) -> None:
        rng = np.random.default_rng(20240611)
        self._xor = rng.integers(1, 2**32, self.NUM_HASHES, dtype=np.uint64)
        self._mul = rng.integers(1, 2**32, self.NUM_HASHES, dtype=np.uint64) | np.uint64(1)
        self._exact: dict[bytes, int] = {}
        self._bands: list[dict[bytes, int]] = [{} for _ in range(self.BANDS)]
        self._signatures: list[np.ndarray] = []
        self._word_hashes: dict[str, int] = {}

    def check(self, conv: Conversation) -> tuple[str | None, int]:
        """(None, its index) for a new conversation, which is remembered; else ("exact" or "near", the index of
        the conversation it repeats). Indexes count the new conversations from 0."""
        text = conversation_text(conv)
        digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
        if digest in self._exact:
            return "exact", self._exact[digest]
        signature = self._signature(skeleton(text))
        rows = self.NUM_HASHES // self.BANDS
        keys = [signature[i * rows : (i + 1) * rows].tobytes() for i in range(self.BANDS)]
        for band, key in zip(self._bands, keys, strict=True):
            other = band.get(key)
            if other is not None and int((self._signatures[other] == signature).sum()) >= self.THRESHOLD:
                return "near", other
        index = len(self._signatures)
        self._exact[digest] = index
        self._signatures.append(signature)
        for band, key in zip(self._bands, keys, strict=True):
            band.setdefault(key, index)
        return None, index

    def _signature(self, text: str) -> np.ndarray:
        words = text.split()[: self.MAX_WORDS]
        memo = self._word_hashes
        if len(memo) > 500_000:
            memo.clear()  # the vocabulary of a corpus is bounded; this only guards odd inputs
        for word in words:
            if word not in memo:
                memo[word] = zlib.crc32(word.encode())
        w = (
            np.fromiter((memo[x] for x in words), dtype=np.uint64, count=len(words))
            if words
            else np.zeros(1, np.uint64)
        )
        if len(w) >= 3:  # word 3-grams, combined in one vectorised step
            w = (w[:-2] * np.uint64(0x9E3779B1)) ^ (w[1:-1] * np.uint64(0x85EBCA77)) ^ w[2:]
        mixed = ((w[:, None] ^ self._xor[None, :]) * self._mul[None, :]) >> np.uint64(16)
        return (mixed.min(axis=0) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


# --------------------------------------------------------------------------- language

# Frequent function words: a text with several of one language's words and few of the others' is
# decided without langdetect (about 1 ms a call); everything else goes to langdetect.
_STOPWORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "en": "the and is are you your i my to of it this that for with have can what please not be was me we do "
        "how would will could an in on at there they from thanks thank hello hi",
        "es": "el la los las que de y es un una por para con mi mis su no se lo le del al quiero hola gracias cómo "
        "puedo está tengo pero muy cuando usted favor mí qué sí hay estoy necesito",
        "pt": "o os as não você obrigado obrigada é um uma do da dos das em para com meu minha tenho olá muito isso "
        "eu nós vocês ele ela quero preciso",
        "fr": "le la les et est je vous pas une des du pour avec mon ma mes merci bonjour commande ne il elle nous "
        "sur dans ai suis voudrais",
        "de": "der die das und ist ich sie nicht ein eine mit für mein meine bitte danke bestellung zu auf den dem "
        "wir haben hallo kann",
        "it": "il lo la gli e è di che non un una per con mio mia grazie ordine sono ho questo ciao come vorrei",
    }.items()
}
_SAMPLE_CHARS = 400
_NON_LATIN = re.compile(r"[^\W\d_\u0000-\u024f]")
_LETTERS = re.compile(r"[^\W\d_]+")


class LanguageDetector:
    """Seeded langdetect on a bounded sample of the text, after a cheap stopword vote; results are cached."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._factory: DetectorFactory | None = None
        self.calls_langdetect = 0
        self.calls_stopwords = 0

    def detect(self, text: str) -> str:
        sample = text[:_SAMPLE_CHARS]
        words = _LETTERS.findall(sample.lower())
        if not words:
            return "unknown"
        scores = sorted(((sum(w in stop for w in words), lang) for lang, stop in _STOPWORDS.items()), reverse=True)
        (best, lang), (second, _) = scores[0], scores[1]
        letters = sum(map(len, words))
        latin = 1 - len(_NON_LATIN.findall(sample)) / max(1, letters)
        if latin > 0.9 and ((best >= 3 and best >= 2 * second + 1) or (best >= 2 and second == 0)):
            self.calls_stopwords += 1
            return lang
        detected, probability = self._langdetect(" ".join(words[:80]))
        if probability < 0.8 and latin > 0.9 and best > second:
            return lang  # langdetect is unsure on short texts; the function words are a better guess
        return detected

    @lru_cache(maxsize=20000)  # noqa: B019 - one detector per import run; the cache dies with it
    def _langdetect(self, sample: str) -> tuple[str, float]:
        from langdetect.lang_detect_exception import LangDetectException

        self.calls_langdetect += 1
        detector = self._get_factory().create()
        detector.append(sample)
        try:
            best = detector.get_probabilities()[0]
        except (LangDetectException, IndexError):
            return "unknown", 1.0
        return best.lang, best.prob

    def _get_factory(self) -> DetectorFactory:
        if self._factory is None:
            self._factory = _langdetect_factory(self.seed)
        return self._factory


@lru_cache(maxsize=4)
def _langdetect_factory(seed: int) -> DetectorFactory:
    """Loading langdetect's profiles takes about a second: once per process and seed."""
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(seed)
    return factory


def language_sample(conv: Conversation) -> str:
    """The customers' words first (they choose the language), then the agent's, bounded."""
    user = " ".join(m.content for m in conv.messages if m.role == "user")
    if len(user) >= _SAMPLE_CHARS // 2:
        return user[:_SAMPLE_CHARS]
    rest = " ".join(m.content for m in conv.messages if m.role != "user")
    return (user + " " + rest)[:_SAMPLE_CHARS]


# --------------------------------------------------------------------------- the per-conversation steps


@dataclass
class CleaningOptions:
    redact_pii: bool = cleaning_default("redact_pii")
    dedupe: bool = cleaning_default("dedupe")
    min_turns: int = cleaning_default("min_turns")
    max_chars: int = cleaning_default("max_chars")
    detect_language: bool = True


@dataclass
class Rejection:
    reason: str
    message: str


@dataclass
class Cleaner:
    """Runs the per-conversation steps in order and keeps the counts the report needs."""

    options: CleaningOptions = field(default_factory=CleaningOptions)
    turn_stats: TurnStats = field(default_factory=TurnStats)
    redactions: Counter[str] = field(default_factory=Counter)  # of kept conversations: see ``accept``
    last_redactions: Counter[str] = field(default_factory=Counter)

    def accept(self) -> None:
        """Count the last cleaned conversation's redactions (called once it is kept, not a duplicate)."""
        self.redactions.update(self.last_redactions)

    def clean(self, conv: Conversation) -> Rejection | None:
        """Clean ``conv`` in place; a ``Rejection`` says why it is set aside."""
        conv.messages = tidy_turns(conv.messages, self.turn_stats)
        if not conv.messages:
            return Rejection("empty", "every turn is empty")
        if conv.agent_turns == 0:
            return Rejection("no_agent_reply", "no agent reply: nothing to learn from")
        if not any(m.role == "user" for m in conv.messages):
            return Rejection("no_customer_turn", "no customer message")
        turns = sum(1 for m in conv.messages if m.role != "system")
        if turns < self.options.min_turns:
            return Rejection("too_few_turns", f"{turns} turns, fewer than min_turns={self.options.min_turns}")
        chars = sum(len(m.content) for m in conv.messages)
        if chars > self.options.max_chars:
            return Rejection("too_long", f"{chars} characters, more than max_chars={self.options.max_chars}")
        self.last_redactions = Counter()
        if self.options.redact_pii:
            for m in conv.messages:
                m.content = redact_pii(m.content, self.last_redactions)
        return None
