"""A torch sequence reader rebuilt from an exported ONNX file, so fine-tuning can start from the bundled
model without a second copy of its weights in the package.

The file is parsed as data (protobuf tensors, `onnx.numpy_helper`); nothing in it is executed. Its
``digitreader`` metadata gives the registered model and its architecture config. The exporter renamed
and re-laid-out the weights, so they are matched by the graph's structure, not by name:

1. each ``Conv`` node, in graph order, is one conv + BatchNorm pair of ``features``: the exporter folded
   the BatchNorm into the convolution, so the conv takes the folded weight and the BatchNorm becomes the
   identity plus the folded bias (running mean 0, running variance 1 - eps, scale 1). Exact in eval mode;
   `freeze_batchnorm` keeps it so while fine-tuning (batch statistics would undo the folding);
2. the two ``MatMul`` nodes with weights are ``project`` and ``head`` (weights transposed; each bias is the
   constant of the ``Add`` that follows);
3. each ``LSTM`` node is one layer of ``rnn``: ONNX stacks the directions and orders the gates
   input, output, forget, cell where torch orders them input, forget, cell, output; its bias ``B`` is the
   input biases then the recurrent biases.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from digitreader.contract import METADATA_KEY
from digitreader.errors import ModelError
from digitreader.files import one_line
from digitreader.models.crnn import Crnn
from digitreader.models.registry import get_spec
from digitreader.onnx_engine import read_model_bytes

_ONNX_TO_TORCH_GATES = (0, 2, 3, 1)  # ONNX blocks i, o, f, c -> torch i, f, c (g), o


def read_onnx(path: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """The parsed graph and the ``digitreader`` metadata of an exported model file."""
    import onnx

    model_path = Path(path).expanduser()
    data = read_model_bytes(model_path)
    try:
        proto = onnx.load_from_string(data)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ModelError(f"{model_path}: not an ONNX model ({one_line(exc, 120)})") from None
    raw = {p.key: p.value for p in proto.metadata_props}.get(METADATA_KEY)
    try:
        metadata = json.loads(raw) if raw is not None else None
    except ValueError:
        metadata = None
    if not isinstance(metadata, dict):
        raise ModelError(f"{model_path}: no readable '{METADATA_KEY}' metadata (not from `digits export`)")
    return proto, metadata


def sequence_model_from_onnx(path: str | os.PathLike[str]) -> tuple[Crnn, dict[str, Any]]:
    """The `crnn` of an exported sequence-reader file with its weights, in eval mode, and its metadata."""
    model_path = Path(path).expanduser()
    proto, metadata = read_onnx(model_path)
    if metadata.get("kind") != "sequence" or metadata.get("model") != "crnn":
        raise ModelError(
            f"{model_path}: not a sequence reader ({metadata.get('kind') or 'classifier'} "
            f"{metadata.get('model')!r}); fine-tuning numbers starts from a sequence reader"
        )
    try:
        model = get_spec("crnn").build(dict(metadata.get("config") or {}))
    except (ModelError, TypeError, ValueError) as exc:
        raise ModelError(f"{model_path}: its config does not build a crnn ({exc})") from None
    assert isinstance(model, Crnn)
    try:
        state = _crnn_state(proto, model)
        model.load_state_dict(state, strict=True)
    except (KeyError, ValueError, RuntimeError, IndexError, StopIteration) as exc:
        raise ModelError(f"{model_path}: its weights do not map onto a crnn ({one_line(exc, 160)})") from None
    return model.eval(), metadata


def classifier_from_onnx(path: str | os.PathLike[str]) -> tuple[nn.Module, dict[str, Any]]:
    """The `cnn` digit classifier of an exported file with its weights, in eval mode, and its metadata.

    An int8 file (the bundled one) gives its dequantised weights: the torch model matches the file's
    weights exactly but not its 8-bit activations (probabilities within a few hundredths), a start for
    fine-tuning, not a copy of the file's readings."""
    model_path = Path(path).expanduser()
    proto, metadata = read_onnx(model_path)
    if metadata.get("kind", "classifier") != "classifier" or metadata.get("model") not in ("cnn", "cnn-long"):
        raise ModelError(
            f"{model_path}: not a cnn digit classifier ({metadata.get('kind') or 'classifier'} "
            f"{metadata.get('model')!r}); fine-tuning single digits starts from one"
        )
    try:
        model = get_spec(str(metadata["model"])).build(dict(metadata.get("config") or {}))
        model.load_state_dict(_classifier_state(proto, model), strict=True)
    except (KeyError, ValueError, RuntimeError, IndexError, TypeError) as exc:
        raise ModelError(f"{model_path}: its weights do not map onto a cnn ({one_line(exc, 160)})") from None
    return model.eval(), metadata


