"""Copies: the second of three dedup levels.

Level 1 (same URL / GUID) belongs to the store; level 3 (same event, different wording)
to linking. This level finds the same text published twice: syndicated wire copy under
another headline, with a trimmed paragraph, an added byline or a "Related:" line.

* `detect_agency` names the news agency a text credits (dateline first).
* `text_signature` is a compact MinHash (stored per article).
* `CopyIndex` answers "is this text a copy of one we already hold?": exact copies through
  the normalised-text hash (the `Article.content_hash` semantics), near copies through
  MinHash LSH, so that an add or a lookup costs the same however large the index grows.
"""

from __future__ import annotations

import itertools
import logging
import re
import struct
import unicodedata
from collections.abc import Hashable
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from newsdesk.models import content_hash  # `Article.content_hash` semantics

if TYPE_CHECKING:
    from datasketch import MinHash

# datasketch is imported where a signature is made: it pulls in scipy (~0.45 s of CPU),
# which the main process of a run never needs (the extraction processes make the
# signatures and preload it; the copy index below reads stored ones).

log = logging.getLogger("newsdesk.dedup")

# --- agencies -----------------------------------------------------------------------

# canonical name -> ways a text writes it (case-sensitive; acronyms upper case only)
_AGENCY_FORMS: dict[str, tuple[str, ...]] = {
    "Reuters": ("Reuters", "REUTERS", "Thomson Reuters"),
    "AP": ("AP", "Associated Press"),
    "AFP": ("AFP", "Agence France-Presse", "Agence France Presse"),
    "Bloomberg": ("Bloomberg",),
    "dpa": ("dpa", "DPA", "Deutsche Presse-Agentur"),
    "ANI": ("ANI", "Asian News International"),
    "PTI": ("PTI", "Press Trust of India"),
    "IANS": ("IANS",),
    "UPI": ("UPI", "United Press International"),
    "EFE": ("EFE", "Agencia EFE"),
    "ANSA": ("ANSA",),
    "Xinhua": ("Xinhua", "XINHUA", "Xinhua News Agency"),
    "Kyodo": ("Kyodo", "Kyodo News", "KYODO"),
    "Yonhap": ("Yonhap", "Yonhap News Agency", "YONHAP"),
    "AAP": ("AAP", "Australian Associated Press"),
    "Canadian Press": ("The Canadian Press", "Canadian Press", "CP"),
    "PA": ("PA Media", "Press Association"),
    "Anadolu": ("Anadolu Agency", "Anadolu", "AA"),
    "TASS": ("TASS",),
    "Interfax": ("Interfax",),
    "Bernama": ("Bernama", "BERNAMA"),
    "ANP": ("ANP",),
    "Europa Press": ("Europa Press",),
    "APA": ("APA",),
}
AGENCIES: frozenset[str] = frozenset(_AGENCY_FORMS) | {"agencies"}

_FORM_TO_AGENCY = {form: name for name, forms in _AGENCY_FORMS.items() for form in forms}
# longest first, so that "Associated Press" wins over "AP" inside "AP Associated Press"
_FORMS = "|".join(re.escape(f) for f in sorted(_FORM_TO_AGENCY, key=len, reverse=True))
# Acronyms that are ordinary words or other things unless in a dateline: only datelines
# and explicit credits may use them.
_DATELINE_ONLY = {"AP", "CP", "AA", "PA", "APA", "ANP"}

# (the second form only tried at the start of a word: the same matches, found ~5x faster)
_URL = re.compile(r"(?:https?://|www\.)\S+|(?<!\S)\S+\.(?:com|org|net|co\.uk|in)/\S*",
                  re.IGNORECASE)
