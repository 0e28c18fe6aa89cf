"""Checkpoints: round trip, atomic write, safe loading of bad files, loading many times in one process."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from digitreader.errors import DigitreaderError, ModelError
from digitreader.models.recipe import recipe_to_dict
from digitreader.models.registry import build_model, get_spec
from digitreader.training.checkpoint import (
    FORMAT,
    build_model_from_checkpoint,
    load_checkpoint,
    save_checkpoint,
    update_metrics,
)

SMALL_CNN = {"channels": [8, 16], "depth": [1, 1]}


def _save(path: Path, name: str = "cnn", config: dict | None = None, **kwargs: object) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(name, SMALL_CNN if config is None and name == "cnn" else config)
    save_checkpoint(
        path, model_name=name, model=model, recipe=recipe_to_dict(get_spec(name).recipe), **kwargs
    )
    return model


def test_round_trip_rebuilds_the_same_model(tmp_path: Path) -> None:
    path = tmp_path / "a.pt"
    model = _save(path, epoch=3, step=120, metrics={"val_accuracy": 0.5})
    ckpt = load_checkpoint(path)
    assert (ckpt.model_name, ckpt.epoch, ckpt.step) == ("cnn", 3, 120)
    assert ckpt.metrics == {"val_accuracy": 0.5}
    assert ckpt.config["channels"] == [8, 16]
    assert ckpt.recipe["optimizer"] == get_spec("cnn").recipe.optimizer
    assert ckpt.state["format"] == FORMAT
    pre = ckpt.preprocessing
    assert (pre["size"], pre["box"], pre["centre"], pre["ink"], pre["range"]) == (
        28,
        20,
        "mass",
        "bright",
        [0.0, 1.0],
    )
    assert pre["mean"] == pytest.approx(0.1307) and pre["std"] == pytest.approx(0.3081)
    rebuilt = build_model_from_checkpoint(ckpt)
    assert not rebuilt.training
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model.eval()(x))


def test_ema_weights_are_preferred_when_present(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("mlp")
    ema = {k: v + 1.0 if v.dtype.is_floating_point else v for k, v in model.state_dict().items()}
    save_checkpoint(tmp_path / "e.pt", model_name="mlp", model=model, recipe={}, ema_state=ema)
    ckpt = load_checkpoint(tmp_path / "e.pt")
    with_ema, without = build_model_from_checkpoint(ckpt), build_model_from_checkpoint(ckpt, ema=False)
    assert torch.equal(with_ema.state_dict()["net.0.weight"], ema["net.0.weight"])
    assert torch.equal(without.state_dict()["net.0.weight"], model.state_dict()["net.0.weight"])


def test_load_three_times_build_three_models_same_outputs(tmp_path: Path) -> None:
    # The TF tutorials' "Key Variable_10 not found" / restart-the-kernel failure must be impossible.
    _save(tmp_path / "a.pt")
    x = torch.rand(6, 1, 28, 28)
    outputs = []
    for _ in range(3):
        model = build_model_from_checkpoint(load_checkpoint(tmp_path / "a.pt"))
        with torch.no_grad():
            outputs.append(model(x))
    assert torch.equal(outputs[0], outputs[1]) and torch.equal(outputs[1], outputs[2])


def test_checkpoint_holds_only_plain_types_and_tensors(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("mlp")
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.rand(2, 1, 28, 28)).sum().backward()
    optimizer.step()
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    save_checkpoint(
        tmp_path / "full.pt",
        model_name="mlp",
        model=model,
        recipe={},
        optimizer=optimizer,
        scheduler=scheduler,
        generator=torch.Generator().manual_seed(1),
    )
    state = torch.load(tmp_path / "full.pt", weights_only=True)  # would raise on any pickled class

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)
        else:
            assert value is None or isinstance(value, str | int | float | bool | torch.Tensor), type(value)

    walk(state)
    assert state["rng"]["generator"] is not None and state["optimizer_state"]["state"]


def test_save_is_atomic_and_leaves_no_temp_file(tmp_path: Path) -> None:
    _save(tmp_path / "a.pt")
    _save(tmp_path / "a.pt")  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt"]
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "a.pt").stat().st_mode & 0o777 == 0o666 & ~mask  # not the temp file's private 0600


def test_unwritable_destination_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DigitreaderError, match="cannot write checkpoint"):
        _save(blocker / "a.pt")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (os.urandom(4096), "not a readable torch checkpoint"),
        (b"", "not a readable torch checkpoint"),
        (pickle.dumps({"format": FORMAT}), "not a readable torch checkpoint"),
    ],
    ids=["random-bytes", "empty", "plain-pickle"],
)
def test_bad_bytes_raise_one_line_model_error(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(ModelError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and reason in str(info.value)
    assert "\n" not in str(info.value)


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    _save(tmp_path / "a.pt")
    data = (tmp_path / "a.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="cut.pt: not a readable torch checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")


def test_code_in_a_pickle_is_never_run(tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    torch.save({"format": FORMAT, "x": Boom()}, tmp_path / "evil.pt")
    with pytest.raises(ModelError, match="evil.pt"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()


def test_a_plain_torch_file_is_not_a_digitreader_checkpoint(tmp_path: Path) -> None:
    torch.save(build_model("softmax").state_dict(), tmp_path / "weights.pt")
    with pytest.raises(ModelError, match="weights.pt: not a digitreader checkpoint"):
        load_checkpoint(tmp_path / "weights.pt")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="nope.pt: no such checkpoint file"):
        load_checkpoint(tmp_path / "nope.pt")


def test_state_of_another_model_raises_model_error(tmp_path: Path) -> None:
    _save(tmp_path / "a.pt")
    state = torch.load(tmp_path / "a.pt", weights_only=True)
    state["model_state"] = build_model("cnn", {"channels": [4, 8], "depth": [1, 1]}).state_dict()
    del state["tensor_sha256"]  # as in a checkpoint from before checksums (with one, it is "damaged")
    torch.save(state, tmp_path / "mixed.pt")
    with pytest.raises(ModelError) as info:
        build_model_from_checkpoint(load_checkpoint(tmp_path / "mixed.pt"))
    assert "mixed.pt: weights do not match model 'cnn'" in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_model_name_in_checkpoint(tmp_path: Path) -> None:
    _save(tmp_path / "a.pt")
    state = torch.load(tmp_path / "a.pt", weights_only=True)
    state["model_name"] = "vit-huge"
    torch.save(state, tmp_path / "vit.pt")
    with pytest.raises(ModelError, match="vit.pt: unknown model 'vit-huge'"):
        build_model_from_checkpoint(load_checkpoint(tmp_path / "vit.pt"))


def test_update_metrics_keeps_the_rest(tmp_path: Path) -> None:
    _save(tmp_path / "a.pt", metrics={"val_accuracy": 0.9})
    updated = update_metrics(tmp_path / "a.pt", {"test_accuracy": 0.8})
    assert updated.metrics == {"val_accuracy": 0.9, "test_accuracy": 0.8}
    assert load_checkpoint(tmp_path / "a.pt").metrics["test_accuracy"] == 0.8
    build_model_from_checkpoint(updated)
