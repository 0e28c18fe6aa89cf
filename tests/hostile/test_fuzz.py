"""The fuzzer over files, bytes, arrays and PIL images in every mode (`fuzz.py`), run in a fresh process:
no error but the documented ones, and the process's peak memory within 1 GiB (so every accepted input's
read was). 2,000 inputs by default; more with DIGITREADER_FUZZ_INPUTS (and another set with
DIGITREADER_FUZZ_SEED). How long reads took is printed, not asserted: the per-read CPU limit bounds it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).with_name("fuzz.py")
INPUTS = int(os.environ.get("DIGITREADER_FUZZ_INPUTS", "2000"))
SEED = int(os.environ.get("DIGITREADER_FUZZ_SEED", "0"))
PEAK_MIB = 1024


@pytest.mark.slow
@pytest.mark.timeout(max(600, INPUTS))
def test_fuzzed_inputs_raise_only_documented_errors_in_bounded_memory() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "ignore", str(FUZZ), str(INPUTS), "--seed", str(SEED)],
        capture_output=True,
        text=True,
        timeout=max(600, INPUTS),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.splitlines()[-1])
    print(json.dumps(summary, indent=1))
    assert summary["inputs"] == INPUTS
    assert summary["failures"] == []
    assert summary["peak_rss_mib"] <= PEAK_MIB
    # Every kind of input was made, and each was both read and refused at times.
    outcomes = summary["outcomes"]
    for kind in ("bytes", "file", "array", "pil"):
        assert outcomes.get(f"{kind}: read", 0) > 0
        assert sum(n for k, n in outcomes.items() if k.startswith(f"{kind}: ") and not k.endswith("read")) > 0
