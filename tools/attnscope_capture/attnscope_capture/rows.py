"""Choice of the query rows that /reference keeps."""

from __future__ import annotations

import numpy as np


def sample_rows(seq_len: int, count: int) -> np.ndarray:
    """`count` query rows (int32) spread evenly over [0, seq_len), sorted and unique, always with the
    first and the last row; all rows when count >= seq_len."""
    if count >= seq_len:
        return np.arange(seq_len, dtype=np.int32)
    if count < 2:
        raise ValueError(f"need at least 2 reference rows (first and last), got {count}")
    rows = np.rint(np.linspace(0, seq_len - 1, count)).astype(np.int64)
    return np.unique(rows).astype(np.int32)
