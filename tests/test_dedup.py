"""newsdesk.dedup: agency detection and the copy index."""

from __future__ import annotations

import pytest

from newsdesk.dedup import (
    AGENCIES,
    MIN_WORDS,
    CopyIndex,
    content_hash,
    detect_agency,
    text_signature,
)
from newsdesk.models import Article


@pytest.mark.parametrize(
    ("text", "title", "expected"),
    [
        ("LONDON (Reuters) - British inflation fell in October.", None, "Reuters"),
        ("WASHINGTON, Nov 20 (Reuters) - The U.S. drafted a plan.", None, "Reuters"),
        ("NEW YORK (AP) — Stocks rose on Wednesday.", None, "AP"),
        ("PARIS (AFP) - Le gouvernement a annoncé jeudi.", None, "AFP"),
        ("BERLIN (dpa) - Die Bundesregierung plant.", None, "dpa"),
        ("NEW DELHI (PTI): The government on Monday said.", None, "PTI"),
        ("SEOUL, Dec. 1 (Yonhap) -- North Korea fired a missile.", None, "Yonhap"),
        ("The minister resigned on Friday.\n\n(With inputs from agencies)", None, "agencies"),
        ("Talks resumed.\nReporting by Jane Roe in Kyiv; Editing by John Doe", None, "Reuters"),
        ("The storm hit the coast. The Associated Press contributed to this report.", None, "AP"),
        ("Prices jumped, according to Reuters calculations.", None, "Reuters"),
        ("Officials confirmed the figures to AFP on Tuesday, AFP reported.", None, "AFP"),
        # the dateline beats a later mention of another agency
        ("TOKYO (Kyodo) - Japan said, according to Reuters, that it would act.", None, "Kyodo"),
        ("Markets closed higher on Friday.", "Stocks close higher - Reuters", "Reuters"),
    ],
)
def test_detect_agency(text, title, expected):
    assert detect_agency(text, title) == expected
    assert expected in AGENCIES


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "See https://www.reuters.com/world/europe/reuters-story-slug-2024 for more.",
        "Read more at www.reuters.com/markets/ today.",
        "She took AP Biology and AP Calculus in high school.",
        "The ap chapter met; the map was a snap.",
        "The giraffe's neck is long; AFPx is not a word, nor is SAFPOL.",
        "Mr Reutersberg said the plan was sound.",
        "The AP Stylebook recommends spelling out numbers under ten.",
    ],
)
def test_detect_agency_false_positives(text):
    assert detect_agency(text) is None


# --- copies ---------------------------------------------------------------------------

WIRE = """KYIV (Reuters) - Ukraine's parliament on Thursday approved a budget for next year that
allocates more than half of all spending to defence, as the country braces for a long war.

The budget, passed by 257 votes in the 450-seat chamber, foresees a deficit of about 20% of
gross domestic product, which officials say will be covered largely by foreign partners.

Finance Minister Serhiy Marchenko told lawmakers that the government would continue to seek
financing from the European Union, the United States and international lenders.

The document still needs to be signed by President Volodymyr Zelenskiy to take effect, a step
that is widely expected within the next few weeks.

Economists said the spending plan relied on optimistic assumptions about growth and the
timely arrival of aid, which has been delayed by political disputes in donor countries.

Reporting by Olena Harmash; Editing by Alex Richardson"""

SAME_TOPIC = """Lawmakers in Kyiv backed next year's spending plan on Thursday, with defence taking the
lion's share of expenditure as the war with Russia shows no sign of ending soon.

The plan was supported by a comfortable majority. It relies heavily on money from abroad to
close a gap that the finance ministry estimates at roughly a fifth of economic output.

Marchenko, the finance minister, urged Western allies to keep their promises, warning that
any delay in payments would force painful cuts to pensions and public sector wages.

President Zelenskiy is expected to sign the law. Analysts questioned whether the growth
forecast was realistic given the damage to the power grid and the shortage of workers."""


