"""Test helpers: a strict checker of capture format v1 (docs/capture-format.md, item by item), a
loader that decodes any capture dtype to float32, and an independent float64 numpy softmax over
stored Q/K."""

from __future__ import annotations

import datetime

import h5py
import numpy as np

ROOT_STRINGS = ("format", "model", "model_type", "dtype", "source", "created")
ROOT_POSITIVE_INTS = ("num_layers", "num_q_heads", "num_kv_heads", "head_dim", "seq_len")
NUMPY_TYPE = {"float32": np.dtype("<f4"), "float16": np.dtype("<f2"), "bfloat16": np.dtype("<u2")}


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_float(value) -> bool:
    return isinstance(value, (float, np.floating))


def _is_str(value) -> bool:
    return isinstance(value, str)


def check_root(f: h5py.File) -> dict:
    a = f.attrs
    for name in ROOT_STRINGS:
        assert name in a, f"missing root attribute {name}"
        assert _is_str(a[name]), f"root attribute {name} is {type(a[name])}, not a string"
    assert a["format"] == "attnscope-capture"
    assert _is_int(a["version"]) and a["version"] == 1
    for name in ("causal", "rope_applied"):
        assert _is_int(a[name]) and a[name] in (0, 1), name
    assert _is_float(a["softmax_scale"]) and np.isfinite(a["softmax_scale"]) and a["softmax_scale"] > 0
    if "softcap" in a:
        assert _is_float(a["softcap"]) and np.isfinite(a["softcap"]) and a["softcap"] >= 0
    for name in ROOT_POSITIVE_INTS:
        assert _is_int(a[name]) and a[name] > 0, name
    assert a["num_q_heads"] % a["num_kv_heads"] == 0
    if "value_dim" in a:
        assert _is_int(a["value_dim"]) and a["value_dim"] > 0
    assert a["dtype"] in NUMPY_TYPE
    assert a["source"].startswith("attnscope_capture ")
    created = datetime.datetime.fromisoformat(a["created"].replace("Z", "+00:00"))
    assert created.utcoffset() == datetime.timedelta(0), "created must be UTC"
    if "prompt" in a:
        assert _is_str(a["prompt"]) and len(a["prompt"].encode("utf-8")) <= 64 * 1024
    return dict(a)


def check_tokens(f: h5py.File, seq_len: int) -> None:
    ids, text = f["tokens/ids"], f["tokens/text"]
    assert ids.shape == (seq_len,) and ids.dtype in (np.dtype("<i4"), np.dtype("<i8"))
    assert text.shape == (seq_len,)
    string_info = h5py.check_string_dtype(text.dtype)
    assert string_info is not None and string_info.encoding == "utf-8" and string_info.length is None
    if "special" in f["tokens"]:
        special = f["tokens/special"]
        assert special.shape == (seq_len,) and special.dtype == np.uint8
        assert set(np.unique(special[()])) <= {0, 1}


def _check_float16_type(dataset: h5py.Dataset) -> None:
    """IEEE binary16: sign at 15, exponent at 10 (5 bits, bias 15), mantissa at 0 (10 bits), size 2."""
    tid = dataset.id.get_type()
    assert isinstance(tid, h5py.h5t.TypeFloatID)
    assert tid.get_size() == 2
    assert tid.get_fields() == (15, 10, 5, 0, 10)
    assert tid.get_ebias() == 15


def check_dataset(dataset: h5py.Dataset, shape: tuple, dtype: str) -> None:
    assert dataset.shape == shape, f"{dataset.name}: shape {dataset.shape}, expected {shape}"
    assert dataset.dtype == NUMPY_TYPE[dtype], f"{dataset.name}: {dataset.dtype} for {dtype}"
    if dtype == "float16":
        _check_float16_type(dataset)
    if dtype == "bfloat16":
        assert dataset.attrs["encoding"] == "bfloat16"
    else:
        assert "encoding" not in dataset.attrs
    assert dataset.chunks == (1, min(shape[1], 4096), shape[2]), f"{dataset.name}: chunks {dataset.chunks}"
    assert dataset.compression == "gzip" and dataset.shuffle
    values = decode(dataset[()], dtype)
    assert np.isfinite(values).all(), f"{dataset.name} holds NaN or Inf"


