"""The bundled sample resources/samples/minilm-l6-gettysburg.h5 (made by scripts/make-minilm-sample.sh)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from capture_checks import check_capture_file, softmax_from_capture

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "resources" / "samples" / "minilm-l6-gettysburg.h5"
PROMPT_FILE = REPO / "tools" / "attnscope_capture" / "prompts" / "gettysburg-address-opening.txt"


def test_sample_follows_the_format_and_is_small():
    a = check_capture_file(SAMPLE)
    assert a["model"] == "sentence-transformers/all-MiniLM-L6-v2" and a["model_type"] == "bert"
    assert a["dtype"] == "float16" and a["causal"] == 0
    assert 100 <= a["seq_len"] <= 300
    assert a["prompt"] == PROMPT_FILE.read_text(encoding="utf-8")
    assert SAMPLE.stat().st_size < 3_000_000


def test_sample_references_match_its_float16_qk():
    """The float32 eager references against a float64 softmax of the stored float16 Q/K (fp16 rounding only)."""
    with h5py.File(SAMPLE) as f:
        groups = [(int(g.attrs["layer"]), int(g.attrs["head"]), g["rows"][()], g["probs"][()]) for g in f["reference"].values()]
    assert len(groups) >= 3
    for layer, head, rows, probs in groups:
        recomputed = softmax_from_capture(SAMPLE, layer)[head][rows]
        np.testing.assert_allclose(recomputed, probs, atol=5e-3, rtol=0)
