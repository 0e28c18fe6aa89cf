"""Reading on a Dask cluster of two local worker processes: the readings of `read_many`, in order, with an
unreadable picture kept in its place. Skipped where the `dask` extra is not installed."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from digitreader import Recognizer, bulk
from digitreader.data.idx import read_idx

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")


def test_a_local_cluster_reads_as_read_many(tmp_path: Path, mnist_sample_dir: Path) -> None:
    from digitreader.dask_reader import read_bag

    paths = []
    for i, digit in enumerate(read_idx(mnist_sample_dir / "t10k-images-idx3-ubyte.gz")[:250]):
        paths.append(str(tmp_path / f"{i:03d}.png"))
        Image.fromarray(255 - digit).save(paths[-1])
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    images = [*paths[:100], str(damaged), *paths[100:]]
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, distributed.Client(cluster):
        results = read_bag(images, "digit").compute()
    assert len(results) == len(images)
    assert isinstance(results[100], bulk.Failure) and "damaged" in str(results[100].error)
    expected = Recognizer.load(threads=1).read_many(paths, "digit", workers=1)
    assert results[:100] + results[101:] == expected
