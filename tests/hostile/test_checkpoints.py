"""Checkpoints against a full disk, damaged files and hostile configs: one-line errors, earlier checkpoints
intact, resume from the newest intact one, nothing allocated for a config that cannot be right."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
import torch

from digitreader.errors import ModelError
from digitreader.models.registry import build_model
from digitreader.training.checkpoint import (
    build_model_from_checkpoint,
    load_checkpoint,
    load_newest_intact,
    save_checkpoint,
)
from digitreader.training.train import TrainConfig, train


def save(path: Path, epoch: int = 1, model_name: str = "fast") -> Path:
    torch.manual_seed(epoch)
    return save_checkpoint(path, model_name=model_name, model=build_model(model_name), recipe={}, epoch=epoch)


def flip_a_bit_in_a_weight(path: Path) -> None:
    """Flip one bit in the middle of the first tensor's bytes, inside the zip torch writes."""
    with zipfile.ZipFile(path) as archive:
        record = next(i for i in archive.infolist() if "/data/" in i.filename and i.file_size > 64)
    with open(path, "r+b") as f:
        f.seek(record.header_offset + 26)
        name_len, extra_len = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
        where = record.header_offset + 30 + name_len + extra_len + record.file_size // 2
        f.seek(where)
        byte = f.read(1)[0]
        f.seek(where)
        f.write(bytes([byte ^ 0x10]))


def test_a_flipped_bit_in_a_weight_is_refused(tmp_path: Path) -> None:
    path = save(tmp_path / "a.pt")
    load_checkpoint(path)  # intact: loads
    flip_a_bit_in_a_weight(path)
    with pytest.raises(
        ModelError, match=r"a\.pt: damaged checkpoint \(its tensors do not match the checksum"
    ):
        load_checkpoint(path)


def test_the_newest_intact_checkpoint_is_used_with_a_warning(tmp_path: Path) -> None:
    paths = [save(tmp_path / f"checkpoint-e00{e}.pt", e) for e in (1, 2)] + [save(tmp_path / "last.pt", 3)]
    flip_a_bit_in_a_weight(paths[2])
    (tmp_path / "checkpoint-e002.pt").write_bytes(b"PK\x03\x04 cut short")
    warnings: list[str] = []
    ckpt = load_newest_intact(paths, warnings.append)
    assert ckpt.path == paths[0] and ckpt.epoch == 1
    assert len(warnings) == 3 and "last.pt: damaged checkpoint" in warnings[0]
    assert "checkpoint-e002.pt: not a readable torch checkpoint" in warnings[1]
    assert warnings[2] == f"resuming from {paths[0]}, the newest intact checkpoint"
    flip_a_bit_in_a_weight(paths[0])
    with pytest.raises(ModelError, match="last.pt: damaged"):  # none intact: the newest one's error
        load_newest_intact(paths, warnings.append)


def test_resume_after_a_damaged_last_pt_continues_from_the_newest_intact_epoch(
    tiny_mnist_dir: Path, tmp_path: Path
) -> None:
    def config(**kwargs: object) -> TrainConfig:
        base = dict(model="softmax", out=tmp_path, data_dir=tiny_mnist_dir, progress=False, tensorboard=False)
        return TrainConfig(**base, **kwargs)  # type: ignore[arg-type]

    train(config(epochs=2))
    straight = load_checkpoint(tmp_path / "last.pt").state["model_state"]
    # A crash lost epoch 2's checkpoint and left last.pt cut short.
    (tmp_path / "checkpoint-e002.pt").unlink()
    (tmp_path / "last.pt").write_bytes((tmp_path / "last.pt").read_bytes()[:1000])
    lines: list[str] = []
    train(config(resume=True), report=lines.append)
    assert any("last.pt: not a readable torch checkpoint" in line for line in lines)
    assert any(line.endswith("checkpoint-e001.pt, the newest intact checkpoint") for line in lines)
    resumed = load_checkpoint(tmp_path / "last.pt")
    assert resumed.epoch == 2  # epoch 2 done again, from epoch 1's state: exactly as the first time
    assert all(torch.equal(resumed.state["model_state"][k], v) for k, v in straight.items())


_FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    from digitreader.errors import DigitreaderError
    from digitreader.models.registry import build_model
    from digitreader.training.checkpoint import save_checkpoint
    path = Path(sys.argv[1])
    save_checkpoint(path, model_name="cnn", model=build_model("cnn"), recipe={}, epoch=1)
    # From here on every file may hold 100 kB only: writes fail as they do on a full disk.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, resource.RLIM_INFINITY))
    try:
        save_checkpoint(path, model_name="cnn", model=build_model("cnn"), recipe={}, epoch=2)
    except DigitreaderError as exc:
        print(exc)
    """
)


def test_a_failed_write_is_one_line_and_keeps_the_earlier_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    done = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(path)], capture_output=True, text=True, timeout=120, check=True
    )
    message = done.stdout.strip()
    assert message.startswith(f"{path}: cannot write checkpoint (") and "\n" not in message
    assert message.endswith("the earlier file is intact)")
    assert "Traceback" not in done.stderr and "enforce fail" not in message
    assert load_checkpoint(path).epoch == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temp file left


@pytest.mark.parametrize(
    ("model", "config", "reason"),
    [
        ("cnn", {"channels": [-5, 64, 128]}, "channels is -5, outside 0..8192"),
        ("mlp", {"hidden": [1_000_000, 1_000_000]}, "hidden is 1000000, outside 0..8192"),
        ("lenet-tf", {"conv2": 2048, "fc": 4096}, "parameters (at most 50,000,000)"),
        ("cnn", {"channels": [64] * 3, "depth": [4000, 4000, 1]}, "sizes add up to 8,193"),
        ("cnn", {"dropout": float("nan")}, "dropout is nan"),
        ("fast", {"widths": ["a", 2, 3]}, "bad config"),
    ],
)
def test_a_hostile_config_in_a_checkpoint_is_refused_before_anything_is_built(
    tmp_path: Path, model: str, config: dict, reason: str
) -> None:
    path = save(tmp_path / "a.pt", model_name="cnn" if model == "cnn" else model)
    state = torch.load(path, weights_only=True)
    state["config"] = {**state["config"], **config}
    torch.save(state, path)  # the tensors are untouched: the checksum still matches
    with pytest.raises(ModelError, match="a.pt: model") as info:
        build_model_from_checkpoint(load_checkpoint(path))
    assert reason in str(info.value) and "\n" not in str(info.value)
