"""Storage element types of capture v1: float32, float16 (IEEE half) and bfloat16 (uint16 bit pattern)."""

from __future__ import annotations

import numpy as np

# CLI spelling -> capture `dtype` attribute value
STORAGE_DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def float32_to_bfloat16_bits(values: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) of float32 values, rounded to nearest, ties to even.

    NaN stays NaN (quiet, sign kept); values that round past the largest bfloat16 become +-Inf,
    as IEEE rounding does.
    """
    f32 = np.ascontiguousarray(values, dtype=np.float32)
    bits = f32.view(np.uint32).astype(np.uint64)
    lsb = (bits >> 16) & 1
    rounded = ((bits + 0x7FFF + lsb) >> 16).astype(np.uint16)
    nan = np.isnan(f32)
    if nan.any():
        sign = ((bits >> 16) & 0x8000).astype(np.uint16)
        rounded[nan] = sign[nan] | np.uint16(0x7FC0)
    return rounded


def bfloat16_bits_to_float32(bits: np.ndarray) -> np.ndarray:
    """float32 values of bfloat16 bit patterns (exact)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def to_storage(values_f32: np.ndarray, dtype: str) -> np.ndarray:
    """Converts float32 values to the array written for capture dtype `dtype`."""
    if dtype == "float32":
        return np.ascontiguousarray(values_f32, dtype=np.float32)
    if dtype == "float16":
        with np.errstate(over="ignore"):
            return np.ascontiguousarray(values_f32, dtype=np.float32).astype(np.float16)
    if dtype == "bfloat16":
        return float32_to_bfloat16_bits(values_f32)
    raise ValueError(f"unknown capture dtype {dtype!r} (expected one of {sorted(STORAGE_DTYPES.values())})")


def from_storage(stored: np.ndarray, dtype: str) -> np.ndarray:
    """float32 values of an array as stored for capture dtype `dtype` (the inverse of to_storage)."""
    if dtype == "bfloat16":
        return bfloat16_bits_to_float32(stored)
    return np.asarray(stored, dtype=np.float32)
