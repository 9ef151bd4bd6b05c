"""newsdesk.extract: body text, metadata, decoding, and no exceptions on junk."""

from __future__ import annotations

import pickle

import pytest

from newsdesk.extract import Extracted, extract

PARAGRAPHS = [
    "The city council voted on Tuesday to approve a new budget for the harbour district, "
    "ending months of debate about the cost of repairing the old sea wall.",
    "Council members said the repairs would begin in the spring and take about two years, "
    "with most of the money coming from a regional infrastructure fund.",
    "Residents who spoke at the meeting welcomed the decision but asked for regular updates "
    "on the progress of the works and on any road closures they would cause.",
    "The mayor told reporters that the project was the largest public works programme the "
    "town had undertaken in a generation and thanked staff for their patience.",
]


def page(charset: str = "utf-8", extra_body: str = "", title: str = "Council approves budget") -> str:
    body = "\n".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return f"""<!DOCTYPE html>
<html lang="en-GB"><head>
<meta charset="{charset}">
<title>{title} | Harbour Times</title>
<meta property="og:title" content="{title}">
<meta property="og:site_name" content="Harbour Times">
<meta name="author" content="Maria Jensen">
<meta name="description" content="The council backs sea wall repairs.">
<meta property="article:published_time" content="2024-03-05T14:30:00+01:00">
<link rel="canonical" href="/news/2024/council-budget">
</head><body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
<article><h1>{title}</h1>
<p class="byline">By Maria Jensen</p>
{body}
{extra_body}
</article>
<footer>Copyright Harbour Times. All rights reserved.</footer>
</body></html>"""


URL = "https://harbourtimes.example.com/news/2024/council-budget?utm_source=rss"


def test_body_text_found_without_boilerplate():
    result = extract(page().encode("utf-8"), URL)
    assert result.text is not None
    for paragraph in PARAGRAPHS:
        assert paragraph in result.text
    assert "All rights reserved" not in result.text
    assert "Sport" not in result.text


def test_metadata_found():
    result = extract(page(), URL)
    assert result.title == "Council approves budget"
    assert result.author == "Maria Jensen"
    assert result.date is not None and result.date.startswith("2024-03-05")
    assert "14:30" in result.date  # the page's own string, time and zone kept
    assert result.canonical_url == "https://harbourtimes.example.com/news/2024/council-budget"
    assert result.sitename == "Harbour Times"
    assert result.language == "en"
    assert result.description == "The council backs sea wall repairs."


def test_title_keeps_a_dash_that_is_not_the_site_name():
    result = extract(page(title="Budget approved - and the sea wall is next"), URL)
    assert result.title == "Budget approved - and the sea wall is next"


def test_non_utf8_page_decoded_by_its_meta_charset():
    words = "Die Gemeinde begrüßt die Entscheidung über die Straße am Fluss, sagte Jürgen Weiß."
    html = page(charset="iso-8859-1", extra_body=f"<p>{words}</p>")
    data = html.encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = extract(data, URL)
    assert result.text is not None
    assert words in result.text
    assert "\ufffd" not in result.text


def test_windows_1251_page():
    words = "Городской совет утвердил новый бюджет для района гавани во вторник вечером."
    html = page(charset="windows-1251", extra_body=f"<p>{words}</p>")
    result = extract(html.encode("cp1251"), URL)
    assert result.text is not None and words in result.text


@pytest.mark.parametrize(
    "junk",
    [b"", "", b"\x00\x01\x02\xff\xfe", b"<html", "<<<>>>" * 1000,
     b"\x1f\x8b\x08\x00garbage", "<html><body></body></html>", "<p>" * 5000],
)
def test_garbage_gives_no_text_and_no_exception(junk):
    result = extract(junk, "https://example.com/x")
    assert isinstance(result, Extracted)
    assert result.text is None


def test_page_without_body_still_gives_metadata():
    html = ("<html><head><title>Just a headline here</title>"
            "<meta name='author' content='Ann Lee'></head><body><nav></nav></body></html>")
    result = extract(html, "https://example.com/a")
    assert result.text is None
    assert result.title == "Just a headline here"
    assert result.author == "Ann Lee"


def test_result_pickles():
    result = extract(page(), URL)
    assert pickle.loads(pickle.dumps(result)) == result


def test_worker_warm_up_page_runs_through_the_extractor():
    from newsdesk.worker import _WARM_PAGE, warm

    warm()  # must not raise: it runs in the fork server, before any process is forked
    assert extract(_WARM_PAGE, "https://www.example.com/news/warm-up").title == "Warm-up"
