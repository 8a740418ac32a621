"""Storage dtypes: float16 as IEEE half, bfloat16 as uint16 bit patterns rounded to nearest even."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from attnscope_capture.cli import main
from attnscope_capture.dtypes import bfloat16_bits_to_float32, float32_to_bfloat16_bits, to_storage
from capture_checks import check_capture_file, load_layer
from conftest import PROMPT


def bits(value: float) -> int:
    return int(np.array([value], dtype=np.float32).view(np.uint32)[0])


def f32(bit_pattern: int) -> np.float32:
    return np.array([bit_pattern], dtype=np.uint32).view(np.float32)[0]


@pytest.mark.parametrize(
    "value_bits, expected",
    [
        (0x3F800000, 0x3F80),  # 1.0 exact
        (0x3F808000, 0x3F80),  # tie, even below: stays
        (0x3F818000, 0x3F82),  # tie, odd below: rounds up to even
        (0x3F808001, 0x3F81),  # just above the tie: up
        (0x3F807FFF, 0x3F80),  # just below the tie: down
        (0xBF818000, 0xBF82),  # negative tie to even
        (0x7F7FFFFF, 0x7F80),  # largest float32 rounds to +Inf
        (0x7F800000, 0x7F80),  # +Inf
        (0xFF800000, 0xFF80),  # -Inf
        (0x00000001, 0x0000),  # smallest subnormal rounds to 0
        (0x80000000, 0x8000),  # -0
    ],
)
def test_bfloat16_round_to_nearest_even(value_bits, expected):
    assert int(float32_to_bfloat16_bits(np.array([f32(value_bits)]))[0]) == expected


def test_bfloat16_nan_stays_nan():
    out = float32_to_bfloat16_bits(np.array([np.nan, -np.nan, f32(0x7F800001)], dtype=np.float32))
    assert np.isnan(bfloat16_bits_to_float32(out)).all()


def test_bfloat16_matches_torch_rounding():
    import torch

    values = np.random.default_rng(0).standard_normal(10000).astype(np.float32) * 100
    expected = torch.from_numpy(values).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(float32_to_bfloat16_bits(values), expected)


def test_float16_storage_is_numpy_half():
    stored = to_storage(np.array([1.0, 0.1, 65504.0], dtype=np.float32), "float16")
    assert stored.dtype == np.float16 and stored[1] == np.float16(0.1)


@pytest.fixture(scope="module")
def half_captures(tmp_path_factory, minilm_dir):
    out = tmp_path_factory.mktemp("dtypes")
    paths = {}
    for dtype in ("fp16", "bf16"):
        paths[dtype] = out / f"minilm-{dtype}.h5"
        assert main(["--model", minilm_dir, "--prompt", PROMPT, "--out", str(paths[dtype]), "--dtype", dtype,
                     "--device", "cpu"]) == 0
    return paths


def test_fp16_capture(half_captures, minilm_capture):
    path = half_captures["fp16"]
    a = check_capture_file(path)
    assert a["dtype"] == "float16"
    with h5py.File(path) as f:
        assert f["layers/0/q"].dtype == np.dtype("<f2")
        assert "encoding" not in f["layers/0/q"].attrs
    for layer in (0, 5):
        for half, full in zip(load_layer(path, layer), load_layer(minilm_capture, layer)):
            np.testing.assert_array_equal(half, full.astype(np.float16).astype(np.float32))


def test_bf16_capture(half_captures, minilm_capture):
    path = half_captures["bf16"]
    a = check_capture_file(path)
    assert a["dtype"] == "bfloat16"
    with h5py.File(path) as f:
        q = f["layers/2/q"]
        assert q.dtype == np.dtype("<u2") and q.attrs["encoding"] == "bfloat16"
        stored_q = q[()]
        with h5py.File(minilm_capture) as full:
            np.testing.assert_array_equal(stored_q, float32_to_bfloat16_bits(full["layers/2/q"][()]))
    for half, full in zip(load_layer(path, 2), load_layer(minilm_capture, 2)):
        np.testing.assert_allclose(half, full, rtol=2.0 ** -8, atol=0)
