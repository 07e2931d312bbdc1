"""Save and load nested values (tuples, lists, dicts, arrays, Python scalars) without pickle.

Used for the expected values frozen into the student edition and for passing
case inputs and learner outputs between the grader and its sandboxed process,
whose results travel as framed records (:func:`frame`, :func:`unframe`).
Pickle is never used: loading a learner's pickle would run the learner's code.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

_SCALARS = (bool, int, float, str)
RECORD_MAGIC = b"CGR1"
_HEADER = len(RECORD_MAGIC) + 8  # the magic, then the payload's length as 8 bytes, big-endian


def _encode(value, arrays: dict):
    if value is None or (isinstance(value, _SCALARS) and not isinstance(value, np.generic)):
        return {"py": value}
    if isinstance(value, (tuple, list)):
        return {"seq": type(value).__name__, "items": [_encode(v, arrays) for v in value]}
    if isinstance(value, dict):
        return {"dict": {str(k): _encode(v, arrays) for k, v in value.items()}}
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"cannot store a value of type {type(value).__name__} as an array")
    key = f"a{len(arrays)}"
    arrays[key] = array
    return {"array": key}


def _decode(node, arrays):
    if "py" in node:
        return node["py"]
    if "seq" in node:
        items = [_decode(v, arrays) for v in node["items"]]
        return tuple(items) if node["seq"] == "tuple" else items
    if "dict" in node:
        return {k: _decode(v, arrays) for k, v in node["dict"].items()}
    return arrays[node["array"]]


def dumps(value) -> bytes:
    """Serialise ``value`` to bytes (an ``.npz`` archive with a JSON structure entry)."""
    arrays: dict = {}
    structure = _encode(value, arrays)
    buffer = io.BytesIO()
    np.savez(buffer, __structure__=np.array(json.dumps(structure)), **arrays)
    return buffer.getvalue()


def loads(data: bytes):
    """Inverse of :func:`dumps`; refuses pickled objects."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        structure = json.loads(str(archive["__structure__"]))
        arrays = {k: archive[k] for k in archive.files if k != "__structure__"}
    return _decode(structure, arrays)


def save(path, value) -> None:
    Path(path).write_bytes(dumps(value))


def load(path):
    return loads(Path(path).read_bytes())


def frame(payload: bytes) -> bytes:
    """``payload`` as one record of a stream of records (see :func:`unframe`)."""
    return RECORD_MAGIC + len(payload).to_bytes(8, "big") + payload


def unframe(data: bytes, record_limit: int) -> list:
    """The payloads of the records that ``data`` starts with, in order.

    Reading stops at the first record that is not one: no magic, a length over
    ``record_limit``, or cut short.
    """
    payloads, position = [], 0
    while (
        position + _HEADER <= len(data)
        and data[position : position + len(RECORD_MAGIC)] == RECORD_MAGIC
    ):
        size = int.from_bytes(data[position + len(RECORD_MAGIC) : position + _HEADER], "big")
        if size > record_limit or position + _HEADER + size > len(data):
            break
        payloads.append(data[position + _HEADER : position + _HEADER + size])
        position += _HEADER + size
    return payloads