def syndicated(text: str) -> str:
    paragraphs = text.split("\n\n")
    del paragraphs[3]  # a trimmed paragraph
    paragraphs.insert(2, "Related: EU ministers to discuss Ukraine aid package next week")
    return "\n\n".join(["Ukraine passes war budget", "By Staff Writer, Daily Courier", *paragraphs])


def test_exact_copy_found_with_content_hash_semantics():
    index = CopyIndex()
    index.add("a", WIRE)
    reformatted = "  " + WIRE.upper().replace("\n", "\n\n   ") + "\n"
    assert index.find(reformatted) == ("a", 1.0)
    article = Article(url="https://x.example/1", canonical_url="https://x.example/1",
                      title="t", text=reformatted)
    assert content_hash(reformatted) == article.content_hash
    assert index.find(None, content_hash=article.content_hash) == ("a", 1.0)


def test_syndicated_copy_found():
    index = CopyIndex()
    index.add("wire", WIRE)
    index.add("other", SAME_TOPIC)
    found = index.find(syndicated(WIRE))
    assert found is not None
    key, jaccard = found
    assert key == "wire"
    assert 0.4 <= jaccard < 1.0


def test_different_article_on_same_topic_stays_apart():
    index = CopyIndex()
    index.add("wire", WIRE)
    assert index.find(SAME_TOPIC) is None


def test_earliest_copy_is_returned():
    index = CopyIndex()
    index.add("first", WIRE)
    index.add("second", syndicated(WIRE))
    assert index.find(WIRE)[0] == "first"
    assert index.find(syndicated(WIRE))[0] == "second"  # exact beats near
    assert index.find(syndicated(syndicated(WIRE)))[0] in {"first", "second"}


def test_short_texts_only_match_exactly():
    short = "Police closed the bridge after a crash on Monday morning, officials said."
    assert len(short.split()) < MIN_WORDS
    assert text_signature(short) == b""
    index = CopyIndex()
    index.add("s", short)
    assert index.find(short.upper()) == ("s", 1.0)
    assert index.find(short + " Traffic was diverted.") is None


def test_remove():
    index = CopyIndex()
    index.add("a", WIRE)
    index.add("b", WIRE)
    assert len(index) == 2
    index.remove("a")
    assert len(index) == 1 and "a" not in index
    assert index.find(WIRE) == ("b", 1.0)
    index.remove("b")
    assert len(index) == 0
    assert index.find(WIRE) is None and index.find(syndicated(WIRE)) is None
    with pytest.raises(KeyError):
        index.remove("b")


def test_signature_round_trip():
    signature = text_signature(WIRE)
    assert isinstance(signature, bytes)
    assert 0 < len(signature) <= 4 + 128 * 4
    assert text_signature(WIRE) == signature  # deterministic across calls
    index = CopyIndex()
    index.add("wire", signature=signature)  # as rebuilt from the store, without the text
    found = index.find(syndicated(WIRE))
    assert found is not None and found[0] == "wire"
    assert index.find(None, signature=text_signature(syndicated(WIRE)))[0] == "wire"
    assert index.find(None, signature=text_signature(SAME_TOPIC)) is None


def test_empty_inputs():
    index = CopyIndex()
    index.add("none", None)
    assert len(index) == 1
    assert index.find(None) is None
    assert index.find("") is None


def test_banding_is_the_one_datasketch_would_choose():
    from datasketch.lsh import _optimal_param

    from newsdesk.dedup import _BANDING

    for (num_perm, threshold), bands in _BANDING.items():
        assert _optimal_param(threshold, num_perm, 0.5, 0.5) == bands


def test_removed_texts_leave_no_lsh_buckets_behind():
    index = CopyIndex()
    index.add("a", WIRE)
    index.add("b", syndicated(WIRE))
    index.remove("a")
    index.remove("b")
    assert not any(index._bands._tables)
    assert index.find(syndicated(WIRE)) is None
