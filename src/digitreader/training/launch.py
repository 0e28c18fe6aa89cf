"""``digits train --nproc N``: N training processes on this machine, started through torch's elastic launcher
(what ``torchrun`` runs) with the rendezvous on 127.0.0.1. Each worker runs `train.train`, and joins the
process group there (`distributed.setup`); rank 0's result comes back, and a worker's `DigitreaderError` is
the same one-line error here.

Ctrl-C reaches the launcher and every worker: the workers stop together at a step's end, rank 0 saves the run
and says how to resume it, and each leaves at once (the launcher, shutting down, no longer collects results
and would wait half a minute before killing them); the launcher's shutdown warnings are held back, so the
command adds one line.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from tqdm import tqdm

from digitreader.errors import DigitreaderError
from digitreader.files import one_line
from digitreader.models.registry import get_spec
from digitreader.training.config import TrainConfig, TrainResult
from digitreader.training.distributed import resolve_device, world_from_env
from digitreader.training.train import train


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def launch(nproc: int, cfg: TrainConfig) -> TrainResult:
    """Train `cfg` in `nproc` processes on this machine (torch's elastic launcher, rendezvous on 127.0.0.1).

    Returns rank 0's result. A DigitreaderError in a worker comes back as the same one-line error here.
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if nproc < 1:
        raise DigitreaderError(f"--nproc must be >= 1 (got {nproc})")
    get_spec(cfg.model)  # the cheap checks here, before N processes start only to fail alike
    resolve_device(cfg.device)
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=nproc,
        run_id=f"digits-{os.getpid()}",
        rdzv_backend="c10d",
        rdzv_endpoint=f"127.0.0.1:{free_port()}",
        max_restarts=0,
        start_method="spawn",
    )
    # Each worker gets an equal share of the cores unless --threads says otherwise (torchrun's habit).
    threads = cfg.threads or max(1, (os.cpu_count() or 1) // nproc)
    try:
        with _launcher_quiet():
            outputs = elastic_launch(config, _worker)(cfg, threads)
    except SignalException:
        raise KeyboardInterrupt from None
    except ChildFailedError as exc:
        if exc.failures and all(f.exitcode == 130 for f in exc.failures.values()):
            raise KeyboardInterrupt from None  # Ctrl-C reached the workers alone: each saved and stopped
        failure = next(iter(exc.failures.values()), None)
        detail = failure.message if failure is not None else str(exc)
        raise DigitreaderError(f"a training process failed: {one_line(detail, 300)}") from None
    kind, value = outputs[0]
    if kind == "error":
        raise DigitreaderError(value)
    return value


@contextmanager
def _launcher_quiet() -> Iterator[None]:
    """torch's launcher logs a Ctrl-C as warnings (a line per worker closed); errors still show."""
    names = [n for n in list(logging.root.manager.loggerDict) if n.startswith("torch.distributed.elastic")]
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _worker(cfg: TrainConfig, threads: int) -> tuple[str, Any]:
    """One rank's entry point (a new process): train, and hand user errors back as text."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(threads)
    # The CLI's progress lines, from rank 0 only (train() silences the other ranks as well).
    report = tqdm.write if world_from_env()[0] == 0 else (lambda line: None)
    try:
        result = train(dataclasses.replace(cfg, threads=threads), report=report)
    except DigitreaderError as exc:
        return ("error", str(exc))
    if result.interrupted:  # Ctrl-C: the run is saved, and the launcher is closing the workers
        sys.exit(130)  # not through torch's result queue, whose reader waits for nothing more
    return ("ok", result)
