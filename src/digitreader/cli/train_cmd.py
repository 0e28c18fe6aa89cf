"""`digits train`: train a registered model on MNIST or on a user's dataset (see training/train.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from digitreader.cli import flags


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "train",
        help="train a model (checkpoints, TensorBoard, --resume)",
        description="Train a registered model (see 'digits models') with its recipe; flags override it.",
    )
    p.add_argument(
        "--model",
        metavar="NAME",
        help="registered model name, e.g. cnn (with --resume: read from the checkpoint)",
    )
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, metavar="N", help="passes over the training set")
    length.add_argument("--steps", type=int, metavar="N", help="optimiser steps (instead of epochs)")
    p.add_argument("--batch-size", type=int, metavar="N", help="samples per step")
    p.add_argument("--lr", type=float, metavar="LR", help="peak learning rate")
    p.add_argument(
        "--seed",
        type=int,
        help="seed of initialisation, shuffling and augmentation (default 0; kept on --resume)",
    )
    p.add_argument("--out", type=Path, metavar="DIR", help="run folder (default: runs/MODEL)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    p.add_argument(
        "--init",
        type=Path,
        metavar="CHECKPOINT",
        help="sequence reader: start a new run from this checkpoint's weights, or an exported reader's "
        "(.onnx, e.g. the bundled one), fine-tuning them",
    )
    flags.dry_run(p, "run the whole path on a few batches")
    flags.dataset(p)
    p.add_argument("--with-mnist", action="store_true", help="with --data: add MNIST's training images")
    flags.data_dir(p)
    flags.threads(p, help="torch CPU threads (per process)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: a GPU if any")
    p.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="N",
        help="train in N processes with DistributedDataParallel (same global batch and lr)",
    )
    p.add_argument("--no-tensorboard", action="store_true", help="do not write OUT/tb")
    flags.no_progress(p)
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from digitreader.errors import DigitreaderError
    from digitreader.models.registry import get_spec
    from digitreader.training.config import TrainConfig
    from digitreader.training.distributed import in_worker
    from digitreader.training.launch import launch
    from digitreader.training.train import train

    if args.resume and args.seed is not None:
        raise DigitreaderError("--seed: a resumed run keeps the seed it started with (drop --seed)")
    if args.model is None:
        args.model = _model_of_run(args)
    config = TrainConfig(
        model=args.model,
        out=args.out or Path("runs") / args.model,
        epochs=args.epochs,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=0 if args.seed is None else args.seed,
        resume=args.resume,
        init=args.init,
        dry_run=args.dry_run,
        data=args.data,
        with_mnist=args.with_mnist,
        data_dir=args.data_dir,
        threads=args.threads,
        progress=not args.no_progress,
        tensorboard=not args.no_tensorboard,
        device=args.device,
    )
    if args.nproc != 1 and get_spec(args.model).kind == "sequence":
        raise DigitreaderError("--nproc: the sequence reader trains in one process (use --threads)")
    if args.nproc != 1 and not in_worker():
        result = launch(args.nproc, config)  # N workers, each running `train` (training/launch.py)
    else:
        result = train(config, report=tqdm.write)
    if result.interrupted:
        return 130
    if result.best is None:  # a worker other than rank 0 under torchrun: rank 0 reports
        return 0
    if "test_accuracy" in result.metrics:
        print(f"best checkpoint: {result.best} (test accuracy {result.metrics['test_accuracy']:.4f})")
    else:  # the sequence reader: scored on generated validation lines (no test split of its own)
        exact = result.metrics["best_val_exact"]
        print(f"best checkpoint: {result.best} (validation lines read exactly: {exact:.4f})")
    return 0


def _model_of_run(args: argparse.Namespace) -> str:
    """`--model` left out: with `--resume --out DIR`, the model of DIR's newest intact checkpoint."""
    from digitreader.errors import DigitreaderError

    if not args.resume or args.out is None:
        raise DigitreaderError(
            "--model NAME is needed ('digits models' lists them), except with --resume --out DIR"
        )
    from digitreader.training import checkpoint as ckpt_io
    from digitreader.training.run_folder import checkpoints_in

    found = checkpoints_in(args.out) if args.out.is_dir() else []
    if not found:
        raise DigitreaderError(f"{args.out}: no checkpoint to resume from (train without --resume first)")
    return ckpt_io.load_newest_intact(found, lambda line: None).model_name
