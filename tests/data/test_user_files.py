"""One labels.csv reader for `digits data build` and `digits finetune`: rows, header, bad lines, limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from digitreader.data.user_files import MAX_FILE_BYTES, CsvRow, Skipped, read_labels_csv, read_limited
from digitreader.errors import DataError


def test_rows_are_resolved_against_the_csv_folder_and_bad_lines_listed(tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_bytes("\ufeffpath,text\n\na.png, 12 \n/abs/b.png,3\nc.png\n,4\nd.png,5,6\n".encode())
    rows = read_labels_csv(csv, "text", lambda cells: cells == ["path", "text"])
    assert [(r.where, r.name, r.path, r.value) for r in rows if isinstance(r, CsvRow)] == [
        ("labels.csv:3", "a.png", tmp_path / "a.png", "12"),
        ("labels.csv:4", "/abs/b.png", Path("/abs/b.png"), "3"),
    ]
    assert [(s.path, s.reason) for s in rows if isinstance(s, Skipped)] == [
        (f"labels.csv:{n}", "expected two columns: path,text") for n in (5, 6, 7)
    ]


def test_the_header_is_the_callers_to_recognise(tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text("file,label\nx.png,1\n")
    rows = read_labels_csv(csv, "label", lambda cells: False)
    assert [r.value for r in rows if isinstance(r, CsvRow)] == ["label", "1"]


def test_an_unreadable_or_huge_csv_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read the CSV"):
        read_labels_csv(tmp_path / "missing.csv", "label", lambda cells: False)
    huge = tmp_path / "huge.csv"
    with open(huge, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(DataError, match="file too large"):
        read_labels_csv(huge, "label", lambda cells: False)
    assert len(read_limited(huge, MAX_FILE_BYTES + 1)) == MAX_FILE_BYTES + 1
