"""Event linking: group reports of the same news event across outlets.

A pure in-memory library (no database code). Articles are fed to :class:`Linker` in
publication order; each one is compared with candidate *events* found through an inverted
index of its rarest terms, names and numbers, restricted to a time window around its date
(undated articles are compared without a window). Every candidate event is scored by the
best pair score between the new article and the event's members; the pair score is a
logistic model over explainable features (TF-IDF cosine, title similarity, shared names
with spelling variants folded, shared quotations, shared numbers, shared rare terms and
phrases, time gap, same outlet). The weights are fitted by ``benchmarks/linking_tune.py``
on the tuning half of the labelled AllSides set and shipped as the defaults below.

Cost per article is bounded by the index state inside the window: at most
``query_terms`` posting lists are read, each skipped when longer than ``max_postings``,
and at most ``max_candidates`` events (``max_members`` members each) are scored. The index
only holds articles inside the window (older ones are dropped as the stream advances, see
:meth:`Linker.forget_before`), plus at most ``max_undated`` undated articles (FIFO), so
both time and memory are flat in archive size.

Document frequencies are those of the articles currently indexed, so a run that restores
the articles of the window (:meth:`Linker.restore`, :meth:`Linker.restore_many`) and then
adds new ones reaches exactly the same state as one long run over the whole stream. What
the linker reads from a text (:class:`TextAnalysis`) depends on the text alone: a caller
can store it (:meth:`TextAnalysis.dumps`) and hand it back in :attr:`LinkDoc.analysis`, so
restoring a window does not analyse its texts again.
"""

from __future__ import annotations

import functools
import heapq
import json
import logging
import math
import operator
import re
import sys
import unicodedata
import zlib
from collections import Counter, deque
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

log = logging.getLogger("newsdesk.linking")

__all__ = [
    "ANALYSIS_VERSION",
    "DEFAULT_WEIGHTS",
    "FEATURES",
    "LinkDoc",
    "LinkResult",
    "LinkSettings",
    "Linker",
    "TextAnalysis",
    "analyse",
    "features",
    "name_skeleton",
]

# --------------------------------------------------------------------------------------
# Settings

#: Feature names, in the order the tuning script fits them.
FEATURES: tuple[str, ...] = (
    "cosine",
    "cosine_sq",
    "event_cosine",
    "title_cosine",
    "title_cover",
    "margin",
    "margin_title",
    "margin_names",
    "names",
    "names_idf",
    "quotes",
    "quote_len",
    "numbers",
    "rare_terms",
    "phrases",
    "time_gap",
    "time_unknown",
    "same_source",
    "short",
)

#: Fitted by benchmarks/linking_tune.py (logistic regression on candidate pairs of the
#: tuning half of allsides-dev.jsonl). Regenerate with that script; do not edit by hand.
DEFAULT_WEIGHTS: dict[str, float] = {
    "bias": -5.1282,
    "cosine": 6.2552,
    "cosine_sq": -17.6572,
    "event_cosine": 6.7523,
    "title_cosine": 0.9691,
    "title_cover": 1.0438,
    "margin": 13.6451,
    "margin_title": 1.044,
    "margin_names": 0.0264,
    "names": 0.8503,
    "names_idf": -0.1887,
    "quotes": 0.2874,
    "quote_len": 0.5203,
    "numbers": 1.1897,
    "rare_terms": 0.4953,
    "phrases": 0.3711,
    "time_gap": 0.0,
    "time_unknown": 0.0,
    "same_source": 0.0,
    "short": 0.0983,
}
DEFAULT_THRESHOLD = 0.6


@dataclass
class LinkSettings:
    """Thresholds and weights of the linker.

    ``window_days``: an article is compared with indexed articles published at most this
    many days before or after it (when both dates are known); older index state is dropped.
    ``threshold``: minimum pair probability (0..1) to join an existing event.
    ``weights``: logistic-regression weight per feature name of :data:`FEATURES`, plus
    ``"bias"``; fitted on dev data by ``benchmarks/linking_tune.py``.
    ``max_candidates``: events scored in full per article (the best by index overlap).
    ``max_members``: members of one candidate event compared with the article.
    ``query_terms``: rarest keys of the article used to look up the inverted index.
    ``max_postings``: posting lists longer than this (common terms) are not read.
    ``max_undated``: undated articles kept in the index (oldest dropped first).
    """

    window_days: float = 3.0
    threshold: float = DEFAULT_THRESHOLD
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    max_candidates: int = 10
    max_members: int = 4
    query_terms: int = 40
    max_postings: int = 400
    max_undated: int = 50_000


@dataclass
class LinkDoc:
    """One article as the linker sees it."""

    key: Hashable  # article id
    title: str | None
    text: str | None
    source: str | None  # outlet
    published: datetime | None  # tz-aware UTC, or None when unknown
    analysis: TextAnalysis | None = None  # of title and text, when stored from earlier


@dataclass
class LinkResult:
    """The linker's decision for one article."""

    event_id: int
    is_new: bool  # started a new event
    score: float | None  # score of the best match (None: no candidate at all)
    matched: Hashable | None  # key of the article it matched best
    evidence: dict  # features and values, shared names, quotes, rare terms


# --------------------------------------------------------------------------------------
# Text analysis

