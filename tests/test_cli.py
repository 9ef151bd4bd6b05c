"""Every command and output format, over a database built by the real pipeline from
sites served on 127.0.0.1."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from newsdesk.cli import cli

from .sitekit import Site, Story, feeds_yaml, paragraphs, stories


@pytest.fixture(scope="module")
def world(tmp_path_factory, request):
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1")
    server.start()
    request.addfinalizer(server.stop)
    tmp = tmp_path_factory.mktemp("cli")
    a, b = Site(server, "/a"), Site(server, "/b")
    a.add(*stories("harbour", 3))
    wire = paragraphs("wire-bridge", 8)
    a.add(Story(slug="wire", title="=HYPERLINK(\"x\") Bridge reopens after storm", body=wire))
    # the same wire text on the second site, a new headline and an added credit line
    b.add(Story(slug="wire-copy", title="Storm-hit bridge is open again",
                body=wire + ["Reporting by the wire service."]))
    b.add(*stories("orchestra", 2))
    feeds = tmp / "feeds.yaml"
    feeds.write_text("# my feeds\n" + feeds_yaml([("Alpha", a.feed_url), ("Beta", b.feed_url)]))
    db = tmp / "news.db"
    result = CliRunner().invoke(cli, ["fetch", "--feeds", str(feeds), "--db", str(db),
                                      "--extract-workers", "0"])
    assert result.exit_code == 0, result.output
    return {"db": str(db), "feeds": str(feeds), "server": server, "tmp": tmp, "out": result.output}


def run(*args, code=0):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_fetch_summary_line(world):
    assert "feeds: 2 ok, 0 failed" in world["out"]
    assert "articles: 7 new" in world["out"]


def test_second_fetch_quiet_prints_nothing(world):
    result = run("fetch", "--feeds", world["feeds"], "--db", world["db"], "--quiet",
                 "--extract-workers", "0")
    assert result.output == ""


@pytest.mark.parametrize("fmt", ["--json", "--nl", "--csv", "--tsv", "--table"])
def test_latest_every_format(world, fmt):
    out = run("latest", "--db", world["db"], fmt).output
    if fmt == "--json":
        rows = json.loads(out)
        assert len(rows) == 6  # 7 articles, one of them a copy collapsed into its original
    elif fmt == "--nl":
        assert len(out.splitlines()) == 6 and json.loads(out.splitlines()[0])["id"]
    elif fmt in ("--csv", "--tsv"):
        rows = list(csv.DictReader(io.StringIO(out), dialect="excel" if fmt == "--csv"
                                   else "excel-tab"))
        assert len(rows) == 6 and "title" in rows[0]
    else:
        assert out.splitlines()[0].split()[:3] == ["id", "published", "source"]


def test_latest_columns_and_unknown_column(world):
    out = run("latest", "--db", world["db"], "--nl", "--columns", "id,title").output
    assert set(json.loads(out.splitlines()[0])) == {"id", "title"}
    bad = run("latest", "--db", world["db"], "--nl", "--columns", "nope", code=2)
    assert "unknown column 'nope'" in bad.output


def test_search_ranks_and_highlights(world):
    rows = json.loads(run("search", "orchestra", "--db", world["db"], "--json").output)
    assert rows and all("Orchestra" in r["title"] for r in rows[:2])
    assert "[" in rows[0]["snippet"]
    by_title = json.loads(run("search", "title:orchestra", "--db", world["db"], "--json").output)
    assert len(by_title) == 2


def test_search_field_operators_and_negation(world):
    every = json.loads(run("search", "bridge", "--all", "--db", world["db"], "--json").output)
    assert {r["source"] for r in every} == {"Alpha", "Beta"}
    rows = json.loads(run("search", "bridge source:beta", "--all", "--db", world["db"],
                          "--json").output)
    assert rows and {r["source"] for r in rows} == {"Beta"}
    both = json.loads(run("search", "harbour OR orchestra", "--db", world["db"], "--json").output)
    rows = json.loads(run("search", "harbour OR orchestra -orchestra", "--db", world["db"],
                          "--json").output)
    assert len(rows) == 3 and len(both) == 5
    assert all("Orchestra" not in r["title"] for r in rows)
    rows = json.loads(run("search", "harbour", "--db", world["db"], "--json", "--since",
                          "2025-11-20", "--until", "2025-11-20").output)
    assert len(rows) == 3
    rows = json.loads(run("search", "harbour", "--db", world["db"], "--json", "--since",
                          "2025-11-21").output)
    assert rows == []


def test_search_collapses_copies_unless_all(world):
    collapsed = json.loads(run("search", "bridge", "--db", world["db"], "--json").output)
    every = json.loads(run("search", "bridge", "--db", world["db"], "--json", "--all").output)
    assert len(every) == len(collapsed) + 1
    assert any(r["copies"] == 1 for r in collapsed)


@pytest.mark.parametrize("query", ['"unbalanced', "AND", "bridge AND", "-"])
def test_bad_fts_query_is_one_line_not_a_traceback(world, query):
    result = run("search", query, "--db", world["db"], code=2)
    assert result.output.startswith("Error:") and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_literal_search(world):
    rows = json.loads(run("search", '"bridge', "--literal", "--db", world["db"], "--json").output)
    assert rows


def test_bad_date_is_usage_error(world):
    result = run("search", "bridge", "--since", "the day after never", "--db", world["db"],
                 code=2)
    assert "--since" in result.output


def test_show_by_id_and_url(world):
    row = json.loads(run("show", "1", "--db", world["db"]).output)
    assert row["id"] == 1 and row["feeds"] == ["Alpha"] and row["event"]["id"]
    again = json.loads(run("show", row["url"], "--db", world["db"]).output)
    assert again["id"] == 1
    assert "no article" in run("show", "999", "--db", world["db"], code=2).output


def test_copy_is_marked_and_shares_the_event(world):
    rows = json.loads(run("search", "bridge", "--db", world["db"], "--json", "--all").output)
    copy = next(r for r in rows if r["duplicate_of"])
    original = next(r for r in rows if r["id"] == copy["duplicate_of"])
    assert copy["event_id"] == original["event_id"]
    event = json.loads(run("event", original["event_id"], "--db", world["db"], "--json").output)
    assert {r["source"] for r in event} == {"Alpha", "Beta"}


def test_events_and_stats(world):
    events = json.loads(run("events", "--db", world["db"], "--json").output)
    assert events and {"id", "title", "articles", "sources"} <= set(events[0])
    multi = json.loads(run("events", "--min-sources", "2", "--db", world["db"], "--json").output)
    assert multi and all(e["sources"] >= 2 for e in multi)
    assert any("Bridge" in e["title"] for e in multi)
    assert len(multi) < len(events)
    stats = json.loads(run("stats", "--db", world["db"], "--json").output)
    assert stats["totals"][0]["articles"] == 7
    assert "articles" in run("stats", "--summary", "--db", world["db"]).output


def test_why(world):
    rows = json.loads(run("search", "bridge", "--db", world["db"], "--json", "--all").output)
    a, b = rows[0]["id"], rows[1]["id"]
    out = json.loads(run("why", a, b, "--db", world["db"]).output)
    assert "features" in out and "score" in out


def test_export_csv_round_trip_and_formula_neutralised(world, tmp_path):
    path = tmp_path / "out.csv"
    run("export", "--db", world["db"], "--format", "csv", "-o", path, "--bom")
    raw = path.read_bytes()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 7
    assert {"event_id", "duplicate_of", "text", "source", "published"} <= set(rows[0])
    wire = next(r for r in rows if "HYPERLINK" in r["title"])
    assert wire["title"].startswith("'=")
    assert "\n" not in wire["title"] and len(wire["text"]) > 200
    raw_rows = list(csv.DictReader(io.StringIO(
        run("export", "--db", world["db"], "--format", "csv", "--raw").output)))
    assert next(r for r in raw_rows if "HYPERLINK" in r["title"])["title"].startswith("=")


def test_export_jsonl_with_filter(world):
    out = run("export", "--db", world["db"], "--format", "jsonl", "--source", "beta").output
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 3 and {r["source"] for r in rows} == {"Beta"}


def test_feeds_list_check_and_edit(world, tmp_path):
    rows = json.loads(run("feeds", "list", "--feeds", world["feeds"], "--db", world["db"],
                          "--json").output)
    assert [r["name"] for r in rows] == ["Alpha", "Beta"]
    assert rows[0]["failures"] == 0 and rows[0]["articles_7d"] == 4
    check = json.loads(run("feeds", "check", "--feeds", world["feeds"], "--json").output)
    assert all(r["ok"] for r in check) and check[0]["entries"] == 4
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(open(world["feeds"]).read())
    run("feeds", "add", "https://example.com/rss", "--name", "Ex", "--tag", "x",
        "--feeds", feeds)
    run("feeds", "disable", "Ex", "--feeds", feeds)
    run("feeds", "remove", "Alpha", "--feeds", feeds)
    text = feeds.read_text()
    assert "# my feeds" in text and "Ex" in text and "Alpha" not in text
    assert "no feed named" in run("feeds", "remove", "Zed", "--feeds", feeds, code=2).output


def test_feeds_check_failure_exit_code(world, tmp_path):
    world["server"].expect_request("/gone.xml").respond_with_data("", status=404)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(feeds_yaml([("Gone", world["server"].url_for("/gone.xml"))]))
    result = run("feeds", "check", "--feeds", feeds, "--json", code=1)
    assert json.loads(result.output)[0]["ok"] is False


def test_opml_round_trip(world, tmp_path):
    opml = run("feeds", "export", "--opml", "--feeds", world["feeds"]).output
    path = tmp_path / "f.opml"
    path.write_text(opml)
    target = tmp_path / "new.yaml"
    target.write_text("feeds: []\n")
    run("feeds", "import", path, "--feeds", target)
    rows = json.loads(run("feeds", "list", "--feeds", target, "--db", tmp_path / "x.db",
                          "--json").output)
    original = json.loads(run("feeds", "list", "--feeds", world["feeds"], "--db",
                              tmp_path / "x.db", "--json").output)
    assert [(r["name"], r["url"]) for r in rows] == [(r["name"], r["url"]) for r in original]


def test_config_error_exit_2(tmp_path):
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - name: A\n    colour: red\n")
    result = run("fetch", "--feeds", feeds, "--db", tmp_path / "x.db", code=2)
    assert "feed 'A': field 'colour'" in result.output


def test_missing_database_for_reads(tmp_path):
    result = run("latest", "--db", tmp_path / "none.db", code=4)
    assert "run `newsdesk fetch` first" in result.output


def test_import_reports_bad_lines_and_keeps_good(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join([
        json.dumps({"title": "Harbour", "text": " ".join(paragraphs("imp-1")), "source": "X",
                    "published": "2025-11-20T10:00:00Z", "section": "world"}),
        "{broken",
        json.dumps({"title": "No text"}),
        json.dumps({"text": " ".join(paragraphs("imp-2")), "published": "not a date"}),
    ]) + "\n")
    db = tmp_path / "i.db"
    result = run("import", path, "--db", db, code=1)
    assert f"{path}:2:" in result.output and f"{path}:3:" in result.output
    rows = json.loads(run("export", "--db", db, "--format", "json").output)
    assert len(rows) == 2
    assert rows[0]["published_status"] in ("ok", "unparseable")
    # re-import changes nothing
    run("import", path, "--db", db, code=1)
    assert len(json.loads(run("export", "--db", db, "--format", "json").output)) == 2


def test_import_csv(tmp_path):
    path = tmp_path / "in.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["url", "title", "text", "source", "published"])
        w.writerow(["https://x.example/a", "A", "line one\nline \"two\"", "X", "2025-11-20"])
    db = tmp_path / "c.db"
    run("import", path, "--db", db)
    rows = json.loads(run("export", "--db", db, "--format", "json").output)
    assert rows[0]["text"] == "line one\nline \"two\""


def test_title_weighted_above_body(tmp_path):
    path = tmp_path / "in.jsonl"
    fillers = [json.dumps({"title": f"Filler {i}", "text": " ".join(paragraphs(f"f{i}"))})
               for i in range(6)]  # so that "pelican" is a rare term with a real idf
    path.write_text("\n".join(fillers + [
        json.dumps({"title": "Plain headline",
                    "text": " ".join(paragraphs("w1")) + " pelican pelican pelican"}),
        json.dumps({"title": "Pelican seen at the harbour",
                    "text": " ".join(paragraphs("w2")) + " pelican"}),
    ]) + "\n")
    db = tmp_path / "w.db"
    run("import", path, "--db", db)
    rows = json.loads(run("search", "pelican", "--db", db, "--json", "--all").output)
    assert [r["title"] for r in rows] == ["Pelican seen at the harbour", "Plain headline"]


def test_add_single_pages(world, tmp_path):
    from .sitekit import page_html

    story = Story(slug="single", title="A single page outside any feed")
    world["server"].expect_request("/single").respond_with_data(
        page_html(story), content_type="text/html")
    world["server"].expect_request("/missing").respond_with_data("", status=404)
    db = tmp_path / "add.db"
    url = world["server"].url_for("/single")
    result = run("add", url, world["server"].url_for("/missing"), "--db", db,
                 "--allow-private", code=1)
    assert f"new: {url}" in result.output and "404" in result.output
    row = json.loads(run("show", url, "--db", db).output)
    assert row["title"].startswith("A single page") and row["word_count"] > 100
    assert row["event_id"] is not None
    # without --allow-private a loopback URL is refused
    refused = run("add", url, "--db", db, code=1)
    assert "private" in refused.output or "loopback" in refused.output


def test_search_by_event(world):
    rows = json.loads(run("search", "bridge", "--by-event", "--all", "--db", world["db"],
                          "--json").output)
    assert rows[0]["hits"] == 2 and rows[0]["sources"] == 2
    assert "Bridge" in rows[0]["event_title"]


def test_fetch_failure_is_one_error_line(world, tmp_path):
    world["server"].expect_request("/dead.xml").respond_with_data("", status=410)
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(feeds_yaml([("Dead", world["server"].url_for("/dead.xml"))]))
    result = CliRunner().invoke(cli, ["fetch", "--feeds", str(feeds), "--db",
                                      str(tmp_path / "d.db"), "--quiet"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: feed Dead:") and "410" in lines[0]
