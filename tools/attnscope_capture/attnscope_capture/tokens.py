"""Per-token text and special-token flags for /tokens."""

from __future__ import annotations

import numpy as np

REPLACEMENT_CHARACTER = "\ufffd"


def token_texts(tokenizer, ids: list[int]) -> list[str]:
    """The decoded text of each token on its own. A byte-level token that is only part of a UTF-8
    character decodes to U+FFFD; such tokens keep the tokenizer's own token string instead."""
    if tokenizer is None:
        return [str(i) for i in ids]
    texts = []
    for token_id in ids:
        text = tokenizer.decode([token_id], skip_special_tokens=False, clean_up_tokenization_spaces=False)
        if REPLACEMENT_CHARACTER in text:
            text = tokenizer.convert_ids_to_tokens(token_id)
        texts.append(text)
    return texts


def special_flags(tokenizer, ids: list[int]) -> np.ndarray:
    """uint8 [T]: 1 where the token is one of the tokenizer's special tokens (BOS, EOS, CLS, SEP, PAD, UNK, ...)."""
    special = set(tokenizer.all_special_ids) if tokenizer is not None else set()
    return np.array([1 if i in special else 0 for i in ids], dtype=np.uint8)
