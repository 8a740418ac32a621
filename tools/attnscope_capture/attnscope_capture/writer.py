"""Writes a Capture (the in-memory result of an export) as an HDF5 file in AttnScope capture format v1
(docs/capture-format.md) with h5py."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import h5py
import numpy as np

from .dtypes import from_storage, to_storage
from .reference import Reference

MAX_PROMPT_BYTES = 64 * 1024
CHUNK_ROWS = 4096
DEFLATE_LEVEL = 4


@dataclass
class LayerData:
    """Q/K/V of one captured layer as float32 numpy arrays."""

    model_layer: int
    q: np.ndarray               # [Hq, T, d]
    k: np.ndarray               # [Hkv, T, d]
    v: np.ndarray               # [Hkv, T, dv]
    sliding_window: int = 0     # capture meaning (docs/capture-format.md), 0 = none


@dataclass
class Capture:
    """Everything one capture file holds."""

    model: str
    model_type: str
    causal: bool
    rope_applied: bool
    softmax_scale: float
    softcap: float
    dtype: str                  # capture dtype: float32 | float16 | bfloat16
    source: str
    created: str
    prompt: str
    token_ids: np.ndarray       # [T]
    token_text: list[str]
    token_special: np.ndarray   # [T] uint8
    layers: list[LayerData]
    references: list[Reference] = field(default_factory=list)
    reference_source: str = ""  # e.g. "transformers 5.17.0 eager attention (float32)"


def truncate_utf8(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` UTF-8 bytes at a character boundary."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def _write_root_attributes(f: h5py.File, cap: Capture) -> None:
    first = cap.layers[0]
    attrs = f.attrs
    attrs["format"] = "attnscope-capture"
    attrs["version"] = np.int64(1)
    attrs["model"] = cap.model
    attrs["model_type"] = cap.model_type
    attrs["causal"] = np.int64(1 if cap.causal else 0)
    attrs["rope_applied"] = np.int64(1 if cap.rope_applied else 0)
    attrs["softmax_scale"] = np.float64(cap.softmax_scale)
    if cap.softcap:
        attrs["softcap"] = np.float64(cap.softcap)
    attrs["num_layers"] = np.int64(len(cap.layers))
    attrs["num_q_heads"] = np.int64(first.q.shape[0])
    attrs["num_kv_heads"] = np.int64(first.k.shape[0])
    attrs["head_dim"] = np.int64(first.q.shape[2])
    attrs["value_dim"] = np.int64(first.v.shape[2])
    attrs["seq_len"] = np.int64(first.q.shape[1])
    attrs["dtype"] = cap.dtype
    attrs["source"] = cap.source
    attrs["created"] = cap.created
    attrs["prompt"] = truncate_utf8(cap.prompt, MAX_PROMPT_BYTES)


def _write_tokens(f: h5py.File, cap: Capture) -> None:
    group = f.create_group("tokens")
    group.create_dataset("ids", data=np.asarray(cap.token_ids, dtype=np.int32))
    group.create_dataset("text", data=cap.token_text, dtype=h5py.string_dtype("utf-8"))
    group.create_dataset("special", data=np.asarray(cap.token_special, dtype=np.uint8))


def _check_finite(values: np.ndarray, stored: np.ndarray, dtype: str, where: str) -> None:
    """Readers reject NaN/Inf; say where the first one is (and whether the storage dtype caused it)."""
    stored_f32 = from_storage(stored, dtype)
    bad = ~np.isfinite(stored_f32)
    if not bad.any():
        return
    head, token, channel = (int(x) for x in np.argwhere(bad)[0])
    original = float(values[head, token, channel])
    cause = f"value {original!r} does not fit {dtype}" if np.isfinite(original) else f"the model produced {original!r}"
    raise ValueError(f"{where}: head {head}, token {token}, channel {channel}: {cause}")


def _write_head_major(group: h5py.Group, name: str, values: np.ndarray, dtype: str) -> None:
    stored = to_storage(values, dtype)
    _check_finite(values, stored, dtype, f"{group.name}/{name}")
    heads, seq_len, dim = stored.shape
    dataset = group.create_dataset(
        name,
        data=stored,
        chunks=(1, min(seq_len, CHUNK_ROWS), dim),
        compression="gzip",
        compression_opts=DEFLATE_LEVEL,
        shuffle=True,
    )
    if dtype == "bfloat16":
        dataset.attrs["encoding"] = "bfloat16"


def _write_layers(f: h5py.File, cap: Capture) -> None:
    layers = f.create_group("layers")
    for index, layer in enumerate(cap.layers):
        group = layers.create_group(str(index))
        group.attrs["model_layer"] = np.int64(layer.model_layer)
        group.attrs["sliding_window"] = np.int64(layer.sliding_window)
        for name, values in (("q", layer.q), ("k", layer.k), ("v", layer.v)):
            _write_head_major(group, name, values, cap.dtype)


def _write_references(f: h5py.File, cap: Capture) -> None:
    if not cap.references:
        return
    root = f.create_group("reference")
    for ref in cap.references:
        group = root.create_group(f"L{ref.layer}_H{ref.head}")
        group.attrs["layer"] = np.int64(ref.layer)
        group.attrs["model_layer"] = np.int64(ref.model_layer)
        group.attrs["head"] = np.int64(ref.head)
        group.attrs["source"] = cap.reference_source or cap.source
        group.create_dataset("rows", data=np.asarray(ref.rows, dtype=np.int32))
        group.create_dataset("probs", data=np.asarray(ref.probs, dtype=np.float32),
                             compression="gzip", compression_opts=DEFLATE_LEVEL, shuffle=True)
        group.create_dataset("lse", data=np.asarray(ref.lse, dtype=np.float32))


def write_capture(path: str, cap: Capture) -> None:
    """Writes `cap` to `path`, replacing it only once the whole file is written."""
    if not cap.layers:
        raise ValueError("a capture needs at least one layer")
    partial = f"{path}.partial"
    try:
        with h5py.File(partial, "w") as f:
            _write_root_attributes(f, cap)
            _write_tokens(f, cap)
            _write_layers(f, cap)
            _write_references(f, cap)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
