"""Exporter on decoder architectures built from small configs with RANDOMLY INITIALISED weights
(no pretrained decoder is available offline; random weights are enough to check that the captured
Q/K/V are exactly what the attention computed on): a Llama with grouped-query attention and RoPE,
saved to a directory and captured through the command line, and a Gemma 2 with logit soft-capping,
alternating sliding-window layers and a non-default softmax scale, captured through the Python API."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from attnscope_capture.capture import CaptureOptions, capture_model
from attnscope_capture.writer import write_capture
from capture_checks import check_capture_file, load_layer, softmax_from_capture
from conftest import PROMPT, run_cli

LLAMA_HEADS, LLAMA_KV_HEADS, LLAMA_HEAD_DIM, LLAMA_LAYERS = 4, 2, 16, 3


def _sharpen(attention_module, factor: float) -> None:
    """Scales the Q/K projections so random-weight attention is far from uniform (makes RoPE and masks matter)."""
    with torch.no_grad():
        attention_module.q_proj.weight.mul_(factor)
        attention_module.k_proj.weight.mul_(factor)


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory, minilm_dir):
    """A tiny random Llama (GQA 4 query / 2 kv heads) saved with MiniLM's tokenizer."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaModel

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=30522, hidden_size=64, intermediate_size=128, num_hidden_layers=LLAMA_LAYERS,
                         num_attention_heads=LLAMA_HEADS, num_key_value_heads=LLAMA_KV_HEADS,
                         head_dim=LLAMA_HEAD_DIM, max_position_embeddings=512)
    model = LlamaModel(config).eval()
    for layer in model.layers:
        _sharpen(layer.self_attn, 8.0)
    path = tmp_path_factory.mktemp("llama") / "tiny-llama"
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(minilm_dir).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def llama_capture(llama_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("llama-capture") / "llama.h5"
    result = run_cli("--model", str(llama_dir), "--prompt", PROMPT, "--out", str(out), "--reference-rows", "16",
                     "--device", "cpu")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def llama_eager(llama_dir, llama_capture):
    """The saved model run independently with eager attention: (model, ids, attentions)."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(llama_dir, attn_implementation="eager").eval()
    with h5py.File(llama_capture) as f:
        ids = torch.from_numpy(f["tokens/ids"][()].astype(np.int64))[None]
    with torch.no_grad():
        out = model(input_ids=ids, output_attentions=True, use_cache=False)
    return model, ids, [a[0].double().numpy() for a in out.attentions]


def test_llama_keeps_gqa_heads(llama_capture):
    a = check_capture_file(llama_capture)
    assert (a["num_q_heads"], a["num_kv_heads"], a["head_dim"]) == (LLAMA_HEADS, LLAMA_KV_HEADS, LLAMA_HEAD_DIM)
    assert a["model_type"] == "llama" and a["num_layers"] == LLAMA_LAYERS
    q, k, v = load_layer(llama_capture, 0)
    assert q.shape[0] == LLAMA_HEADS and k.shape[0] == LLAMA_KV_HEADS and v.shape[0] == LLAMA_KV_HEADS


def test_llama_flags(llama_capture):
    with h5py.File(llama_capture) as f:
        assert f.attrs["causal"] == 1
        assert f.attrs["rope_applied"] == 1
        assert f.attrs["softmax_scale"] == np.float64(LLAMA_HEAD_DIM ** -0.5)
        assert all(f[f"layers/{i}"].attrs["sliding_window"] == 0 for i in range(LLAMA_LAYERS))


def test_llama_recomputed_softmax_matches_eager(llama_capture, llama_eager):
    """Stored post-RoPE Q/K, KV heads shared by query head h // (Hq / Hkv), causal: == eager output_attentions."""
    _, _, attentions = llama_eager
    for layer, expected in enumerate(attentions):
        np.testing.assert_allclose(softmax_from_capture(llama_capture, layer), expected, atol=1e-5, rtol=0,
                                   err_msg=f"layer {layer}")
    # causal: nothing above the diagonal, and the attention is not uniform (RoPE and scale matter)
    assert np.abs(np.triu(attentions[0], k=1)).max() == 0
    assert attentions[0][:, -1].max() > 2.0 / attentions[0].shape[-1]


def test_llama_keys_are_stored_after_rope(llama_capture, llama_eager):
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    model, ids, _ = llama_eager
    attention = model.layers[0].self_attn
    with torch.no_grad():
        hidden = model.layers[0].input_layernorm(model.embed_tokens(ids))
        t = ids.shape[1]
        shape = (1, t, -1, LLAMA_HEAD_DIM)
        q_pre = attention.q_proj(hidden).view(shape).transpose(1, 2)
        k_pre = attention.k_proj(hidden).view(shape).transpose(1, 2)
        cos, sin = model.rotary_emb(hidden, torch.arange(t)[None])
        q_rot, k_rot = apply_rotary_pos_emb(q_pre, k_pre, cos, sin)
    q, k, _ = load_layer(llama_capture, 0)
    np.testing.assert_allclose(q, q_rot[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(k, k_rot[0].numpy(), atol=1e-5)
    assert np.abs(k[:, 1:] - k_pre[0, :, 1:].numpy()).max() > 1e-2, "RoPE changes keys past position 0"


def test_llama_references_are_causal(llama_capture, llama_eager):
    _, _, attentions = llama_eager
    with h5py.File(llama_capture) as f:
        for group in f["reference"].values():
            rows, probs = group["rows"][()], group["probs"][()]
            layer, head = int(group.attrs["layer"]), int(group.attrs["head"])
            np.testing.assert_allclose(probs, attentions[layer][head][rows], atol=1e-6)
            for r, row in enumerate(rows):
                assert (probs[r, row + 1:] == 0).all()
            assert np.isfinite(group["lse"][()]).all()


@pytest.fixture(scope="module")
def gemma2(tmp_path_factory):
    """A tiny random Gemma 2: softcap 50, query_pre_attn_scalar 64 (scale 1/8), window 4 on even layers."""
    from transformers import Gemma2Config, Gemma2Model

    torch.manual_seed(1)
    config = Gemma2Config(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, head_dim=16, sliding_window=4,
                          attn_logit_softcapping=50.0, query_pre_attn_scalar=64,
                          layer_types=["sliding_attention", "full_attention"])
    model = Gemma2Model(config).eval()
    for layer in model.layers:
        _sharpen(layer.self_attn, 8.0)
    ids = torch.randint(3, 256, (12,))
    capture = capture_model(model, ids, None, CaptureOptions(reference_heads=[(0, 1), (1, 3)], reference_rows=6))
    path = tmp_path_factory.mktemp("gemma2") / "gemma2.h5"
    write_capture(str(path), capture)
    model.set_attn_implementation("eager")
    with torch.no_grad():
        out = model(input_ids=ids[None], output_attentions=True, use_cache=False)
    return path, [a[0].double().numpy() for a in out.attentions]


def test_gemma2_softcap_window_and_scale(gemma2):
    path, attentions = gemma2
    a = check_capture_file(path)
    assert a["model_type"] == "gemma2" and a["causal"] == 1 and a["rope_applied"] == 1
    assert a["softcap"] == 50.0
    assert a["softmax_scale"] == np.float64(64 ** -0.5)
    with h5py.File(path) as f:
        assert f["layers/0"].attrs["sliding_window"] == 4
        assert f["layers/1"].attrs["sliding_window"] == 0
    for layer, expected in enumerate(attentions):
        np.testing.assert_allclose(softmax_from_capture(path, layer), expected, atol=1e-5, rtol=0)
    assert attentions[0][:, 11, :8].max() == 0, "window 4: query 11 sees keys 8..11 only"


def test_gemma2_reference_lse_includes_softcap_and_window(gemma2):
    path, _ = gemma2
    with h5py.File(path) as f:
        group = f["reference/L0_H1"]
        rows, lse = group["rows"][()], group["lse"][()]
    q, k, _ = load_layer(path, 0)
    logits = 50.0 * np.tanh((q[1][rows].astype(np.float64) @ k[0].astype(np.float64).T) * 0.125 / 50.0)
    i, j = rows[:, None], np.arange(q.shape[1])[None, :]
    logits = np.where((j <= i) & (i - j < 4), logits, -np.inf)
    np.testing.assert_allclose(lse, np.logaddexp.reduce(logits, axis=1), rtol=1e-6)