_DASH = r"[-\u2010-\u2015\u2212:]"
# "LONDON (Reuters) -", "WASHINGTON, Nov 20 (Reuters) -", "(AP) —", "BERLIN (dpa) -"
_DATELINE = re.compile(rf"\(\s*(?:The\s+)?({_FORMS})(?:\s*/\s*[^)]{{1,40}})?\s*\)\s*{_DASH}")
# a dateline without the dash: "PARIS (AFP) The ..." right after an upper-case place name
_DATELINE_NODASH = re.compile(rf"^[A-Z][A-Z .,'\-]{{1,40}}(?:,[^()\n]{{1,30}})?\s*\(({_FORMS})\)\s")
# (pattern, agency it names or None for the one it captures, words any match contains:
# the pattern is only run on a text that has one of them; lower case for re.I patterns)
_CREDITS: tuple[tuple[re.Pattern, str | None, tuple[str, ...]], ...] = (
    (re.compile(r"\bReporting by\b[^\n]{0,300}?\b(?:Editing|Writing) by\b"), "Reuters",
     ("Reporting by",)),
    (re.compile(r"^\(?Reporting by\b[^\n]{0,200}$", re.MULTILINE), "Reuters", ("Reporting by",)),
    (re.compile(r"\bwith (?:additional )?inputs? from (?:the )?(?:news )?agenc(?:y|ies)\b", re.I),
     "agencies", ("input",)),
    (re.compile(r"\bpublished from a wire agency feed\b", re.I), "agencies", ("wire agency feed",)),
    (re.compile(rf"\bwith (?:additional )?inputs? from (?:the )?({_FORMS})\b", re.I), None,
     ("input",)),
    (re.compile(rf"\b(?:The )?({_FORMS}) contributed to this (?:report|story)\b"), None,
     ("contributed to this",)),
    (re.compile(rf"\b(?:Copyright|©|\(c\))\s*(?:\d{{4}}\s+)?(?:The )?({_FORMS})\b"), None,
     ("Copyright", "©", "(c)")),
    (re.compile(rf"(?:^|\n)\s*(?:Source|Credit):\s*(?:The )?({_FORMS})\s*$", re.MULTILINE), None,
     ("Source:", "Credit:")),
    (re.compile(rf"(?:^|\n)\s*[-\u2013\u2014]\s*({_FORMS})\s*$", re.MULTILINE), None, ()),
    (re.compile(rf"(?:^|\n)\s*\(?({_FORMS})\)?\s*$"), None, ()),  # a lone credit line at the end
)
_MENTIONS = re.compile(
    rf"\b(?:according to|told|reported by|said in a statement to|cited by) (?:the )?({_FORMS})\b"
    rf"|\b(?:The )?({_FORMS}) (?:reported|news agency reported)\b"
)
_TITLE_CREDIT = re.compile(rf"\s[|\-\u2013\u2014]\s*(?:The )?({_FORMS})(?: News)?\s*$")


def _canonical(form: str | None, *, dateline: bool) -> str | None:
    if not form:
        return None
    form = form.strip()
    name = _FORM_TO_AGENCY.get(form)
    if name is None:
        # case-insensitive credit patterns: map back ignoring case (full names only)
        lowered = {f.lower(): n for f, n in _FORM_TO_AGENCY.items() if len(f) > 3}
        name = lowered.get(form.lower())
    if name is None or (form in _DATELINE_ONLY and not dateline):
        return None
    return name


def detect_agency(text: str | None, title: str | None = None) -> str | None:
    """The news agency a text credits, or None. Datelines beat credits beat mentions."""
    body = _URL.sub(" ", text or "")
    head = body[:500]
    match = _DATELINE.search(head) or _DATELINE_NODASH.search(head)
    if match:
        found = _canonical(match.group(1), dateline=True)
        if found:
            return found
    lowered = None
    for pattern, fixed, needles in _CREDITS:
        if needles:
            if pattern.flags & re.IGNORECASE:
                lowered = body.lower() if lowered is None else lowered
                if not any(n in lowered for n in needles):
                    continue
            elif not any(n in body for n in needles):
                continue
        for match in pattern.finditer(body):
            found = fixed or _canonical(match.group(1), dateline=False)
            if found:
                return found
    if title:
        match = _TITLE_CREDIT.search(_URL.sub(" ", title))
        found = _canonical(match.group(1), dateline=False) if match else None
        if found:
            return found
    for match in _MENTIONS.finditer(body):
        found = _canonical(match.group(1) or match.group(2), dateline=False)
        if found:
            return found
    return None


