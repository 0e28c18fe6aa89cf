"""`benchmarks.read_real`: scoring as documented, and a short run on the real logbook cells where present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import read_cvl, read_real

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"


def _cells(*truths: str) -> list[tuple[Path, str, int]]:
    return [(Path(f"{i}.jpg"), t, i) for i, t in enumerate(truths)]


def test_scores_count_comma_and_point_as_one_mark() -> None:
    cells = _cells("10,4", "1.250", "7", "12")
    scores = read_real.score(["10.4", "1250", "7", "13"], cells)
    assert scores["exact"] == 0.5  # 10.4 and 7; "1250" lost its mark, "13" is wrong
    assert scores["digits"] == 0.75  # the digits of all but "13"
    assert scores["cer"] == pytest.approx(2 / 12)  # one deletion, one substitution, 12 characters
    assert scores["len 1"] == 1.0 and scores["len 3"] == 1.0 and scores["len 4"] == 0.0
    assert scores["len 2"] == 0.0


def test_a_limit_spreads_over_the_whole_file(tmp_path: Path) -> None:
    folder = tmp_path / "meza-cells"
    folder.mkdir()
    rows = "\n".join(f"images/{i}.jpg,{i}" for i in range(100))
    (folder / "labels.csv").write_text("path,text\n" + rows + "\n")
    picked = read_real.load_cells(tmp_path, limit=10)
    assert [row for _, _, row in picked] == list(range(0, 100, 10))


def test_a_short_run_on_the_real_cells_prints_both_readers(capsys: pytest.CaptureFixture[str]) -> None:
    if not (REAL / "meza-cells" / "labels.csv").is_file():
        pytest.skip("the real handwriting sets are not beside the checkout (../shared/data/real)")
    read_real.main(["--real", str(REAL), "--limit", "40"])
    out = capsys.readouterr().out
    assert "meza-cells, number mode, 40 cells" in out
    rows = [line for line in out.splitlines() if line.startswith("| all (40)")]
    assert [row.split(" | ")[1] for row in rows] == ["segmentation", "digitreader"]
    assert any(line.startswith("| even rows (held out) (") for line in out.splitlines())


def test_a_tight_cut_keeps_the_faint_rim_and_the_margin_is_white() -> None:
    image = np.full((28, 28), 255, np.uint8)
    image[5:20, 12:14] = 40  # a "1"
    image[5:20, 14] = 240  # its faint anti-aliased edge
    cut = read_cvl.tight(image)
    assert cut.shape[0] == 15 and 4 <= cut.shape[1] <= 5  # 3 px of ink box, widened to the least 4 px read
    padded = read_cvl.white_margin(cut, 8)
    assert padded.shape == (31, cut.shape[1] + 16) and padded[0].min() == 255


def test_a_short_run_on_cvl_prints_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    if not (REAL / "cvl-digits" / "valid.npz").is_file():
        pytest.skip("the real handwriting sets are not beside the checkout (../shared/data/real)")
    read_real.main(
        ["--set", "cvl", "--real", str(REAL), "--limit", "20", "--train-limit", "20", "--no-mnist"]
    )
    out = capsys.readouterr().out
    assert out.count("| valid |") == 5 and out.count("| train |") == 1
