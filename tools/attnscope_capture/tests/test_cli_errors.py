"""Error messages of the command line: bad arguments exit 2, unloadable models and impossible
captures exit 1, each with one line naming the argument and what was wrong; no file is left behind."""

from __future__ import annotations

import pytest

from attnscope_capture.cli import main
from conftest import run_cli


def run(capsys, argv):
    """(exit status, stderr) of the CLI run in this process."""
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse
        code = exit_.code
    return code, capsys.readouterr().err


@pytest.fixture
def out(tmp_path):
    return str(tmp_path / "out.h5")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--layers", "1-a"], "--layers: '1-a' is not a layer index or range"),
        (["--layers", "3-1"], "--layers: range '3-1' runs backwards"),
        (["--layers", ""], "--layers: '' is not a layer index"),
        (["--reference-heads", "1-2"], "--reference-heads: '1-2' is not LAYER:HEAD"),
        (["--max-tokens", "0"], "--max-tokens must be at least 1"),
        (["--reference-rows", "1"], "--reference-rows must be at least 2"),
    ],
)
def test_bad_values_exit_2(capsys, out, extra, message):
    code, err = run(capsys, ["--model", "minilm", "--prompt", "hello", "--out", out, *extra])
    assert code == 2
    assert message in err


def test_missing_prompt(capsys, out):
    code, err = run(capsys, ["--model", "minilm", "--out", out])
    assert code == 2 and "one of the arguments --prompt --prompt-file is required" in err


def test_prompt_and_prompt_file_together(capsys, out, tmp_path):
    code, err = run(capsys, ["--model", "minilm", "--prompt", "a", "--prompt-file", "f", "--out", out])
    assert code == 2 and "not allowed with argument" in err


def test_missing_out(capsys):
    code, err = run(capsys, ["--model", "minilm", "--prompt", "a"])
    assert code == 2 and "--out" in err


def test_unknown_dtype(capsys, out):
    code, err = run(capsys, ["--model", "minilm", "--prompt", "a", "--out", out, "--dtype", "fp8"])
    assert code == 2 and "invalid choice: 'fp8'" in err


def test_empty_prompt(capsys, out):
    code, err = run(capsys, ["--model", "minilm", "--prompt", "  \n", "--out", out])
    assert code == 2 and "the prompt is empty" in err


def test_unreadable_prompt_file(capsys, out, tmp_path):
    code, err = run(capsys, ["--model", "minilm", "--prompt-file", str(tmp_path / "nope.txt"), "--out", out])
    assert code == 2 and "--prompt-file: cannot read" in err and "nope.txt" in err


def test_out_directory_missing(capsys, tmp_path):
    code, err = run(capsys, ["--model", "minilm", "--prompt", "a", "--out", str(tmp_path / "no" / "x.h5")])
    assert code == 2 and "--out: directory" in err and "does not exist" in err


def test_model_directory_missing(capsys, out, tmp_path):
    code, err = run(capsys, ["--model", str(tmp_path / "no-model"), "--prompt", "a", "--out", out, "--device", "cpu"])
    assert code == 1 and "--model: " in err and "no-model is not a model directory" in err


def test_hub_name_not_available_offline(capsys, out):
    code, err = run(capsys, ["--model", "nobody/no-such-model", "--prompt", "a", "--out", out, "--device", "cpu"])
    assert code == 1 and "cannot load the tokenizer of 'nobody/no-such-model'" in err


def test_layer_out_of_range(capsys, out, minilm_dir, tmp_path):
    code, err = run(capsys, ["--model", minilm_dir, "--prompt", "a", "--out", out, "--layers", "0,9", "--device", "cpu"])
    assert code == 1 and "layers [9] do not exist; the model has layers 0..5" in err
    assert list(tmp_path.iterdir()) == []


def test_reference_head_out_of_range(capsys, out, minilm_dir):
    code, err = run(capsys, ["--model", minilm_dir, "--prompt", "a", "--out", out, "--reference-heads", "0:12",
                             "--device", "cpu"])
    assert code == 1 and "reference head 0:12: head 12 is out of range 0..11" in err


def test_reference_layer_not_captured(capsys, out, minilm_dir):
    code, err = run(capsys, ["--model", minilm_dir, "--prompt", "a", "--out", out, "--layers", "0-2",
                             "--reference-heads", "4:0", "--device", "cpu"])
    assert code == 1 and "reference head 4:0: layer 4 is not captured" in err


def test_prompt_longer_than_position_table(capsys, out, minilm_dir):
    code, err = run(capsys, ["--model", minilm_dir, "--prompt", "word " * 600, "--out", out, "--device", "cpu"])
    assert code == 1 and "the model takes at most 512; use --max-tokens 512" in err


def test_cuda_requested_without_cuda(capsys, out):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, err = run(capsys, ["--model", "minilm", "--prompt", "a", "--out", out, "--device", "cuda"])
    assert code == 2 and "--device cuda: no CUDA device" in err


def test_module_entry_point_reports_errors(tmp_path):
    result = run_cli("--model", "minilm", "--prompt", "a", "--out", str(tmp_path / "x.h5"), "--layers", "x")
    assert result.returncode == 2
    assert "attnscope_capture: error: --layers: 'x' is not a layer index or range" in result.stderr
    assert "Traceback" not in result.stderr
