"""Find tensors an ONNX model keeps in external files, without the `onnx` package (reading needs ORT only).

A model loaded from bytes has no folder of its own, so ONNX Runtime looks external data up relative to the
current directory: a model file could make the reader open any file there. digitreader's models are
self-contained (`digits export` writes every weight inside), so a model with external data is refused.

The scan walks the protobuf wire format along the fields that can hold tensors (ONNX's field numbers):
graphs (initializers, sparse initializers, node attributes, subgraphs) and model-local functions.
"""

from __future__ import annotations

# message -> {field number: message it holds}; every other field is skipped.
_SCHEMA: dict[str, dict[int, str]] = {
    "model": {7: "graph", 25: "function"},
    "function": {7: "node"},
    "graph": {1: "node", 5: "tensor", 15: "sparse"},
    "node": {5: "attribute"},
    "attribute": {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse"},
    "sparse": {1: "tensor", 2: "tensor"},
    "tensor": {},
}
_TENSOR_NAME, _EXTERNAL_DATA, _DATA_LOCATION, _EXTERNAL = 8, 13, 14, 1
_MAX_DEPTH = 64  # subgraphs nest; a model nested deeper than this is not one of ours


class _Malformed(Exception):
    pass


def _varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise _Malformed
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def external_tensors(model: bytes) -> list[str]:
    """Names of the tensors `model` (ONNX bytes) stores outside itself ("?" where unnamed); [] for bytes
    that are not a well-formed model (ONNX Runtime refuses those itself)."""
    found: list[str] = []
    try:
        _walk(memoryview(model), "model", 0, found)
    except _Malformed:
        return found
    return found


def _walk(data: memoryview, kind: str, depth: int, found: list[str]) -> None:
    if depth > _MAX_DEPTH:
        raise _Malformed
    fields = _SCHEMA[kind]
    pos, name, external = 0, "?", False
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            if kind == "tensor" and number == _DATA_LOCATION and value == _EXTERNAL:
                external = True
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise _Malformed
            body = data[pos : pos + length]
            pos += length
            if kind == "tensor" and number == _TENSOR_NAME:
                name = bytes(body).decode("utf-8", "replace")
            elif kind == "tensor" and number == _EXTERNAL_DATA:
                external = True
            elif number in fields:
                _walk(body, fields[number], depth + 1, found)
        else:
            raise _Malformed
    if external:
        found.append(name)
