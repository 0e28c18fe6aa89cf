"""Write this folder's MNIST sample: the first 300 test and first 120 training digits, in MNIST's IDX format.

    python tests/data/mnist-sample/make_sample.py MNIST_DIR

The files are named like MNIST's, so `load_mnist` and `synth.load_test_digits` read the folder as they read
MNIST (too small to claim to be the published files, so no checksum applies). gzip without a timestamp: the
same MNIST gives the same bytes. MNIST is by Yann LeCun, Corinna Cortes and Christopher J. C. Burges.
"""

from __future__ import annotations

import gzip
import struct
import sys
from pathlib import Path

import numpy as np

from digitreader.data.idx import read_idx

COUNTS = {"t10k": 300, "train": 120}


def main(source: Path, out: Path) -> None:
    for prefix, n in COUNTS.items():
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{prefix}-{kind}-ubyte.gz"
            array = np.ascontiguousarray(read_idx(source / name)[:n], dtype=np.uint8)
            header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
            (out / name).write_bytes(gzip.compress(header + array.tobytes(), compresslevel=9, mtime=0))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(__file__).resolve().parent)
