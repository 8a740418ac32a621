"""Attention-function hook: records what every attention call of a transformers model computes on.

Current transformers (>= 4.48, 5.x) route each attention layer through a function looked up by
name in ``transformers.AttentionInterface`` (``ALL_ATTENTION_FUNCTIONS``); the model calls it as

    attn_output, attn_weights = fn(module, query, key, value, attention_mask,
                                   dropout=..., scaling=..., [sliding_window=..., softcap=...], **kwargs)

with query [B, Hq, T, d] after RoPE and any q/k norm, key/value [B, Hkv, T, d] *not* repeated for
GQA (the eager function repeats them itself). We register one more function under our own name
(``ATTN_IMPLEMENTATION``) and switch the model to it; it runs the model's own eager function
(``eager_attention_forward`` of the model's modeling module), whose returned weights are the
framework's attention probabilities, and then records the call. The mask creation of
``transformers.masking_utils`` looks implementations up by name too, so the same name is registered
there with the eager (additive float) mask.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from transformers import AttentionInterface
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface, eager_mask

from .masks import allowed_from_mask, capture_pattern
from .rows import sample_rows

ATTN_IMPLEMENTATION = "attnscope_capture"


@dataclass
class AttentionCall:
    """One recorded attention call: batch dimension removed, tensors moved to the CPU as float32
    (exact for float16/bfloat16 models)."""

    index: int                      # model layer index (module.layer_idx, else call order)
    query: torch.Tensor             # [Hq, T, d]
    key: torch.Tensor               # [Hkv, T, d]
    value: torch.Tensor             # [Hkv, T, dv]
    scaling: float
    softcap: float                  # 0 = none
    causal: bool                    # as the applied mask shows
    window: int                     # capture v1 sliding window that the applied mask shows, 0 = none
    ref_rows: np.ndarray | None = None             # [R] sampled query rows, when references are wanted
    ref_probs: dict[int, torch.Tensor] = field(default_factory=dict)  # head -> [R, T] eager probabilities
    ref_allowed: torch.Tensor | None = None        # [R, T] mask of those rows, None = all allowed
    weights_dtype: str = ""         # dtype of the eager weights the references come from


@dataclass
class Recorder:
    """Collects AttentionCall objects during one forward pass.

    reference_heads maps a model layer index to the query heads whose eager probabilities are
    kept, for reference_rows sampled rows (see reference.sample_rows).
    """

    reference_heads: dict[int, list[int]] = field(default_factory=dict)
    reference_rows: int = 64
    calls: dict[int, AttentionCall] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    _call_count: int = 0

    def next_index(self, module: torch.nn.Module) -> int:
        layer_idx = getattr(module, "layer_idx", None)
        index = layer_idx if isinstance(layer_idx, int) else self._call_count
        self._call_count += 1
        return index


_active: Recorder | None = None


def _eager_function_for(module: torch.nn.Module) -> Callable:
    """The model's own eager attention function (every modeling_*.py defines eager_attention_forward)."""
    modeling_module = sys.modules.get(type(module).__module__) or inspect.getmodule(module)
    function = getattr(modeling_module, "eager_attention_forward", None)
    if function is None:
        raise RuntimeError(
            f"{type(module).__module__} defines no eager_attention_forward; "
            "attnscope_capture needs the model's eager attention"
        )
    return function


def _module_is_causal(module: torch.nn.Module) -> bool:
    flag = getattr(module, "is_causal", None)
    if flag is None:
        flag = getattr(getattr(module, "config", None), "is_causal", False)
    return bool(flag)


def _cpu_float(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().to(device="cpu", dtype=torch.float32)


def _record(recorder: Recorder, module, query, key, value, attention_mask, scaling, weights, kwargs) -> None:
    if query.shape[0] != 1:
        raise RuntimeError("attnscope_capture records batch size 1 only")
    name = type(module).__name__
    seq_len = query.shape[-2]
    if key.shape[-2] != seq_len:
        recorder.warnings.append(f"{name}: cross-attention (Tq != Tk) is not captured")
        return
    if kwargs.get("s_aux") is not None or kwargs.get("sinks") is not None:
        raise RuntimeError(f"{name}: attention sinks are not representable in capture v1")
    if scaling is None:
        scaling = getattr(module, "scaling", None) or query.shape[-1] ** -0.5
    index = recorder.next_index(module)
    if index in recorder.calls:
        raise RuntimeError(f"{name}: layer {index} called its attention twice in one forward pass")
    allowed = allowed_from_mask(attention_mask, seq_len, seq_len)
    try:
        causal, window = capture_pattern(allowed, seq_len, _module_is_causal(module), int(kwargs.get("sliding_window") or 0))
    except ValueError as error:
        raise RuntimeError(f"layer {index} ({name}): {error}") from None
    call = AttentionCall(
        index=index,
        query=_cpu_float(query[0]),
        key=_cpu_float(key[0]),
        value=_cpu_float(value[0]),
        scaling=float(scaling),
        softcap=float(kwargs.get("softcap") or 0.0),
        causal=causal,
        window=window,
    )
    heads = recorder.reference_heads.get(index)
    if heads:
        if weights is None:
            raise RuntimeError(f"layer {index} ({name}): the eager attention returned no weights")
        rows = sample_rows(seq_len, recorder.reference_rows)
        row_index = torch.as_tensor(rows, dtype=torch.long, device=weights.device)
        call.ref_rows = rows
        call.weights_dtype = str(weights.dtype).removeprefix("torch.")
        for head in heads:
            call.ref_probs[head] = _cpu_float(weights[0, head].index_select(0, row_index))
        if allowed is not None:
            call.ref_allowed = allowed.index_select(0, row_index).cpu()
    recorder.calls[index] = call


def capture_attention_forward(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """The registered attention function: run the model's eager attention, then record the call."""
    eager = _eager_function_for(module)
    output, weights = eager(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs)
    if _active is not None:
        _record(_active, module, query, key, value, attention_mask, scaling, weights, kwargs)
    return output, weights


def register() -> None:
    """Registers the hook and its mask function under ATTN_IMPLEMENTATION (idempotent)."""
    AttentionInterface.register(ATTN_IMPLEMENTATION, capture_attention_forward)
    if ATTN_IMPLEMENTATION not in ALL_MASK_ATTENTION_FUNCTIONS._global_mapping:
        AttentionMaskInterface.register(ATTN_IMPLEMENTATION, eager_mask)


@contextlib.contextmanager
def recording(model: torch.nn.Module, recorder: Recorder):
    """Switches `model` to the capture attention for the duration of the block, recording into `recorder`."""
    global _active
    register()
    previous = model.config._attn_implementation
    if not model._can_set_attn_implementation():
        raise RuntimeError(
            f"{type(model).__name__} does not route attention through transformers' AttentionInterface; "
            "it cannot be captured"
        )
    model.set_attn_implementation(ATTN_IMPLEMENTATION)
    _active = recorder
    try:
        yield recorder
    finally:
        _active = None
        model.set_attn_implementation(previous)
