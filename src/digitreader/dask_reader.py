"""Reading beyond one machine on a Dask cluster: the same reader in every worker process, pictures in
partitions (the optional `dask` extra: `pip install "digitreader[dask]"`).

    from distributed import Client
    from digitreader.dask_reader import read_bag

    client = Client("scheduler:8786")                 # or Client() for a cluster on this machine
    results = read_bag(paths, mode="digit").compute()  # a Reading or a bulk.Failure per path, in order

Each partition of `bulk.CHUNK` pictures is read as `bulk.read_chunk` reads it, so its digits share ONNX
Runtime calls, an unreadable picture is a `Failure` in its place, and readings equal `read_many`'s. A worker
process loads the models once, on its first partition; give workers one thread each (`nthreads=1`): a read
is Python holding the interpreter lock. Paths must name files the workers can open (a shared disk), or pass
the pictures' bytes.

Why Dask rather than Ray Data: a pure-Python install of ~40 MB (dask, distributed and their dependencies)
that starts a local cluster in seconds, against Ray's compiled runtime with its own object store. Dask's
overhead was measured (docs/benchmarks.md); Ray's was not.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digitreader import bulk
from digitreader.contract import check_mode

if TYPE_CHECKING:
    import dask.bag

    from digitreader.recognizer import Recognizer

_readers: dict[str | None, Recognizer] = {}  # per worker process, by model file: loaded once, kept


def read_bag(
    images: Sequence[Any], mode: str = "auto", *, model: str | Path | None = None, chunk: int = bulk.CHUNK
) -> dask.bag.Bag:
    """A Dask bag of one `Reading` or `bulk.Failure` per image, in order. `model`: an .onnx file every worker
    can open (None: the bundled models)."""
    import dask.bag as db

    check_mode(mode)
    where = None if model is None else str(model)
    return db.from_sequence(list(images), partition_size=chunk).map_partitions(_read_partition, mode, where)


def _read_partition(images: Sequence[Any], mode: str, model: str | None) -> list[bulk.Result]:
    return bulk.read_chunk(_reader(model), list(images), mode)


def _reader(model: str | None) -> Recognizer:
    import cv2

    from digitreader.recognizer import Recognizer

    if model not in _readers:
        cv2.setNumThreads(1)  # one core per worker thread, as in `bulk`'s workers
        _readers[model] = Recognizer.load(model, threads=1)
    return _readers[model]
