"""The sequence reader's network: shapes, columns per strip width, config checks, registration."""

from __future__ import annotations

import pytest
import torch

from digitreader.ctc import ALPHABET, NUM_CLASSES
from digitreader.errors import ModelError
from digitreader.models.crnn import Crnn
from digitreader.models.registry import build_model, get_spec


def test_registered_as_a_sequence_model() -> None:
    spec = get_spec("crnn")
    assert spec.kind == "sequence" and get_spec("cnn").kind == "classifier"


@pytest.mark.parametrize("width", [4, 36, 128, 203])
def test_output_columns_follow_the_strip_width(width: int) -> None:
    model = build_model("crnn").eval()
    assert isinstance(model, Crnn)
    with torch.no_grad():
        out = model(torch.rand(2, 1, 32, width))
    assert out.shape == (2, model.columns(width), NUM_CLASSES)
    assert model.columns(width) == (width // 4) * 2
    assert torch.isfinite(out).all()


def test_the_model_states_what_it_reads() -> None:
    prep = build_model("crnn").preprocessing()  # type: ignore[operator]
    assert prep["strip_height"] == 32 and prep["alphabet"] == ALPHABET and prep["stride"] == 2


@pytest.mark.parametrize("bad", [{"height": 28}, {"channels": [8, 8]}, {"stride": 3}, {"hidden": 0}])
def test_bad_configs_are_refused_before_anything_is_built(bad: dict[str, object]) -> None:
    with pytest.raises(ModelError):
        build_model("crnn", bad)


def test_the_default_model_fits_the_size_budget() -> None:
    params = sum(p.numel() for p in build_model("crnn").parameters())
    assert params * 4 < 5_000_000  # float32 bytes of the exported file's weights


def test_ctc_loss_falls_on_a_fixed_batch() -> None:
    from digitreader.ctc import encode

    torch.manual_seed(0)
    model = build_model("crnn")
    assert isinstance(model, Crnn)
    x = torch.rand(8, 1, 32, 64)
    texts = ["12", "3.4", "567", "8", "9,0", "11", "-2", "3 4"]
    targets = torch.tensor([i for t in texts for i in encode(t)])
    lengths = torch.tensor([len(t) for t in texts])
    columns = torch.full((8,), model.columns(64))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss() -> torch.Tensor:
        log_probs = model(x).log_softmax(-1).transpose(0, 1)
        return torch.nn.functional.ctc_loss(log_probs, targets, columns, lengths, zero_infinity=True)

    model.eval()
    with torch.no_grad():
        before = loss().item()
    for _ in range(30):
        model.train()
        value = loss()
        opt.zero_grad()
        value.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        after = loss().item()
    assert after < 0.8 * before, (before, after)