def check_layers(f: h5py.File, a: dict) -> None:
    hq, hkv, d, t = a["num_q_heads"], a["num_kv_heads"], a["head_dim"], a["seq_len"]
    dv = a.get("value_dim", d)
    names = sorted(f["layers"].keys(), key=int)
    assert names == [str(i) for i in range(a["num_layers"])], names
    for name in names:
        group = f["layers"][name]
        check_dataset(group["q"], (hq, t, d), a["dtype"])
        check_dataset(group["k"], (hkv, t, d), a["dtype"])
        check_dataset(group["v"], (hkv, t, dv), a["dtype"])
        if "sliding_window" in group.attrs:
            window = group.attrs["sliding_window"]
            assert _is_int(window) and window >= 0


def check_references(f: h5py.File, a: dict) -> None:
    if "reference" not in f:
        return
    t = a["seq_len"]
    for name, group in f["reference"].items():
        layer, head = group.attrs["layer"], group.attrs["head"]
        assert _is_int(layer) and 0 <= layer < a["num_layers"]
        assert _is_int(head) and 0 <= head < a["num_q_heads"]
        assert name == f"L{layer}_H{head}"
        assert _is_str(group.attrs["source"]) and "eager" in group.attrs["source"]
        rows = group["rows"][()]
        assert group["rows"].dtype == np.int32 and rows.ndim == 1
        assert (np.diff(rows) > 0).all() and rows[0] == 0 and rows[-1] == t - 1
        r = rows.shape[0]
        assert group["probs"].shape == (r, t) and group["probs"].dtype == np.float32
        assert group["lse"].shape == (r,) and group["lse"].dtype == np.float32
        # eager weights of a float16/bfloat16 model are rounded to that type (the source says which)
        tolerance = 1e-5 if "float32 weights" in group.attrs["source"] else 1e-2
        np.testing.assert_allclose(group["probs"][()].sum(axis=1), 1.0, atol=tolerance)


def check_capture_file(path) -> dict:
    """Checks every item of capture format v1; returns the root attributes."""
    with open(path, "rb") as raw:
        assert raw.read(8) == b"\x89HDF\r\n\x1a\n", "HDF5 signature"
    with h5py.File(path, "r") as f:
        a = check_root(f)
        check_tokens(f, a["seq_len"])
        check_layers(f, a)
        check_references(f, a)
    return a


def decode(stored: np.ndarray, dtype: str) -> np.ndarray:
    """float32 values of a stored q/k/v array (bfloat16 bit patterns widened exactly)."""
    if dtype == "bfloat16":
        return (stored.astype(np.uint32) << 16).view(np.float32)
    return stored.astype(np.float32)


def load_layer(path, layer: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with h5py.File(path, "r") as f:
        dtype = f.attrs["dtype"]
        group = f["layers"][str(layer)]
        return tuple(decode(group[name][()], dtype) for name in ("q", "k", "v"))


def softmax_from_capture(path, layer: int) -> np.ndarray:
    """[Hq, T, T] float64 attention probabilities recomputed with numpy from the stored Q/K and the
    file's scale, softcap, causal flag and sliding window."""
    with h5py.File(path, "r") as f:
        scale = float(f.attrs["softmax_scale"])
        softcap = float(f.attrs.get("softcap", 0.0))
        causal = bool(f.attrs["causal"])
        window = int(f["layers"][str(layer)].attrs.get("sliding_window", 0))
    q, k, _ = load_layer(path, layer)
    group = q.shape[0] // k.shape[0]
    k = np.repeat(k.astype(np.float64), group, axis=0)          # query head h uses kv head h // group
    logits = np.einsum("htd,hsd->hts", q.astype(np.float64), k) * scale
    if softcap:
        logits = softcap * np.tanh(logits / softcap)
    t = q.shape[1]
    i, j = np.arange(t)[:, None], np.arange(t)[None, :]
    allowed = np.ones((t, t), dtype=bool)
    if causal:
        allowed &= j <= i
    if window:
        allowed &= (i - j) < window
        if not causal:
            allowed &= (j - i) < window
    logits = np.where(allowed, logits, -np.inf)
    logits -= logits.max(axis=-1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=-1, keepdims=True)