# --- signatures ------------------------------------------------------------------------

SHINGLE_WORDS = 3  # word 3-grams (measured: see benchmarks/copies_eval.py)
NUM_PERM = 64  # 64 x uint32 = 256 bytes, plus a 4-byte shingle count
MIN_WORDS = 30  # shorter texts only ever match exactly
_SCHEME = "affine32"
_SEED = 1
_TOKEN = re.compile(r"\w+")
_HEADER = struct.Struct("<I")  # number of distinct shingles, for containment estimates


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


@lru_cache(maxsize=4)
def _template(num_perm: int) -> MinHash:
    from datasketch import MinHash

    return MinHash(num_perm=num_perm, seed=_SEED, scheme=_SCHEME)


def _minhash_of(text: str, num_perm: int) -> tuple[MinHash, int] | None:
    tokens = _tokens(text)
    if len(tokens) < MIN_WORDS:
        return None
    from datasketch import MinHash

    k = SHINGLE_WORDS
    shingles = {" ".join(tokens[i : i + k]).encode() for i in range(len(tokens) - k + 1)}
    m = MinHash(num_perm=num_perm, seed=_SEED, scheme=_SCHEME,
                permutations=_template(num_perm).permutations)
    m.update_batch(list(shingles))
    return m, len(shingles)


def text_signature(text: str, num_perm: int = NUM_PERM) -> bytes:
    """Compact MinHash of the text's word shingles: 4-byte shingle count + num_perm uint32.

    Empty bytes for a text under MIN_WORDS words: those only ever match exactly.
    """
    made = _minhash_of(text or "", num_perm)
    if made is None:
        return b""
    m, count = made
    return _HEADER.pack(count) + np.asarray(m.hashvalues, dtype="<u4").tobytes()


def _decode_signature(signature: bytes) -> tuple[np.ndarray, int] | None:
    if len(signature) <= _HEADER.size or (len(signature) - _HEADER.size) % 4:
        return None
    (count,) = _HEADER.unpack_from(signature)
    return np.frombuffer(signature, dtype="<u4", offset=_HEADER.size).astype(np.uint32), count


# --- the index --------------------------------------------------------------------------


# (bands, rows) of the LSH index per (num_perm, Jaccard threshold): what datasketch's
# MinHashLSH chooses (`datasketch.lsh._optimal_param`, false positives and negatives weighed
# alike). The index is kept here because datasketch's LSH module imports scipy.integrate to
# make that choice, 0.43 s of CPU in every run that links; the signatures stay datasketch's.
_BANDING: dict[tuple[int, float], tuple[int, int]] = {(64, 0.4): (16, 4)}


class _Bands:
    """MinHash LSH: a text is a candidate when all ``rows`` values of one of ``bands``
    bands of its signature equal those of a stored text."""

    def __init__(self, num_perm: int, threshold: float) -> None:
        found = _BANDING.get((num_perm, threshold))
        if found is None:
            from datasketch.lsh import _optimal_param

            found = _optimal_param(threshold, num_perm, 0.5, 0.5)
        self.bands, self.rows = found
        self._tables: list[dict[bytes, set[Hashable]]] = [{} for _ in range(self.bands)]

    def _keys(self, values: np.ndarray) -> list[bytes]:
        r = self.rows
        return [values[i * r : (i + 1) * r].tobytes() for i in range(self.bands)]

    def insert(self, key: Hashable, values: np.ndarray) -> None:
        for table, band in zip(self._tables, self._keys(values), strict=True):
            table.setdefault(band, set()).add(key)

    def remove(self, key: Hashable, values: np.ndarray) -> None:
        for table, band in zip(self._tables, self._keys(values), strict=True):
            bucket = table.get(band)
            if bucket is not None:
                bucket.discard(key)
                if not bucket:
                    del table[band]

    def query(self, values: np.ndarray) -> set[Hashable]:
        found: set[Hashable] = set()
        for table, band in zip(self._tables, self._keys(values), strict=True):
            bucket = table.get(band)
            if bucket:
                found |= bucket
        return found


