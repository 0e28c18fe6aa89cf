"""`finetune(src, out)`: the bundled sequence reader (or another) fine-tuned on a user's labelled pictures,
proven on a held-out part before it is written. (A folder of single digits only tunes the digit
classifier instead: `tuning.digits`.)

1. list the labelled pictures (`tuning.source`) and read each as reading does (`tuning.strips`); the
   unreadable ones are listed and left out;
2. hold out a stratified part (`tuning.split`) and read it with the starting models: "before";
3. rebuild the starting sequence reader in torch from its ONNX file (`training.from_onnx`) and fine-tune
   it with replay and early stopping (`tuning.loop`);
4. export the best round to ONNX (checked against torch), read the held-out part with that file: "after";
5. write it (atomically, with its card beside it) unless it reads the held-out part worse than the start;
   `force` writes it anyway.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from digitreader.data.user_files import Skipped
from digitreader.errors import DataError, DigitreaderError
from digitreader.files import atomic_write_bytes, sha256_file
from digitreader.names import printable
from digitreader.tuning.digits import DigitRecipe
from digitreader.tuning.loop import TuneRecipe
from digitreader.tuning.result import FinetuneResult, held_out_warnings, refusal, write_card
from digitreader.tuning.score import Scores, read_texts, score, table
from digitreader.tuning.source import list_labelled
from digitreader.tuning.split import HELD_OUT_FRACTION, HELD_OUT_MIN, split_held_out
from digitreader.tuning.strips import Picture, read_pictures

log = logging.getLogger(__name__)

MIN_PICTURES = 10  # fewer usable pictures than this: nothing to learn from and nothing to measure on
DRY_RUN = TuneRecipe(
    batch_user=4, batch_replay=4, round_steps=2, max_rounds=1, warmup_steps=1, replay_in_worker=False
)


def finetune(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    base: str | os.PathLike[str] | None = None,
    force: bool = False,
    max_minutes: float | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    recipe: TuneRecipe | DigitRecipe | None = None,
    dry_run: bool = False,
    unlabelled: str | os.PathLike[str] | None = None,
    threads: int | None = None,
    progress: bool = True,
    say: Callable[[str], None] = log.info,
) -> FinetuneResult:
    """Fine-tune the reader on the pictures labelled in `src` and write it to `out` (.onnx).

    `src`: a folder with ``labels.csv`` (``path,text``) and/or class folders ``0/``..``9/``, or a CSV file.
    `unlabelled`: a folder of pictures without labels: the sequence reader is tuned on those it labels
    itself (`tuning.pseudo`), and every labelled picture of `src` is held out to measure it.
    Numbers (any text longer than one character) tune the sequence reader; a folder of single digits
    only tunes the digit classifier. `base`: the model to start from (default: the bundled one of that
    kind). `data_dir`: the MNIST folder the replayed digits and lines come from. Returns the before/after
    figures; `written` is False (and `refused` says why) when the new model reads the held-out part worse
    than the start and `force` is not set.
    """
    import torch

    from digitreader.data.mnist import load_mnist
    from digitreader.data.strings import DigitBank
    from digitreader.onnx_engine import OnnxEngine
    from digitreader.recognizer import Recognizer
    from digitreader.sequence_engine import DEFAULT_SEQUENCE_MODEL, SequenceEngine
    from digitreader.training.from_onnx import sequence_model_from_onnx
    from digitreader.tuning.loop import TorchSequence, tune_sequence

    started = time.monotonic()
    deadline = None if max_minutes is None else started + 60 * max_minutes
    out_path = Path(out).expanduser()
    if out_path.suffix.lower() != ".onnx" or out_path.is_dir():
        raise DigitreaderError(f"{out_path}: --out must name an .onnx file")
    if max_minutes is not None and max_minutes <= 0:
        raise DigitreaderError(f"--max-minutes {max_minutes:g}: must be more than 0")
    if threads is not None:
        torch.set_num_threads(threads)
    if unlabelled is not None and not Path(unlabelled).expanduser().is_dir():
        raise DataError(f"{unlabelled}: no such folder of unlabelled pictures")
    items, skipped = list_labelled(src)
    if unlabelled is None and all(len(item.text) == 1 for item in items):  # single digits: the classifier
        from digitreader.tuning.digits import finetune_digits

        return finetune_digits(
            src, items, skipped, out_path, base, force=force, deadline=deadline, started=started,
            data_dir=data_dir, recipe=recipe if isinstance(recipe, DigitRecipe) else None,
            dry_run=dry_run, progress=progress, say=say,
        )  # fmt: skip
    base_path = Path(base or DEFAULT_SEQUENCE_MODEL).expanduser()
    classifier = OnnxEngine.load(None, threads=1)  # reading in this process, one picture at a time
    start_sequence = SequenceEngine.load(base_path, threads=1)
    start = Recognizer(classifier, start_sequence, read_seconds=0)
    model, metadata = sequence_model_from_onnx(base_path)

    unlisted = len(skipped)  # rows left out before any picture was read
    pictures: list[Picture] = []
    bar = tqdm(items, desc="reading pictures", disable=not progress, leave=False)
    for item, picture, reason in read_pictures(bar, start.classify):
        if picture is None:
            skipped.append(Skipped(item.name, reason))
        else:
            pictures.append(picture)
    bar.close()
    if len(pictures) < MIN_PICTURES:
        raise DataError(f"{src}: {len(pictures)} usable pictures; fine-tuning needs {MIN_PICTURES} or more")
    several = sum(p.strip is None for p in pictures)
    counts = {"listed": len(items) + unlisted, "skipped": len(skipped), "usable": len(pictures),
              "several_bands": several}  # fmt: skip
    if unlabelled is None:
        train_idx, held_idx = split_held_out([p.item.text for p in pictures])
        held = [pictures[i] for i in held_idx]
        training = [(p.strip, p.item.text) for p in (pictures[i] for i in train_idx) if p.strip is not None]
        say(
            f"{len(pictures)} usable pictures ({len(skipped)} skipped): {len(held)} held out for the "
            f"before/after figures (stratified by length; the larger of {HELD_OUT_FRACTION:.0%} and "
            f"{HELD_OUT_MIN}, at most half), {len(training)} to train on ({several} with several lines "
            "of writing are not trained on)"
        )
    else:  # self-training: the unlabelled pictures teach, the labelled ones only measure
        held = pictures
        training = _self_labelled(unlabelled, classifier, start_sequence, counts, progress)
        say(
            f"{len(pictures)} labelled pictures, all held out for the before/after figures; "
            f"{counts['unlabelled']} unlabelled pictures, {len(training)} of them labelled by the reader "
            "where its segmentation and sequence readers read the same digits"
        )
    counts.update({"training": len(training), "held_out": len(held)})
    warnings = held_out_warnings(len(held))
    if not training:
        raise DataError(f"{src}: no picture to train on (each has several lines of writing, or none agreed)")
    truths = [p.item.text for p in held]
    grays = [p.gray for p in held]
    before_texts = read_texts(start, grays)
    before = score(before_texts, truths)
    say(f"before: held-out exact {before.exact_rate:.1%}, digits only {before.digits_rate:.1%}")

    recipe = DRY_RUN if dry_run else (recipe if isinstance(recipe, TuneRecipe) else TuneRecipe())
    bank = DigitBank(*load_mnist(data_dir).split("train"))

    def evaluate(candidate: Any) -> Scores:
        reader = Recognizer(classifier, TorchSequence(candidate, metadata), read_seconds=0)
        return score(read_texts(reader, grays), truths)

    tuned = tune_sequence(
        model,
        [strip for strip, _ in training],
        [text for _, text in training],
        bank,
        evaluate,
        recipe,
        deadline=deadline,
        progress=progress,
        say=say,
    )
    data, export = _exported(model, training, out_path)
    steps = tuned.rounds[-1].step if tuned.rounds else 0
    record = {
        "base": {"file": base_path.name, "sha256": sha256_file(base_path)},
        "pictures": counts,
        "recipe": {**recipe.to_dict(), "replay": "generated lines of MNIST training digits (data.strings)"},
        "before": before.to_dict(),
        "rounds": [
            {"step": r.step, "exact": r.scores.exact_rate, "train_loss": r.train_loss} for r in tuned.rounds
        ],
        "best_step": tuned.best.step if tuned.best else 0,
        "stopped": tuned.stopped,
    }
    after_reader, data = _reader_of(classifier, data, metadata, record, export, out_path)
    after_texts = read_texts(after_reader, grays)
    after = score(after_texts, truths)
    record["after"] = after.to_dict()
    refused = refusal(before, after, out_path, base_path.name, force)
    if not refused:
        _, data = _reader_of(classifier, data, metadata, record, export, out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out_path, data)
        write_card(out_path, data, "sequence", "crnn", record)
    held_rows = tuple(
        (printable(p.item.name), t, b, a)
        for p, t, b, a in zip(held, truths, before_texts, after_texts, strict=True)
    )
    return FinetuneResult(
        out=out_path,
        written=not refused,
        base=base_path,
        kind="sequence",
        before=before,
        after=after,
        table=table(before, after),
        counts=counts,
        skipped=tuple(skipped),
        held_out=held_rows,
        stopped=tuned.stopped,
        steps=steps,
        seconds=time.monotonic() - started,
        warnings=tuple(warnings),
        refused=refused,
    )


def _exported(model: Any, training: list[tuple[Any, str]], out_path: Path) -> tuple[bytes, dict[str, Any]]:
    """The tuned model as ONNX bytes, checked against torch on up to 100 of its training strips."""
    from digitreader.training.export_sequence import checked_onnx

    strips = [strip for strip, _ in training[:100]]
    data, diff, same = checked_onnx(model.eval(), strips, out_path)
    return data, {"checked_lines": len(strips), "check_data": "training strips", "max_abs_diff": diff,
                  "same_readings": same}  # fmt: skip


def _reader_of(
    classifier: Any,
    proto: bytes,
    metadata: dict[str, Any],
    record: dict[str, Any],
    export: dict[str, Any],
    path: Path,
) -> tuple[Any, bytes]:
    """The model file's bytes (ONNX with metadata recording the fine-tuning) and a reader that reads with
    it through ONNX Runtime, as `Recognizer.load(path)` will."""
    from digitreader.onnx_engine import session_for
    from digitreader.recognizer import Recognizer
    from digitreader.sequence_engine import SequenceEngine, check_sequence_model
    from digitreader.training.onnx_io import with_metadata

    meta: dict[str, Any] = {
        key: metadata[key]
        for key in ("format", "kind", "model", "config", "preprocessing", "alphabet")
        if key in metadata
    }
    meta.update(
        {
            "metrics": {"held_out_before": record["before"], "held_out_after": record.get("after")},
            "recipe": record["recipe"],
            "source": {"finetuned_from": record["base"]},
            "export": export,
            "finetune": record,
        }
    )
    data = with_metadata(proto, meta)
    session = session_for(data, path, 1)
    engine = SequenceEngine(session, path, check_sequence_model(session, path))
    return Recognizer(classifier, engine, read_seconds=0), data


def _self_labelled(
    folder: str | os.PathLike[str], classifier: Any, sequence: Any, counts: dict[str, int], progress: bool
) -> list[tuple[Any, str]]:
    """Training strips of the unlabelled pictures the reader labels itself (`tuning.pseudo`)."""
    from digitreader.recognizer import Recognizer
    from digitreader.tuning.pseudo import list_unlabelled, pseudo_label

    items = list_unlabelled(folder)
    segmentation = Recognizer(classifier, None, read_seconds=0)
    found = pseudo_label(
        tqdm(items, desc="labelling unlabelled pictures", disable=not progress, leave=False),
        segmentation.classify,
        sequence.read,
        sequence.stride,
        lambda gray: segmentation.read(gray, mode="number").text,
    )
    training = [(p.strip, p.text) for _, p, _ in found if p is not None]
    counts.update({"unlabelled": len(items), "self_labelled": len(training)})
    return training
