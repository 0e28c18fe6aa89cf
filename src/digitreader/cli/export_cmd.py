"""`digits export CHECKPOINT --out model.onnx`: a checkpoint -> the ONNX file `digits read --model` reads."""

from __future__ import annotations

import argparse
import shlex

DEFAULT_DATA = "MNIST: train 55,000, validation 5,000 (model selection), test 10,000 (reported)"
# A card's command names the MNIST folder so: the exporting machine's path means nothing elsewhere.
CARD_DATA_DIR = "MNIST_DIR"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="export a checkpoint to ONNX (checked against torch)",
        description="Export a checkpoint to ONNX with its metadata. The file is written only when "
        "ONNX Runtime and torch agree on 1,000 MNIST test images (synthetic images where MNIST is absent).",
    )
    p.add_argument(
        "checkpoints",
        nargs="+",
        metavar="CHECKPOINT",
        help="a checkpoint from `digits train`; several make one ensemble (probabilities averaged)",
    )
    p.add_argument("--out", "-o", required=True, metavar="MODEL.onnx", help="where to write the ONNX file")
    p.add_argument(
        "--data-dir", metavar="DIR", help="MNIST folder for the check (default: $DIGITREADER_DATA)"
    )
    p.add_argument("--check", type=int, default=1000, metavar="N", help="images compared (default 1000)")
    p.add_argument(
        "--int8",
        action="store_true",
        help="write the model quantised to 8 bits (static, calibrated on 512 MNIST training digits): "
        "smaller and faster to read (the bundled cnn: a quarter of the size, 2.2-2.6x the float digits/s); "
        "written only when it picks the same digit as the "
        "checked float graph on >= 99.8%% of the check images, probabilities within 0.05",
    )
    p.add_argument(
        "--card", metavar="CARD.json", help="also write a model card (the format of weights/default.json)"
    )
    p.add_argument(
        "--data", default=DEFAULT_DATA, metavar="TEXT", help="the card's description of the training data"
    )
    p.add_argument("--notes", default="", metavar="TEXT", help="free text for the card")
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from digitreader.errors import DigitreaderError
    from digitreader.training.ensemble import export_ensemble_onnx
    from digitreader.training.export import export_onnx, git_commit, write_card

    if args.check < 1:
        raise DigitreaderError(f"--check {args.check}: must be at least 1")
    args.commit = git_commit() if args.card else None  # before the export changes the checkout
    options = {"data_dir": args.data_dir, "n_check": args.check, "int8": args.int8}
    if _is_sequence_reader(args.checkpoints):
        return _export_sequence(args)
    if len(args.checkpoints) > 1:
        result = export_ensemble_onnx(args.checkpoints, args.out, **options)
    else:
        result = export_onnx(args.checkpoints[0], args.out, **options)
    accuracy = "" if result.accuracy is None else f", accuracy {result.accuracy:.2%}"
    checked = f"on {result.images_checked} {result.check_data} images"
    q = result.quantization
    if q is None:
        print(
            f"wrote {result.path} (sha256 {result.sha256[:12]}): max |ONNX - torch| = "
            f"{result.max_abs_diff:.2g} {checked}{accuracy}"
        )
    else:
        print(
            f"wrote {result.path} (sha256 {result.sha256[:12]}, int8): float graph max |ONNX - torch| = "
            f"{result.max_abs_diff:.2g} {checked}; int8 vs float: argmax agreement "
            f"{q['argmax_agreement_vs_float']:.2%}, max |prob diff| {q['max_abs_diff_vs_float']:.2g} "
            f"(calibrated on {q['calibration_images']} {q['calibration_data']} images){accuracy}"
        )
    if result.check_data != "MNIST test":
        from digitreader.data.mnist import resolve_data_dir

        print(
            f"note: MNIST test files not found in {resolve_data_dir(args.data_dir)}: checked on synthetic "
            "images only (pass --data-dir or set $DIGITREADER_DATA to check on real digits)"
        )
    if args.card:
        # Every option that shapes the written graph (the data decides the int8 calibration and the check);
        # --data and --notes only describe, and are in the card already.
        shaping = [
            *(["--data-dir", CARD_DATA_DIR] if args.data_dir else []),
            *(["--check", str(args.check)] if args.check != 1000 else []),
            *(["--int8"] if args.int8 else []),
        ]
        command = shlex.join(
            ["digits", "export", *args.checkpoints, *shaping, "--out", args.out, "--card", args.card]
        )
        write_card(result, args.card, command=command, data=args.data, notes=args.notes, commit=args.commit)
        print(f"wrote {args.card}")
    return 0


def _is_sequence_reader(checkpoints: list[str]) -> bool:
    """Whether the checkpoints are of a sequence reader (one only: they do not make ensembles)."""
    from digitreader.errors import DigitreaderError
    from digitreader.models.registry import get_spec
    from digitreader.training.checkpoint import load_checkpoint

    kinds = [get_spec(load_checkpoint(c).model_name).kind for c in checkpoints]
    if "sequence" not in kinds:
        return False
    if len(checkpoints) > 1:
        raise DigitreaderError("a sequence reader is exported alone (ensembles are for digit classifiers)")
    return True


def _export_sequence(args: argparse.Namespace) -> int:
    """`digits export` of a sequence reader: checked against torch on generated validation lines."""
    from digitreader.errors import DigitreaderError
    from digitreader.training.export import write_card
    from digitreader.training.export_sequence import N_CHECK, export_sequence_onnx

    if args.int8:
        raise DigitreaderError("--int8 is for digit classifiers; the sequence reader is exported in float")
    n_check = N_CHECK if args.check == 1000 else args.check  # the classifier's default means "ours" here
    result = export_sequence_onnx(args.checkpoints[0], args.out, data_dir=args.data_dir, n_check=n_check)
    print(
        f"wrote {result.path} (sha256 {result.sha256[:12]}, sequence reader): max |ONNX - torch| = "
        f"{result.max_abs_diff:.2g} on {result.images_checked} generated lines, same readings on all"
    )
    if args.card:
        shaping = [*(["--data-dir", CARD_DATA_DIR] if args.data_dir else []), *(["--check", str(n_check)])]
        command = shlex.join(
            ["digits", "export", args.checkpoints[0], *shaping, "--out", args.out, "--card", args.card]
        )
        write_card(result, args.card, command=command, data=args.data, notes=args.notes, commit=args.commit)
        print(f"wrote {args.card}")
    return 0