class CopyIndex:
    """Exact and near copies among the texts added so far.

    Defaults measured with benchmarks/copies_eval.py (word 3-shingles, 64 perms): 582/605
    synthetic wire copies and 565/605 copies with a quarter of the paragraphs dropped are
    found; 0 false matches among 2,000 same-event pairs of different articles (past the
    5 pairs that are genuine copies) and 0 among 303 other articles.

    A stored text is a near copy of the query when their estimated shingle Jaccard reaches
    `threshold`, or when one text is (almost) contained in the other — a trimmed copy —
    with containment >= `containment` and Jaccard >= `min_jaccard` (the LSH threshold).
    """

    def __init__(
        self,
        threshold: float = 0.6,
        num_perm: int = NUM_PERM,
        *,
        containment: float = 0.8,
        min_jaccard: float = 0.4,
    ) -> None:
        self.threshold = threshold
        self.containment = containment
        self.min_jaccard = min(min_jaccard, threshold)
        self.num_perm = num_perm
        self._bands = _Bands(num_perm, self.min_jaccard)
        self._exact: dict[str, list[Hashable]] = {}
        self._hash_of: dict[Hashable, str | None] = {}
        self._sig: dict[Hashable, tuple[np.ndarray, int]] = {}
        self._order: dict[Hashable, int] = {}
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._order

    def _signature(self, text: str | None, signature: bytes | None):
        if signature is not None:
            decoded = _decode_signature(signature)
            if decoded is not None and len(decoded[0]) != self.num_perm:
                log.warning("signature of %d perms ignored (index uses %d)",
                            len(decoded[0]), self.num_perm)
                return None
            return decoded
        if text:
            return _decode_signature(text_signature(text, self.num_perm))
        return None

    def find(
        self,
        text: str | None,
        *,
        signature: bytes | None = None,
        content_hash: str | None = None,
    ) -> tuple[Hashable, float] | None:
        """The earliest stored copy of the text and its estimated Jaccard, or None."""
        digest = content_hash or _content_hash(text)
        if digest and self._exact.get(digest):
            return self._exact[digest][0], 1.0
        decoded = self._signature(text, signature)
        if decoded is None:
            return None
        values, count = decoded
        best: tuple[int, Hashable, float] | None = None
        for key in self._bands.query(values):
            other, other_count = self._sig[key]
            jaccard = float(np.count_nonzero(values == other)) / len(values)
            if not self._is_copy(jaccard, count, other_count):
                continue
            order = self._order[key]
            if best is None or order < best[0]:
                best = (order, key, jaccard)
        if best is None:
            return None
        log.debug("near copy of %r (Jaccard ~%.2f)", best[1], best[2])
        return best[1], best[2]

    def _is_copy(self, jaccard: float, count: int, other_count: int) -> bool:
        if jaccard >= self.threshold:
            return True
        if jaccard < self.min_jaccard or not count or not other_count:
            return False
        # |A n B| = J (|A| + |B|) / (1 + J); containment of the smaller text in the larger
        shared = jaccard * (count + other_count) / (1 + jaccard)
        return shared / min(count, other_count) >= self.containment

    def add(
        self,
        key: Hashable,
        text: str | None = None,
        *,
        signature: bytes | None = None,
        content_hash: str | None = None,
    ) -> None:
        """Remember a text (or its stored signature and content hash) under a unique key."""
        if key in self._order:
            self.remove(key)
        self._order[key] = next(self._counter)
        digest = content_hash or _content_hash(text)
        self._hash_of[key] = digest
        if digest:
            self._exact.setdefault(digest, []).append(key)
        decoded = self._signature(text, signature)
        if decoded is not None:
            self._sig[key] = decoded
            self._bands.insert(key, decoded[0])

    def remove(self, key: Hashable) -> None:
        if key not in self._order:
            raise KeyError(key)
        del self._order[key]
        digest = self._hash_of.pop(key, None)
        if digest:
            keys = self._exact.get(digest, [])
            if key in keys:
                keys.remove(key)
            if not keys:
                self._exact.pop(digest, None)
        decoded = self._sig.pop(key, None)
        if decoded is not None:
            self._bands.remove(key, decoded[0])


_content_hash = content_hash