def freeze_batchnorm(model: nn.Module) -> None:
    """Keep every BatchNorm in eval mode (running statistics used, never updated) even in `train()`."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


def _crnn_state(proto: Any, model: Crnn) -> dict[str, torch.Tensor]:
    from onnx import numpy_helper

    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    nodes = list(proto.graph.node)
    own = model.state_dict()
    state: dict[str, torch.Tensor] = {}

    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    norms = [m for m in model.features if isinstance(m, nn.BatchNorm2d)]
    conv_nodes = [n for n in nodes if n.op_type == "Conv"]
    if len(conv_nodes) != len(convs):
        raise ValueError(f"{len(conv_nodes)} Conv nodes for {len(convs)} convolutions")
    names = {id(m): name for name, m in model.named_modules()}
    for node, conv, norm in zip(conv_nodes, convs, norms, strict=True):
        weight, bias = inits[node.input[1]], inits[node.input[2]]
        c, b = names[id(conv)], names[id(norm)]
        state[f"{c}.weight"] = _tensor(weight)
        state[f"{b}.weight"] = torch.ones(len(bias))
        state[f"{b}.bias"] = _tensor(bias)
        state[f"{b}.running_mean"] = torch.zeros(len(bias))
        state[f"{b}.running_var"] = torch.full((len(bias),), 1.0 - norm.eps)
        state[f"{b}.num_batches_tracked"] = own[f"{b}.num_batches_tracked"].clone()

    matmuls = [n for n in nodes if n.op_type == "MatMul" and n.input[1] in inits]
    if len(matmuls) != 2:
        raise ValueError(f"{len(matmuls)} MatMul nodes with weights, expected 2 (project, head)")
    for node, name in zip(matmuls, ("project", "head"), strict=True):
        state[f"{name}.weight"] = _tensor(inits[node.input[1]].T)
        add = next(n for n in nodes if n.op_type == "Add" and node.output[0] in n.input)
        state[f"{name}.bias"] = _tensor(inits[next(i for i in add.input if i in inits)])

    lstms = [n for n in nodes if n.op_type == "LSTM"]
    if len(lstms) != model.config.layers:
        raise ValueError(f"{len(lstms)} LSTM nodes for {model.config.layers} layers")
    hidden = model.config.hidden
    for layer, node in enumerate(lstms):
        w, r, bias = (inits[name] for name in node.input[1:4])
        for d, suffix in enumerate(("", "_reverse")):
            key = f"rnn.{{}}_l{layer}{suffix}"
            state[key.format("weight_ih")] = _gates(w[d], hidden)
            state[key.format("weight_hh")] = _gates(r[d], hidden)
            state[key.format("bias_ih")] = _gates(bias[d, : 4 * hidden], hidden)
            state[key.format("bias_hh")] = _gates(bias[d, 4 * hidden :], hidden)

    for key, value in state.items():
        if key not in own or tuple(own[key].shape) != tuple(value.shape):
            raise ValueError(f"{key}: shape {tuple(value.shape)} does not fit the model")
    return state


def _classifier_state(proto: Any, model: nn.Module) -> dict[str, torch.Tensor]:
    """Conv nodes in order -> the conv + BatchNorm pairs of `features` (folded, as for the crnn); the one
    Gemm -> `classifier`. Weights behind a DequantizeLinear (an int8 file) are dequantised."""
    from onnx import helper, numpy_helper

    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    produced = {n.output[0]: n for n in proto.graph.node if n.op_type == "DequantizeLinear"}

    def value(name: str) -> np.ndarray:
        if name in inits:
            return inits[name]
        node = produced[name]
        q, scale = inits[node.input[0]].astype(np.float64), inits[node.input[1]].astype(np.float64)
        zero = inits[node.input[2]].astype(np.float64) if len(node.input) > 2 else np.zeros_like(scale)
        axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), 1)
        if scale.ndim == 1 and q.ndim > 1:  # per channel along `axis`
            shape = [1] * q.ndim
            shape[axis] = -1
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        return np.asarray((q - zero) * scale, np.float32)

    own = model.state_dict()
    names = {id(m): name for name, m in model.named_modules()}
    features = list(model.features)  # type: ignore[arg-type]
    convs = [m for m in features if isinstance(m, nn.Conv2d)]
    norms = [m for m in features if isinstance(m, nn.BatchNorm2d)]
    conv_nodes = [n for n in proto.graph.node if n.op_type == "Conv"]
    if len(conv_nodes) != len(convs):
        raise ValueError(f"{len(conv_nodes)} Conv nodes for {len(convs)} convolutions")
    state: dict[str, torch.Tensor] = {}
    for node, conv, norm in zip(conv_nodes, convs, norms, strict=True):
        bias = value(node.input[2])
        c, b = names[id(conv)], names[id(norm)]
        state[f"{c}.weight"] = _tensor(value(node.input[1]))
        state[f"{b}.weight"] = torch.ones(len(bias))
        state[f"{b}.bias"] = _tensor(bias)
        state[f"{b}.running_mean"] = torch.zeros(len(bias))
        state[f"{b}.running_var"] = torch.full((len(bias),), 1.0 - norm.eps)
        state[f"{b}.num_batches_tracked"] = own[f"{b}.num_batches_tracked"].clone()
    (gemm,) = [n for n in proto.graph.node if n.op_type == "Gemm"]
    trans_b = next((helper.get_attribute_value(a) for a in gemm.attribute if a.name == "transB"), 0)
    weight = value(gemm.input[1])
    state["classifier.weight"] = _tensor(weight if trans_b else weight.T)
    state["classifier.bias"] = _tensor(value(gemm.input[2]))
    for key, tensor in state.items():
        if key not in own or tuple(own[key].shape) != tuple(tensor.shape):
            raise ValueError(f"{key}: shape {tuple(tensor.shape)} does not fit the model")
    return state


def _gates(array: np.ndarray, hidden: int) -> torch.Tensor:
    blocks = [array[k * hidden : (k + 1) * hidden] for k in _ONNX_TO_TORCH_GATES]
    return _tensor(np.concatenate(blocks, axis=0))


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array, dtype=np.float32, copy=True))