_STOP = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves said says say saying told according new one two three also would could
    may might must shall us mr mrs ms dr st according including via per amid among get got
    like last first year years week weeks day days monday tuesday wednesday thursday friday
    saturday sunday today yesterday tomorrow time times make made people report reported
    reports news""".split()
)
# Capitalised words that are not names (sentence openers, titles, months, days).
_NOT_NAMES = _STOP | frozenset(
    """january february march april may june july august september october november december
    mr mrs ms dr president former senator sen rep gov governor secretary minister prime chief
    breaking update live watch exclusive opinion analysis video photos read more""".split()
)

_WORD = re.compile(r"\w+(?:['’]\w+)*", re.UNICODE)
_CAP_SEQ = re.compile(
    r"(?:[A-Z][\w'’.\-]*\w\.?|[A-Z]\.)(?:\s+(?:(?:of|de|da|van|von|bin|al|la|del|le)\s+)?"
    r"(?:[A-Z][\w'’.\-]*\w\.?|[A-Z]\.))*"
)
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:[.,]\d+)*)(\s*(?:%|percent|per cent|million|billion|"
                     r"trillion|thousand|km|miles|years?|people|dead|killed|points?|votes?))?")
_QUOTE_PATTERNS = (
    re.compile(r"“([^“”]{3,400})”"),
    re.compile(r"(?<![\w])\"([^\"]{3,400})\""),
    re.compile(r"‘([^‘’]{3,300})’(?!\w)"),
    re.compile(r"(?<![\w])'([^'\n]{3,200})'(?!\w)"),
    re.compile(r"«([^«»]{3,400})»"),
)
_SENT_START = re.compile(r"(?:^|[.!?:;\n]\s*|[\"“‘(]\s*)$")


# Combining marks of the Basic Multilingual Plane, deleted by str.translate (a C loop);
# text with characters beyond it takes the per-character path.
_NO_COMBINING = {c: None for c in range(0x300, 0x10000) if unicodedata.combining(chr(c))}


def _fold(s: str) -> str:
    """Casefold and strip accents."""
    s = s.casefold()
    if s.isascii():
        return s
    s = unicodedata.normalize("NFKD", s)
    if max(s) <= "\uffff":
        s = s.translate(_NO_COMBINING)
    else:
        s = "".join(c for c in s if not unicodedata.combining(c))
    return s.replace("’", "'")


#: _fold for single words, which repeat (names, units)
_fold_word = functools.lru_cache(maxsize=1 << 16)(_fold)


@functools.lru_cache(maxsize=1 << 16)
def _stem(w: str) -> str:
    """A tiny suffix stripper: enough to meet 'dies'/'died', 'talks'/'talk'."""
    if w.endswith("'s"):
        w = w[:-2]
    n = len(w)
    if n > 5 and w.endswith("ing"):
        return w[:-3]
    if n > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if n > 4 and w.endswith("ied"):
        return w[:-3] + "y"
    if n > 4 and w.endswith("ed"):
        return w[:-2] if not w.endswith("eed") else w[:-1]
    if n > 3 and w.endswith("es") and w[-3] in "sxz":
        return w[:-2]
    if n > 3 and w.endswith("s") and not w.endswith("ss") and not w.endswith("us"):
        return w[:-1]
    if n > 4 and w.endswith("e"):
        return w[:-1]
    return w


@functools.lru_cache(maxsize=1 << 16)
def name_skeleton(token: str) -> str:
    """Spelling-variant key of a name token: first letter, then its consonants.

    Vowels and the letters y, w, h after the first are dropped and runs collapsed, so
    'Zelenskyy', 'Zelenskiy' and 'Zelensky' share the key 'zlnsk', 'Kyiv'/'Kiev' share
    'kv'. Tokens shorter than four letters are kept whole (acronyms, short names).
    """
    t = _fold(token)
    if t.endswith("'s"):
        t = t[:-2]
    t = "".join(c for c in t if c.isalnum())
    if len(t) < 4:
        return t
    out = [t[0]]
    for c in t[1:]:
        if c in "aeiouyhw":
            continue
        if c != out[-1]:
            out.append(c)
    return "".join(out)


def _tokens(text: str) -> list[str]:
    return _WORD.findall(_fold(text))


def _is_title_case(title: str) -> bool:
    words = [w for w in title.split() if len(w) >= 4 and w[0].isalpha()]
    if len(words) < 3:
        return False
    return sum(1 for w in words if w[0].isupper()) / len(words) > 0.6


#: Languages whose function words are recognised besides English (jusText's stoplists,
#: which trafilatura already installs). Their capitalised articles ("Il", "Der", "Por")
#: are not names and their function words ("che", "der", "em") not rare terms.
OTHER_LANGUAGES = (
    "German", "French", "Spanish", "Italian", "Portuguese", "Dutch", "Indonesian", "Swedish",
    "Danish", "Norwegian_Bokmal", "Polish", "Czech", "Romanian", "Turkish", "Russian",
)
_MIN_GUESS_WORDS = 20


@functools.lru_cache(maxsize=1)
def _stoplists() -> dict[str, frozenset[str]]:
    import justext  # a trafilatura dependency; imported on the first non-English text

    return {
        lang: frozenset(w for w in map(_fold, justext.get_stoplist(lang)) if w.isalpha())
        for lang in OTHER_LANGUAGES
    }


def _stopwords(tokens: list[str]) -> frozenset[str]:
    """English stopwords, plus those of the text's language when it is clearly another.

    The language is guessed from the share of each language's function words among the
    tokens (English checked first, so English text never pays for the others).
    """
    if len(tokens) < _MIN_GUESS_WORDS:
        return _STOP
    counts = Counter(tokens)

    def share(words: frozenset[str]) -> float:
        # occurrences of the stoplist's words among the tokens
        return sum(map(counts.__getitem__, words.intersection(counts))) / len(tokens)

    english = share(_STOP)
    if english >= 0.15:
        return _STOP
    best, best_share = None, 0.0
    for lang, words in _stoplists().items():
        lang_share = share(words)
        if lang_share > best_share:
            best, best_share = lang, lang_share
    # clearly another language: many of its function words, far more than English ones
    if best is None or best_share < 0.2 or best_share < 2 * english:
        return _STOP
    return _other_stop(best)


@functools.lru_cache(maxsize=len(OTHER_LANGUAGES))
def _other_stop(lang: str) -> frozenset[str]:
    return _STOP | _stoplists()[lang]


@functools.lru_cache(maxsize=len(OTHER_LANGUAGES) + 1)
def _not_names(stop: frozenset[str]) -> frozenset[str]:
    """Words that are not names, for a text whose stopwords are ``stop``."""
    return _NOT_NAMES | stop


def _names(text: str, allow: set[str] | None = None,
           stop: frozenset[str] = _STOP) -> dict[str, str]:
    """Name keys (skeleton of each capitalised token / acronym) -> surface form."""
    not_names = _not_names(stop)
    out: dict[str, str] = {}
    for m in _CAP_SEQ.finditer(text):
        seq = m.group(0)
        start_of_sentence = bool(_SENT_START.search(text[max(0, m.start() - 3) : m.start()]))
        parts = seq.split()
        for i, part in enumerate(parts):
            bare = part.strip(".'’-")
            if bare.endswith(("'s", "’s")):
                bare = bare[:-2]
            low = _fold_word(bare)
            if not low or low in not_names or low.isdigit():
                continue
            if i == 0 and start_of_sentence and len(parts) == 1 and low in stop:
                continue
            letters = bare.replace(".", "")
            if letters.isupper() and 2 <= len(letters) <= 6:
                key = "a:" + _fold(letters)
            else:
                if len(low) < 2:
                    continue
                key = "n:" + name_skeleton(bare)
            if allow is not None and key not in allow and not key.startswith("a:"):
                continue
            out.setdefault(key, bare)
    return out


def _numbers(text: str) -> set[str]:
    out: set[str] = set()
    for m in _NUMBER.finditer(text):
        num = m.group(1).replace(",", "")
        if num.endswith(".0"):
            num = num[:-2]
        if len(num) < 2:
            continue
        out.add("#:" + num)
        unit = (m.group(2) or "").strip().lower()
        if unit:
            out.add("#:" + num + " " + _stem(unit))
    return out


def _quotes(text: str) -> list[tuple[str, tuple[str, ...]]]:
    found: list[tuple[str, tuple[str, ...]]] = []
    seen: set[tuple[str, ...]] = set()
    for pat in _QUOTE_PATTERNS:
        for m in pat.finditer(text):
            toks = tuple(_tokens(m.group(1)))
            if len(toks) < 2 or toks in seen:
                continue
            seen.add(toks)
            found.append((m.group(1).strip(), toks))
    return found


#: Only the opening of a body is used: the lede names the event, the weights were fitted on
#: openings of this length, and it bounds the cost of an article whatever its length.
LEDE_CHARS = 1500


def _lede(text: str) -> str:
    if len(text) <= LEDE_CHARS:
        return text
    cut = text.rfind(" ", 0, LEDE_CHARS)
    return text[: cut if cut > 0 else LEDE_CHARS]


_TF = [0.0] + [1.0 + math.log(c) for c in range(1, 256)]  # shared float objects


class _Vec(dict):
    """Sublinear term frequencies (term -> weight), with what a weighted norm needs kept
    as arrays: the weights, and a getter of the terms' log document frequencies."""

    __slots__ = ("_weights", "_logdf")

    def weighted_norm(self, log_n: float, logdf: dict[str, float]) -> float:
        """Norm of the vector weighted by the IDF ``log_n - logdf[term]``."""
        try:
            weights, get = self._weights, self._logdf
        except AttributeError:
            weights = self._weights = np.fromiter(self.values(), dtype=float, count=len(self))
            get = self._logdf = operator.itemgetter(*self) if len(self) > 1 else None
        if get is None:  # one term: itemgetter would not return a tuple
            ((t, w),) = self.items()
            x = w * (log_n - logdf[t])
            return math.sqrt(x * x)
        x = weights * (log_n - np.array(get(logdf)))
        # fsum is exactly rounded, so the result does not depend on the order of the terms
        return math.sqrt(math.fsum((x * x).tolist()))


