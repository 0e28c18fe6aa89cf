"""`finetune` end to end on a small folder of numbers written with MNIST digits (data.strings): the model
it writes is read by the Recognizer and the CLI; a worse model is refused; bad pictures are skipped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import digitreader
from digitreader.cli import main
from digitreader.data.mnist import load_mnist
from digitreader.data.strings import DigitBank, make_line
from digitreader.recognizer import Recognizer
from digitreader.tuning.finetune import finetune
from digitreader.tuning.loop import TuneRecipe

N_PICTURES = 30  # held out: 15 (half), under the 20 that can measure anything


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, mnist_sample_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("labelled")
    bank = DigitBank(*load_mnist(mnist_sample_dir, download=False).split("train"))
    rows = ["path,text"]
    for i in range(N_PICTURES):
        line = make_line(bank, np.random.default_rng([7, i]))
        Image.fromarray(line.image).save(root / f"{i}.png")
        rows.append(f'{i}.png,"{line.text}"')
    (root / "broken.png").write_bytes(b"not a picture")
    rows += ["broken.png,12", "missing.png,3"]
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def dry_run(folder: Path, tmp_path_factory: pytest.TempPathFactory, mnist_sample_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("tuned") / "mine.onnx"
    result = digitreader.finetune(
        folder, out=out, dry_run=True, data_dir=mnist_sample_dir, progress=False, force=True
    )
    assert result.written and out.is_file()
    assert result.before.n == result.after.n == 15 and "| exact |" in result.table
    assert result.counts["held_out"] == 15 and result.counts["usable"] == N_PICTURES
    assert {s.path for s in result.skipped} == {"broken.png", "missing.png"}
    assert any("too few to tell a real change from chance" in w for w in result.warnings)
    return out


def test_the_written_model_is_read_by_the_recognizer_and_records_its_start(
    dry_run: Path, folder: Path
) -> None:
    reader = Recognizer.load(dry_run, threads=1)
    assert reader.sequence_path == dry_run
    assert isinstance(reader.read(folder / "0.png", mode="number").text, str)
    card = json.loads(dry_run.with_suffix(".json").read_text())
    assert card["base"]["file"] == "sequence.onnx"
    assert card["pictures"]["held_out"] == 15 and card["pictures"]["skipped"] == 2
    assert card["before"]["pictures"] == 15 and "exact" in card["after"]
    assert card["recipe"]["batch_user"] == 4


def test_digits_read_takes_the_written_model(
    dry_run: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["read", "--model", str(dry_run), "--mode", "number", str(folder / "1.png")]) == 0
    assert capsys.readouterr().out.startswith(f"{folder / '1.png'}: ")


def test_a_model_worse_than_the_start_is_not_written_unless_forced(
    folder: Path, tmp_path: Path, mnist_sample_dir: Path
) -> None:
    ruin = TuneRecipe(lr=5.0, batch_user=4, batch_replay=4, round_steps=3, max_rounds=1, warmup_steps=1,
                      replay_in_worker=False)  # fmt: skip
    out = tmp_path / "worse.onnx"
    result = finetune(folder, out, recipe=ruin, data_dir=mnist_sample_dir, progress=False)
    assert result.before.exact > result.after.exact
    assert not result.written and "not written" in result.refused and not out.exists()
    assert list(tmp_path.iterdir()) == []  # no half-written file either
    forced = finetune(folder, out, recipe=ruin, data_dir=mnist_sample_dir, progress=False, force=True)
    assert forced.written and out.is_file()


def test_the_cli_prints_the_table_and_refuses_bad_input_in_one_line(
    folder: Path, tmp_path: Path, mnist_sample_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli.onnx"
    argv = ["finetune", str(folder), "--out", str(out), "--dry-run", "--force", "--no-progress"]
    assert main([*argv, "--data-dir", str(mnist_sample_dir)]) == 0
    printed = capsys.readouterr()
    assert "| exact |" in printed.out and "held out 15 of 30 pictures" in printed.out
    assert "skipped broken.png:" in printed.err and "warning: only 15 held-out pictures" in printed.err
    assert main(["finetune", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["finetune", str(folder), "--out", str(tmp_path / "m.pt")]) == 2
    assert "must name an .onnx file" in capsys.readouterr().err
    assert main(["finetune", str(folder), "--out", str(out), "--unlabelled", str(tmp_path / "none")]) == 2
    assert "no such folder of unlabelled pictures" in capsys.readouterr().err


def test_the_server_reads_with_the_written_model(dry_run: Path, folder: Path) -> None:
    from fastapi.testclient import TestClient

    from digitreader.server.app import create_app, load_recognizer
    from digitreader.server.settings import Settings

    settings = Settings(model=dry_run)
    recognizer = load_recognizer(settings)
    assert recognizer.sequence_path == dry_run  # type: ignore[attr-defined]
    with TestClient(create_app(settings, recognizer)) as client:
        reply = client.post(
            "/v1/read?mode=number", files={"file": ("2.png", (folder / "2.png").read_bytes())}
        )
    assert reply.status_code == 200 and isinstance(reply.json()["text"], str)


@pytest.fixture(scope="module")
def unlabelled(
    tmp_path_factory: pytest.TempPathFactory, mnist_sample_dir: Path
) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("unlabelled")
    bank = DigitBank(*load_mnist(mnist_sample_dir, download=False).split("train"))
    truths = {}
    for i in range(20):
        line = make_line(bank, np.random.default_rng([8, i]))
        Image.fromarray(line.image).save(root / f"u{i}.png")
        truths[f"u{i}.png"] = line.text
    (root / "notes.txt").write_text("not a picture")
    return root, truths


def test_self_labels_are_kept_only_where_both_readers_agree_and_are_mostly_right(
    unlabelled: tuple[Path, dict[str, str]],
) -> None:
    from digitreader.sequence_engine import SequenceEngine
    from digitreader.tuning.pseudo import list_unlabelled, pseudo_label

    root, truths = unlabelled
    reader = Recognizer.load(threads=1)
    segmentation = Recognizer.load(threads=1, sequence=False)
    sequence = SequenceEngine.load(None, threads=1)
    items = list_unlabelled(root)
    assert sorted(i.name for i in items) == sorted(truths)
    found = list(pseudo_label(items, reader.classify, sequence.read, sequence.stride,
                              lambda g: segmentation.read(g, mode="number").text))  # fmt: skip
    kept = [(item.name, p.text) for item, p, _ in found if p is not None]
    reasons = {why for _, p, why in found if p is None}
    assert 0 < len(kept) <= 20 and reasons <= {"the two readers disagree", "several lines of writing"}
    right = sum(text.replace(",", ".") == truths[name].replace(",", ".") for name, text in kept)
    assert right >= 0.8 * len(kept)


def test_unlabelled_pictures_teach_and_every_labelled_one_measures(
    folder: Path, unlabelled: tuple[Path, dict[str, str]], tmp_path: Path, mnist_sample_dir: Path
) -> None:
    result = finetune(folder, tmp_path / "self.onnx", unlabelled=unlabelled[0], dry_run=True,
                      data_dir=mnist_sample_dir, progress=False, force=True)  # fmt: skip
    assert result.counts["held_out"] == N_PICTURES and result.counts["unlabelled"] == 20
    assert 0 < result.counts["self_labelled"] == result.counts["training"] <= 20
    assert result.written and json.loads((tmp_path / "self.json").read_text())["pictures"]["unlabelled"] == 20
