"""Listing a folder of labelled pictures: labels.csv and class folders, bad rows listed with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from digitreader.errors import DataError
from digitreader.tuning.source import check_text, list_labelled


def test_labels_csv_and_class_folders_are_both_read(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "b.png").write_bytes(b"x")
    (tmp_path / "7" / "notes.txt").write_text("x")
    (tmp_path / "labels.csv").write_text('path,text\na.png,"1,250"\nb.png,12a\nc.png\nd.txt,5\n')
    items, skipped = list_labelled(tmp_path)
    assert [(i.name, i.text) for i in items] == [("a.png", "1,250"), ("7/b.png", "7")]
    reasons = {s.path: s.reason for s in skipped}
    assert "'a' is not a digit or a separator" in reasons["labels.csv:3 (b.png)"]
    assert reasons["labels.csv:4"] == "expected two columns: path,text"
    assert reasons["labels.csv:5 (d.txt)"].startswith("not an image file name")
    assert reasons["7/notes.txt"].startswith("not an image file name")


def test_a_folder_without_labels_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="neither labels.csv nor class folders"):
        list_labelled(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        list_labelled(tmp_path / "missing")


@pytest.mark.parametrize(
    ("text", "ok"), [("10.4", True), ("-7", True), ("12 345", True), ("$5", False), ("-", False)]
)
def test_texts_the_reader_can_write(text: str, ok: bool) -> None:
    assert (check_text(text) is None) == ok