def _tf(counts: dict[str, int]) -> _Vec:
    """Sublinear term frequencies."""
    tf = _TF
    # (a dict comprehension copied into the subclass: twice as fast as feeding it pairs)
    return _Vec({t: tf[c] if c < 256 else 1.0 + math.log(c) for t, c in counts.items()})


_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio)


def _pair_array(tokens: Sequence[str]) -> np.ndarray:
    """Hash of each adjacent token pair, in order (8 bytes a pair, where a tuple costs
    ~100). Hashes of str are per process, as is the linker's state: only the words are
    ever stored (:class:`TextAnalysis`)."""
    if len(tokens) < 2:
        return np.empty(0, dtype=np.int64)
    h = np.fromiter(map(hash, tokens), dtype=np.int64, count=len(tokens)).view(np.uint64)
    return (h[:-1] * _MIX + h[1:]).view(np.int64)  # wraps around: arithmetic mod 2**64


def _contains(sorted_hashes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Which of ``values`` are in ``sorted_hashes`` (a boolean array)."""
    if not len(sorted_hashes):
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_hashes, values), len(sorted_hashes) - 1)
    return sorted_hashes[pos] == values


#: Version of what :func:`analyse` produces. Bump it whenever the analysis changes
#: (tokens, stems, stopwords, names, numbers, quotes, lede length): stored analyses of
#: another version are ignored and made again.
ANALYSIS_VERSION = 1


@dataclass(slots=True)
class TextAnalysis:
    """What the linker reads from an article's title and lede.

    A function of the title and text alone, so it can be stored with the article
    (:meth:`dumps`) and handed back to every later run through :attr:`LinkDoc.analysis`,
    which then skips the tokenising, stemming and name finding of the window it restores.
    """

    tokens: list[str]  # the words of title and lede, in order
    content: list[str]  # stems of their content words, in order
    title_counts: dict[str, int]  # stems of the title's content words
    names: dict[str, str]  # name key -> surface form
    numbers: list[str]
    quotes: list[tuple[str, list[str]]]  # quotation and its words (with a content word)
    surface: dict[str, str]  # stem -> first surface form, where they differ

    def dumps(self) -> bytes:
        """Compact bytes (zlib-compressed JSON: no code runs when they are read)."""
        data = [ANALYSIS_VERSION, self.tokens, self.content, self.title_counts, self.names,
                self.numbers, self.quotes, self.surface]
        return zlib.compress(json.dumps(data, ensure_ascii=False,
                                        separators=(",", ":")).encode(), 1)

    @classmethod
    def loads(cls, blob: bytes) -> TextAnalysis | None:
        """The analysis stored by :meth:`dumps`; None when it is of another version or
        unreadable (make it again with :func:`analyse`)."""
        intern = sys.intern  # one string object per word across all indexed articles
        try:
            data = json.loads(zlib.decompress(blob))
            if not isinstance(data, list) or len(data) != 8 or data[0] != ANALYSIS_VERSION:
                return None
            _, tokens, content, title_counts, names, numbers, quotes, surface = data
            return cls(tokens, list(map(intern, content)),
                       dict(zip(map(intern, title_counts), title_counts.values(), strict=True)),
                       dict(names), numbers, [(q, toks) for q, toks in quotes],
                       dict(zip(map(intern, surface), map(intern, surface.values()),
                                strict=True)))
        # not zlib, not JSON (ValueError), or JSON of another shape (TypeError from
        # intern, unpacking or zip, AttributeError from .values() of a non-dict)
        except (zlib.error, ValueError, TypeError, AttributeError):
            return None


def analyse(title: str | None, text: str | None) -> TextAnalysis:
    """Tokens, content stems, names, numbers and quotes of a title and the lede of a text."""
    title = title or ""
    text = _lede(text or "")
    title_toks = _tokens(title)
    all_toks = title_toks + _tokens(text)
    stop = _stopwords(all_toks)
    intern = sys.intern
    content = [_stem(t) for t in all_toks if t not in stop and not t.isdigit()]
    content = [intern(t) for t in content if len(t) > 1]
    title_counts = Counter(
        _stem(t) for t in title_toks if t not in stop and not t.isdigit() and len(t) > 1
    )
    body_names = _names(text, stop=stop)
    if _is_title_case(title):
        title_names = _names(title, allow=set(body_names), stop=stop)
    else:
        title_names = _names(title, stop=stop)
    head = title + "\n" + text
    quotes = [(surface, list(toks)) for surface, toks in _quotes(head)
              if any(t not in _STOP for t in toks)]
    surface: dict[str, str] = {}
    seen: set[str] = set()
    for t in all_toks:
        if t not in stop:
            st = _stem(t)
            if st not in seen:
                seen.add(st)
                if st != t:
                    surface[intern(st)] = intern(t)
    return TextAnalysis(all_toks, content, dict(title_counts), {**title_names, **body_names},
                        sorted(_numbers(head)), quotes, surface)


class _Doc:
    """Precomputed representation of one article."""

    __slots__ = (
        "key", "seq", "event_id", "ts", "source", "terms", "title_terms", "names", "nums",
        "quotes", "bigrams", "content", "content_pairs", "phrases", "surface", "counts",
        "length",
    )

    def __init__(self, doc: LinkDoc, seq: int) -> None:
        a = doc.analysis if doc.analysis is not None else analyse(doc.title, doc.text)
        self.key = doc.key
        self.seq = seq
        self.event_id = -1
        self.ts = doc.published.timestamp() if doc.published is not None else None
        self.source = _fold(doc.source).strip() if doc.source else None
        self.counts = Counter(a.content)
        self.counts.update(a.title_counts)  # the headline names the event: count it twice
        self.length = len(a.content)
        self.terms = _tf(self.counts)
        self.title_terms = _tf(a.title_counts)
        self.names = a.names
        self.nums = set(a.numbers)
        # quotes, and the hashes of their word pairs
        self.quotes = [(q, tuple(toks), _pair_array(toks)) for q, toks in a.quotes]
        # word pairs, for quotes (any words) and shared phrases (content words); the
        # content words are kept to name the words of a shared phrase
        self.bigrams = np.sort(_pair_array(a.tokens))  # sorted, for _contains
        self.content = a.content
        self.content_pairs = _pair_array(a.content)
        self.phrases = np.sort(self.content_pairs)
        self.surface = a.surface

    @property
    def keys(self) -> set[str]:
        """Index keys: terms, names and numbers."""
        return set(self.terms) | set(self.names) | self.nums


# --------------------------------------------------------------------------------------
# Features


_LOGS = 4096
_LOG_PLUS_1 = [math.log(c + 1) for c in range(_LOGS)]  # log(df + 1) of the usual df


class _Stats:
    """Document frequencies of the indexed articles (maintained incrementally)."""

    def __init__(self) -> None:
        self.df: Counter[str] = Counter()
        self.logdf: dict[str, float] = {}  # log(df + 1), kept in step with df
        self.n = 0
        self.log_n = math.log(2)
        # TF-IDF norms of term vectors and IDF totals of key sets under the current
        # frequencies (by id of the vector or set; emptied whenever the frequencies change,
        # so they only live through one decision)
        self.norms: dict[int, float] = {}
        self.totals: dict[int, float] = {}
        self._deferred = False  # counting in bulk: logdf is made once, by settle()

    def copy(self) -> _Stats:
        other = _Stats()
        other.df = Counter(self.df)
        other.logdf = dict(self.logdf)
        other.n, other.log_n = self.n, self.log_n
        return other

    def add(self, d: _Doc, keys: Iterable[str] | None = None) -> None:
        """Count ``d`` (whose :attr:`_Doc.keys` may be passed when already made)."""
        self.n += 1
        self.log_n = math.log(self.n + 2)
        self.norms.clear()
        self.totals.clear()
        if self._deferred:
            self.df.update(d.keys if keys is None else keys)  # counted in C
            return
        df, logdf, logs = self.df, self.logdf, _LOG_PLUS_1
        for k in d.keys if keys is None else keys:
            c = df.get(k, 0) + 1
            df[k] = c
            logdf[k] = logs[c] if c < _LOGS else math.log(c + 1)

    def remove(self, d: _Doc) -> None:
        self.n -= 1
        self.log_n = math.log(self.n + 2)
        self.norms.clear()
        self.totals.clear()
        df, logdf, logs = self.df, self.logdf, _LOG_PLUS_1
        deferred = self._deferred
        for k in d.keys:
            c = df[k] - 1
            if c > 0:
                df[k] = c
                if not deferred:
                    logdf[k] = logs[c] if c < _LOGS else math.log(c + 1)
            else:
                del df[k]
                if not deferred:
                    del logdf[k]

    def defer(self) -> None:
        """Count only ``df`` from now on (no decision may be made until :meth:`settle`)."""
        self._deferred = True

    def settle(self) -> None:
        """Make ``logdf`` from ``df`` after counting in bulk."""
        self._deferred = False
        logs, log = _LOG_PLUS_1, math.log
        self.logdf = {k: logs[c] if c < _LOGS else log(c + 1) for k, c in self.df.items()}

    def idf(self, key: str) -> float:
        return self.log_n - self.logdf.get(key, 0.0)

    def idf_total(self, keys: Iterable[str]) -> float:
        """Sum of the IDF of ``keys`` (a dict or set that lives through the decision)."""
        total = self.totals.get(id(keys))
        if total is None:
            idf = self.idf
            total = self.totals[id(keys)] = sum(idf(k) for k in keys)
        return total


def _weighted_norm(terms: _Vec, stats: _Stats) -> float:
    cache = stats.norms
    n = cache.get(id(terms))
    if n is None:
        n = cache[id(terms)] = terms.weighted_norm(stats.log_n, stats.logdf)
    return n


def _cosine(a: _Vec, b: _Vec, stats: _Stats) -> float:
    """Cosine of two sublinear-TF vectors weighted by the current IDF."""
    if not a or not b:
        return 0.0
    log_n, logdf = stats.log_n, stats.logdf
    dot = math.fsum(a[t] * b[t] * ((x := log_n - logdf[t]) * x) for t in a.keys() & b.keys())
    if dot == 0.0:
        return 0.0
    return dot / (_weighted_norm(a, stats) * _weighted_norm(b, stats))


def _shared_quotes(a: _Doc, b: _Doc) -> list[tuple[str, int]]:
    """Quotes of either article whose word pairs mostly occur in the other article."""
    out: list[tuple[str, int]] = []
    seen: set[tuple[str, ...]] = set()
    for x, y in ((a, b), (b, a)):
        for surface, toks, pairs in x.quotes:
            if toks in seen:
                continue
            hit = int(np.count_nonzero(_contains(y.bigrams, pairs)))
            if hit and hit / len(pairs) >= 0.6:
                seen.add(toks)
                out.append((surface, len(toks)))
    return out


def _shared_phrases(a: _Doc, b: _Doc, stats: _Stats, cut: float) -> set[tuple[str, str]]:
    """Content-word pairs found in both articles of which one word is rare (df <= cut)."""
    hit = _contains(b.phrases, a.content_pairs)
    if not hit.any():
        return set()
    df = stats.df
    out: set[tuple[str, str]] = set()
    words = a.content
    for i in np.flatnonzero(hit).tolist():
        w, v = words[i], words[i + 1]
        if df.get(w, 0) <= cut or df.get(v, 0) <= cut:
            out.add((w, v))
    return out


def _cover(title: _Vec, terms: _Vec, stats: _Stats) -> float | None:
    """IDF-weighted share of one article's title terms found anywhere in the other."""
    if not title or not terms:
        return None
    idf = stats.idf
    total = stats.idf_total(title)
    return sum(idf(t) for t in title if t in terms) / total if total else None


@dataclass
class _Shared:
    """What two articles share, as found while scoring them."""

    a: _Doc
    b: _Doc
    names: list[tuple[float, str]]  # (IDF when scored, name key)
    quotes: list[tuple[str, int]]
    numbers: set[str]
    rare: list[str]

    def evidence(self) -> dict:
        a, b = self.a, self.b
        return {
            "shared_names": [
                a.names[k] if a.names[k] == b.names[k] else f"{a.names[k]}/{b.names[k]}"
                for _, k in sorted(self.names, key=lambda wk: (-wk[0], wk[1]))[:12]
            ],
            "shared_quotes": [q for q, _ in sorted(self.quotes, key=lambda q: (-q[1], q[0]))][:5],
            "shared_numbers": sorted(k[2:] for k in self.numbers)[:10],
            "shared_rare_terms": sorted(a.surface.get(t, t) for t in self.rare)[:12],
        }


def _pair(
    a: _Doc, b: _Doc, stats: _Stats, event_terms: _Vec | None = None
) -> tuple[dict[str, float], _Shared]:
    """Features of a pair (``b`` a member of an event with ``event_terms``) and evidence."""
    idf = stats.idf
    cos = _cosine(a.terms, b.terms, stats)
    ecos = cos if event_terms is None else _cosine(a.terms, event_terms, stats)
    tcos = _cosine(a.title_terms, b.title_terms, stats)
    covers = [c for c in (_cover(a.title_terms, b.terms, stats),
                          _cover(b.title_terms, a.terms, stats)) if c is not None]
    cover = sum(covers) / len(covers) if covers else 0.0
    shared_names = a.names.keys() & b.names.keys()
    if a.names and b.names:
        wa = stats.idf_total(a.names)
        wb = stats.idf_total(b.names)
        ws = math.fsum(idf(k) for k in shared_names)  # exact: a set has no fixed order
        names = ws / min(wa, wb)
    else:
        ws = 0.0
        names = 0.0
    quotes = _shared_quotes(a, b)
    shared_nums = a.nums & b.nums
    rare_cut = max(3.0, 0.002 * stats.n)
    shared_terms = a.terms.keys() & b.terms.keys()
    rare = [t for t in shared_terms if stats.df.get(t, 0) <= rare_cut]
    phrase_cut = max(3.0, 0.01 * stats.n)
    phrases = _shared_phrases(a, b, stats, phrase_cut)
    if a.ts is not None and b.ts is not None:
        # reports of one event come within a day or so of each other: only the gap beyond
        # a day counts, so a data set that dates every report of a story alike (AllSides)
        # cannot teach "same hour = same event"
        gap = math.log1p(max(0.0, abs(a.ts - b.ts) / 3600.0 - 24.0) / 24.0)
        unknown = 0.0
    else:
        gap = 0.0
        unknown = 1.0
    same_source = 1.0 if a.source and a.source == b.source else 0.0
    f = {
        "cosine": cos,
        "cosine_sq": cos * cos,
        # lead of this event over the best other candidate event: set by the linker; for a
        # lone pair (explain) it is the value itself, as for an article with one candidate
        "margin": ecos,
        "margin_title": cover,
        "margin_names": names,
        "event_cosine": ecos,
        "title_cosine": tcos,
        "title_cover": cover,
        "names": names,
        "names_idf": math.log1p(ws),
        "quotes": math.log1p(len(quotes)),
        "quote_len": math.log1p(max((n for _, n in quotes), default=0)),
        "numbers": math.log1p(len(shared_nums)),
        "rare_terms": math.log1p(len(rare)),
        "phrases": math.log1p(len(phrases)),
        "time_gap": gap,
        "time_unknown": unknown,
        "same_source": same_source,
        "short": math.log1p(min(a.length, b.length)),
    }
    # what the evidence needs, formatted only for the pair that is kept (_Shared.evidence)
    ev = _Shared(a, b, [(idf(k), k) for k in shared_names], quotes, shared_nums, rare)
    return f, ev


# margin feature -> the feature whose lead over the best other candidate event it measures
_MARGINS = (("margin", "event_cosine"), ("margin_title", "title_cover"), ("margin_names", "names"))


def _score(f: dict[str, float], weights: dict[str, float]) -> float:
    z = weights.get("bias", 0.0) + sum(weights.get(k, 0.0) * v for k, v in f.items())
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def features(a: LinkDoc, b: LinkDoc, stats: _Stats | None = None) -> dict[str, float]:
    """Pair features of two articles (document frequencies from ``stats`` or the pair)."""
    da, db = _Doc(a, 0), _Doc(b, 1)
    if stats is None:
        stats = _Stats()
        stats.add(da)
        stats.add(db)
    return _pair(da, db, stats)[0]


# --------------------------------------------------------------------------------------
# Linker


class Linker:
    """Incremental event linker (see the module docstring)."""

    def __init__(self, settings: LinkSettings | None = None, *, next_event_id: int = 1) -> None:
        self.settings = settings or LinkSettings()
        self.next_event_id = next_event_id
        self._stats = _Stats()
        self._docs: dict[Hashable, _Doc] = {}
        self._events: dict[int, dict[Hashable, None]] = {}
        self._event_counts: dict[int, Counter[str]] = {}
        # TF vector of each event's counts, made when first needed after a change
        self._event_terms: dict[int, _Vec] = {}
        self._postings: dict[str, dict[Hashable, None]] = {}
        self._dated: list[tuple[float, int, Hashable]] = []  # heap (ts, seq, key)
        self._undated: deque[Hashable] = deque()
        self._seq = 0
        self._latest: float | None = None

    # -- public API ----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._docs)

    def add(self, doc: LinkDoc) -> LinkResult:
        """Decide the event of ``doc`` and index it. Call in publication order."""
        known = self._docs.get(doc.key)
        if known is not None:  # re-running: keep the earlier decision
            return LinkResult(known.event_id, False, None, None, {"already_indexed": True})
        d = self._prepare(doc)
        # the article counts in the document frequencies it is scored with, and stays
        # counted once indexed
        self._stats.add(d)
        try:
            best = self._best_event(d)
        except BaseException:
            self._stats.remove(d)
            raise
        if best is not None and best[0] >= self.settings.threshold:
            score, event_id, other, f, shared = best
            ev = shared.evidence()
            is_new = False
        else:
            event_id = self.next_event_id
            self.next_event_id += 1
            is_new = True
            if best is None:
                score, other, f, ev = None, None, {}, {}
            else:
                score, _, other, f, shared = best
                ev = shared.evidence()
        self._index(d, event_id, counted=True)
        evidence = {"features": {k: round(v, 4) for k, v in f.items()}, **ev}
        if log.isEnabledFor(logging.DEBUG):
            log.debug("link %r -> event %d new=%s score=%s matched=%r", doc.key, event_id,
                      is_new, None if score is None else round(score, 3), other)
        return LinkResult(event_id, is_new, score, other, evidence)

    def restore(self, doc: LinkDoc, event_id: int) -> None:
        """Index an already-linked article without deciding (warm start of a run).

        To continue a stream exactly as one long run would, restore, in the order they were
        first added, the stored articles published at or after ``latest - window_days``
        (``latest`` = the newest stored date, see :func:`window_start`) and the newest
        ``max_undated`` undated ones, and pass the store's next free id as
        ``next_event_id``. Restoring more is harmless: older articles are dropped again.
        """
        if doc.key in self._docs:
            return
        d = self._prepare(doc)
        self._index(d, event_id)
        if event_id >= self.next_event_id:
            self.next_event_id = event_id + 1

    def restore_many(self, docs: Iterable[tuple[LinkDoc, int]]) -> None:
        """:meth:`restore` each (doc, event id) in turn, counting the document frequencies
        in bulk: the log of each key's frequency is made once at the end, not at every
        article that has the key. The state is that of one-at-a-time restores."""
        self._stats.defer()
        try:
            for doc, event_id in docs:
                self.restore(doc, event_id)
        finally:
            self._stats.settle()

    def explain(self, a: LinkDoc, b: LinkDoc) -> dict:
        """Features, score, decision and shared evidence of two articles."""
        da = self._docs.get(a.key)
        db = self._docs.get(b.key)
        if da is None or db is None or self._stats.n == 0:
            stats = self._stats.copy()
            da = da or _Doc(a, -1)
            db = db or _Doc(b, -2)
            for x in (da, db):
                if x.key not in self._docs:
                    stats.add(x)
        else:
            stats = self._stats
        f, shared = _pair(da, db, stats)
        ev = shared.evidence()
        score = _score(f, self.settings.weights)
        contrib = {k: round(self.settings.weights.get(k, 0.0) * v, 4) for k, v in f.items()}
        return {
            "score": score,
            "same_event": score >= self.settings.threshold,
            "threshold": self.settings.threshold,
            "features": {k: round(v, 4) for k, v in f.items()},
            "contributions": dict(sorted(contrib.items(), key=lambda kv: -abs(kv[1]))),
            **ev,
        }

    def forget_before(self, when: datetime) -> None:
        """Drop dated articles published before ``when`` from the index."""
        self._forget_ts(when.timestamp())

    def event_of(self, key: Hashable) -> int | None:
        d = self._docs.get(key)
        return None if d is None else d.event_id

    # -- internals -----------------------------------------------------------------------

    def _prepare(self, doc: LinkDoc) -> _Doc:
        d = _Doc(doc, self._seq)
        self._seq += 1
        if d.ts is not None:
            # the window slides with the stream: older articles can no longer be candidates
            if self._latest is None or d.ts > self._latest:
                self._latest = d.ts
                self._forget_ts(d.ts - self.settings.window_days * 86400.0)
        return d

    def _forget_ts(self, cutoff: float) -> None:
        heap = self._dated
        while heap and heap[0][0] < cutoff:
            _, seq, key = heapq.heappop(heap)
            d = self._docs.get(key)
            if d is not None and d.seq == seq:
                self._drop(d)

    def _drop(self, d: _Doc) -> None:
        del self._docs[d.key]
        self._stats.remove(d)
        for k in d.keys:
            p = self._postings.get(k)
            if p is not None:
                p.pop(d.key, None)
                if not p:
                    del self._postings[k]
        members = self._events.get(d.event_id)
        if members is not None:
            members.pop(d.key, None)
            self._event_terms.pop(d.event_id, None)
            if not members:
                del self._events[d.event_id]
                del self._event_counts[d.event_id]
            else:
                counts = self._event_counts[d.event_id]
                counts.subtract(d.counts)
                self._event_counts[d.event_id] = +counts

    def _index(self, d: _Doc, event_id: int, *, counted: bool = False) -> None:
        """Index ``d`` in ``event_id`` (``counted``: already in the document frequencies)."""
        d.event_id = event_id
        key = d.key
        self._docs[key] = d
        keys = d.keys
        if not counted:
            self._stats.add(d, keys)
        postings = self._postings
        for k in keys:
            p = postings.get(k)
            if p is None:
                postings[k] = {key: None}
            else:
                p[key] = None
        self._events.setdefault(event_id, {})[d.key] = None
        self._event_counts.setdefault(event_id, Counter()).update(d.counts)
        self._event_terms.pop(event_id, None)
        if d.ts is not None:
            heapq.heappush(self._dated, (d.ts, d.seq, d.key))
        else:
            self._undated.append(d.key)
            while len(self._undated) > self.settings.max_undated:
                old = self._docs.get(self._undated.popleft())
                if old is not None and old.ts is None:
                    self._drop(old)

    def _in_window(self, d: _Doc, other: _Doc) -> bool:
        if d.ts is None or other.ts is None:
            return True
        return abs(d.ts - other.ts) <= self.settings.window_days * 86400.0

    def _candidates(self, d: _Doc) -> list[tuple[int, list[_Doc]]]:
        """Candidate events by inverted-index overlap, best first, with members to compare."""
        s = self.settings
        df = self._stats.df
        postings = self._postings
        keys = [k for k in d.keys if 0 < len(postings.get(k, ())) <= s.max_postings]
        keys.sort(key=lambda k: (df[k], k))
        keys = keys[: s.query_terms]
        overlap: dict[Hashable, float] = {}
        idf = self._stats.idf
        for k in keys:
            w = idf(k)
            for key in postings[k]:
                overlap[key] = overlap.get(key, 0.0) + w
        by_event: dict[int, list[tuple[float, _Doc]]] = {}
        for key, w in overlap.items():
            other = self._docs[key]
            if not self._in_window(d, other):
                continue
            by_event.setdefault(other.event_id, []).append((w, other))
        best = {e: max(w for w, _ in ms) for e, ms in by_event.items()}
        ranked = sorted(by_event.items(), key=lambda kv: (-best[kv[0]], kv[0]))[: s.max_candidates]
        out = []
        for event_id, members in ranked:
            members.sort(key=lambda wm: (-wm[0], -wm[1].seq))
            out.append((event_id, [m for _, m in members[: s.max_members]]))
        return out

    def _scored_pairs(self, d: _Doc) -> list[tuple[int, _Doc, dict, _Shared]]:
        """(event, member, features, shared) for every candidate member, margins set.
        ``d`` must be counted in the document frequencies."""
        out = []
        for event_id, members in self._candidates(d):
            terms = self._event_terms.get(event_id)
            if terms is None:
                terms = self._event_terms[event_id] = _tf(self._event_counts[event_id])
            for m in members:
                f, shared = _pair(d, m, self._stats, terms)
                out.append((event_id, m, f, shared))
        for name, base in _MARGINS:
            best: dict[int, float] = {}
            for event_id, _, f, _ in out:
                best[event_id] = max(best.get(event_id, 0.0), f[base])
            top = sorted(best.values(), reverse=True)[:2]
            for event_id, _, f, _ in out:
                if len(top) < 2:
                    other = 0.0
                else:
                    other = top[1] if best[event_id] == top[0] else top[0]
                f[name] = f[base] - other
        return out

    def _best_event(self, d: _Doc) -> tuple[float, int, Hashable, dict, _Shared] | None:
        """Best (score, event, matched key, features, shared) over candidate events."""
        best = None
        for event_id, m, f, shared in self._scored_pairs(d):
            sc = _score(f, self.settings.weights)
            if best is None or sc > best[0]:
                best = (sc, event_id, m.key, f, shared)
        return best

    # -- for the tuning script -----------------------------------------------------------

    def candidate_pairs(self, doc: LinkDoc) -> Iterable[tuple[Hashable, dict[str, float]]]:
        """Features of ``doc`` against every candidate member (without indexing ``doc``)."""
        d = self._prepare(doc)
        self._stats.add(d)
        try:
            return [(m.key, f) for _, m, f, _ in self._scored_pairs(d)]
        finally:
            self._stats.remove(d)


def window_start(when: datetime, settings: LinkSettings) -> datetime:
    """Earliest publication date a warm start must restore for an article at ``when``."""
    return when - timedelta(days=settings.window_days)
