"""Golden values for /reference: the framework's eager attention probabilities of a few heads and
sampled query rows, plus their log-sum-exp computed in float64 from the same logits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .hook import AttentionCall


@dataclass
class Reference:
    """One /reference/L<layer>_H<head> group."""

    layer: int          # capture layer index (group under /layers)
    model_layer: int    # the model's layer index
    head: int           # query head
    rows: np.ndarray    # [R] int32, sorted unique
    probs: np.ndarray   # [R, T] float32
    lse: np.ndarray     # [R] float32


def auto_heads(layers: list[int], num_heads: int, count: int = 4) -> list[tuple[int, int]]:
    """Up to `count` (layer, head) pairs spread from (first layer, first head) to (last layer, last head)."""
    pairs = []
    steps = max(count - 1, 1)
    for i in range(count):
        layer = layers[round(i * (len(layers) - 1) / steps)]
        head = round(i * (num_heads - 1) / steps)
        if (layer, head) not in pairs:
            pairs.append((layer, head))
    return pairs


def logits_float64(call: AttentionCall, head: int) -> torch.Tensor:
    """The logits the framework's eager attention uses for the reference rows of query head `head`,
    in float64: (q . k) * scale, soft-capped, masked positions at -inf."""
    group = call.query.shape[0] // call.key.shape[0]
    rows = torch.as_tensor(call.ref_rows, dtype=torch.long)
    q = call.query[head].index_select(0, rows).double()
    k = call.key[head // group].double()
    logits = (q @ k.T) * call.scaling
    if call.softcap:
        logits = torch.tanh(logits / call.softcap) * call.softcap
    if call.ref_allowed is not None:
        logits = logits.masked_fill(~call.ref_allowed, float("-inf"))
    return logits


def make_reference(call: AttentionCall, capture_layer: int, head: int) -> Reference:
    """The reference of one head from a recorded call that kept its eager probabilities."""
    if head not in call.ref_probs:
        raise RuntimeError(f"layer {call.index}: the eager probabilities of head {head} were not recorded")
    lse = torch.logsumexp(logits_float64(call, head), dim=-1)
    return Reference(
        layer=capture_layer,
        model_layer=call.index,
        head=head,
        rows=np.asarray(call.ref_rows, dtype=np.int32),
        probs=np.ascontiguousarray(call.ref_probs[head].numpy(), dtype=np.float32),
        lse=lse.float().numpy(),
    )
