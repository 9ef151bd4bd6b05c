"""Row writers shared by every listing command and by `export`: streamed, constant memory."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import IO, Any

from tabulate import tabulate

FORMATS = ("table", "json", "nl", "csv", "tsv")
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
TABLE_CELL = 80  # characters of one cell in a terminal table


class UnknownColumnError(ValueError):
    pass


def neutralise(value: Any) -> Any:
    """Make a cell safe for spreadsheet programs: text that would run as a formula gets a
    leading apostrophe (the OWASP CSV-injection advice). Numbers are left alone."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value
    return value


def _select(rows: Iterable[dict], columns: list[str] | None) -> tuple[list[str], Iterator[dict]]:
    it = iter(rows)
    first = next(it, None)
    if first is None:
        return list(columns or []), iter(())
    cols = list(columns) if columns else list(first)
    missing = [c for c in cols if c not in first]
    if missing:
        raise UnknownColumnError(
            f"unknown column {missing[0]!r}; available: {', '.join(first)}")
    return cols, chain([first], it)


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def write_rows(rows: Iterable[dict], stream: IO[str], *, fmt: str = "nl",
               columns: list[str] | None = None, raw: bool = False, bom: bool = False) -> int:
    """Write rows in one of FORMATS; returns the number written.

    CSV/TSV cells that would run as spreadsheet formulas are neutralised unless `raw`.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    cols, it = _select(rows, columns)
    n = 0
    if fmt in ("csv", "tsv"):
        if bom:
            stream.write("\ufeff")
        writer = csv.writer(stream, dialect="excel" if fmt == "csv" else "excel-tab",
                            lineterminator="\r\n" if fmt == "csv" else "\n")
        if cols:
            writer.writerow(cols)
        for row in it:
            values = [_cell(row.get(c)) for c in cols]
            writer.writerow(values if raw else [neutralise(v) for v in values])
            n += 1
    elif fmt == "nl":
        for row in it:
            stream.write(json.dumps({c: row.get(c) for c in cols}, ensure_ascii=False,
                                    default=str) + "\n")
            n += 1
    elif fmt == "json":
        stream.write("[")
        for row in it:
            stream.write(("\n" if n == 0 else ",\n") + json.dumps(
                {c: row.get(c) for c in cols}, ensure_ascii=False, default=str))
            n += 1
        stream.write("\n]\n" if n else "]\n")
    else:
        table = []
        for row in it:
            table.append([_short(row.get(c)) for c in cols])
            n += 1
        if table:
            stream.write(tabulate(table, headers=cols, tablefmt="simple") + "\n")
    return n


def _short(value: Any) -> Any:
    value = _cell(value)
    if isinstance(value, str):
        value = " ".join(value.split())
        if len(value) > TABLE_CELL:
            value = value[: TABLE_CELL - 1] + "…"
    return value
