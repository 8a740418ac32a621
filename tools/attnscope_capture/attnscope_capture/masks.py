"""Attention mask patterns of capture v1 (causal flag + per-layer sliding window) and how the mask a
framework applied maps onto them."""

from __future__ import annotations

import torch


def allowed_from_mask(attention_mask, t_q: int, t_k: int) -> torch.Tensor | None:
    """Boolean [Tq, Tk] of the positions the framework lets through (batch 0, head 0 of the mask);
    None when there is no mask (everything allowed). Accepts boolean and additive float masks."""
    if attention_mask is None:
        return None
    if not isinstance(attention_mask, torch.Tensor):
        raise ValueError(f"unsupported attention mask type {type(attention_mask).__name__}")
    mask = attention_mask
    while mask.dim() > 2:
        mask = mask[0]
    mask = mask[-t_q:, -t_k:]
    if mask.dtype == torch.bool:
        return mask.clone()
    return mask > torch.finfo(mask.dtype).min / 2


def pattern(seq_len: int, causal: bool, window: int, device=None) -> torch.Tensor:
    """Boolean [T, T] of what capture v1 lets query i see: j <= i when causal, and i - j < window
    (and j - i < window when bidirectional) when window > 0."""
    i = torch.arange(seq_len, device=device)[:, None]
    j = torch.arange(seq_len, device=device)[None, :]
    allowed = torch.ones(seq_len, seq_len, dtype=torch.bool, device=device)
    if causal:
        allowed &= j <= i
    if window > 0:
        allowed &= (i - j) < window
        if not causal:
            allowed &= (j - i) < window
    return allowed


def capture_pattern(
    allowed: torch.Tensor | None, seq_len: int, module_causal: bool, native_window: int
) -> tuple[bool, int]:
    """The capture v1 (causal, sliding_window) that reproduces the applied mask exactly.

    The module's own causal flag is tried first, then the other one (a decoder switched to
    bidirectional attention through config.is_causal keeps module.is_causal). transformers' causal
    window w lets i see j when i - j < w (the capture's meaning); its bidirectional window lets i
    see j when |i - j| <= w, which is capture window w + 1. When the prompt is shorter than the
    window, the model's native window is kept.
    Raises ValueError when no pattern matches the mask.
    """
    device = None if allowed is None else allowed.device
    for causal in (module_causal, not module_causal):
        candidates = []
        if native_window > 0:
            candidates += [native_window, native_window + 1] if causal else [native_window + 1, native_window]
        candidates.append(0)
        for window in candidates:
            expected = pattern(seq_len, causal, window, device=device)
            matches = bool(expected.all()) if allowed is None else torch.equal(expected, allowed)
            if matches:
                return causal, window
    raise ValueError(
        "the attention mask is neither causal nor bidirectional"
        + (f" with sliding window {native_window}" if native_window else "")
        + "; capture v1 cannot represent it"
    )
