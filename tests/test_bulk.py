"""Reading many pictures in worker processes: the same readings as one process, in order, memory bounded,
unreadable pictures kept in their place."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from digitreader import Recognizer, bulk
from digitreader.data.idx import read_idx
from digitreader.data.synth import make_single_digits
from digitreader.errors import DigitreaderError, ImageError


@pytest.fixture(autouse=True)
def start_early(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers start for 64 pictures here (they pay for themselves from ~1,000): the tests stay short."""
    monkeypatch.setattr(bulk, "START_FROM", bulk.PARALLEL_FROM)


@pytest.fixture(scope="module")
def recognizer() -> Iterator[Recognizer]:
    reader = Recognizer.load(threads=1)
    yield reader
    reader.close()


@pytest.fixture(scope="module")
def crops(mnist_sample_dir: Path) -> list[np.ndarray]:
    """The sample's 300 MNIST test digits as dark ink on white, 28x28: like a form's cut-out boxes."""
    return [255 - d for d in read_idx(mnist_sample_dir / "t10k-images-idx3-ubyte.gz")]


@pytest.mark.parametrize("mode", ["digit", "auto"])
def test_processes_read_as_one_process_does(recognizer: Recognizer, crops: list, mode: str) -> None:
    images = crops[:200] if mode == "digit" else crops[:96]
    serial = recognizer.read_many(images, mode, workers=1)
    parallel = recognizer.read_many(images, mode, workers=2)
    assert bulk._pools[recognizer][0] == 2  # the list was long enough: it went to two processes
    assert parallel == serial
    # Equal readings compare text, labels, confidences and boxes; the ten probabilities too:
    assert [[d.probabilities for d in r.digits] for r in parallel] == [
        [d.probabilities for d in r.digits] for r in serial
    ]


def test_realistic_photos_read_the_same_in_processes(recognizer: Recognizer, mnist_sample_dir: Path) -> None:
    photos = [s.image for s in make_single_digits(72, seed=7, data_dir=mnist_sample_dir)]
    assert recognizer.read_many(photos, "auto", workers=2) == recognizer.read_many(photos, "auto", workers=1)


def test_stream_yields_in_order_and_reads_ahead_only_a_few_chunks(
    recognizer: Recognizer, crops: list
) -> None:
    taken: list[int] = []

    def pictures() -> Iterator[np.ndarray]:
        for i in range(len(crops)):
            taken.append(i)
            yield crops[i]

    stream = recognizer.read_stream(pictures(), "digit", workers=2)
    first = next(stream)
    # Memory is bounded: the first reading comes when the first chunks are handed out, not the whole list.
    ahead = bulk.START_FROM + 2 * bulk.IN_FLIGHT * bulk.CHUNK
    assert len(taken) <= ahead < len(crops)
    rest = list(stream)
    assert [first, *rest] == recognizer.read_many(crops, "digit", workers=1)


def test_an_unreadable_picture_keeps_its_place(recognizer: Recognizer, crops: list) -> None:
    png = io.BytesIO()
    Image.fromarray(crops[1]).save(png, format="PNG")
    images = [crops[0], b"not a picture", png.getvalue(), *crops[2:80]]
    results = list(bulk.results(recognizer, images, "digit", workers=2))
    assert len(results) == len(images)
    assert isinstance(results[1], bulk.Failure) and "not an image" in str(results[1].error)
    readings = [r for r in results if not isinstance(r, bulk.Failure)]
    assert readings == recognizer.read_many([crops[0], crops[1], *crops[2:80]], "digit", workers=1)
    with pytest.raises(ImageError, match="not an image"):
        recognizer.read_many(images, "digit", workers=2)


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_workers_must_be_a_count(recognizer: Recognizer, crops: list, workers: object) -> None:
    with pytest.raises(DigitreaderError, match=r"^workers .*: expected a whole number, 1 or more"):
        list(recognizer.read_stream(crops[:3], "digit", workers=workers))  # type: ignore[arg-type]


def test_short_lists_start_no_processes(crops: list, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "START_FROM", 1000)
    reader = Recognizer.load(threads=1)
    reader.read_many(crops, "digit")  # 300 pictures: read in this process
    assert reader not in bulk._pools
