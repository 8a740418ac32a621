"""The export itself: run a transformers model once on token ids with the recording attention hook,
check that what it saw fits capture v1, and build the Capture that writer.write_capture stores."""

from __future__ import annotations

import datetime
import inspect
import sys
from dataclasses import dataclass

import numpy as np
import torch
import transformers

from . import __version__
from .hook import AttentionCall, Recorder, recording
from .reference import auto_heads, make_reference
from .tokens import special_flags, token_texts
from .writer import Capture, LayerData


class CaptureError(RuntimeError):
    """The model's attention cannot be captured as asked."""


@dataclass
class CaptureOptions:
    dtype: str = "float32"                                  # capture dtype: float32 | float16 | bfloat16
    layers: list[int] | None = None                         # model layer indices; None = all
    reference_heads: list[tuple[int, int]] | None = None    # (model layer, query head); None = auto
    reference_rows: int = 64
    model_name: str = ""                                    # recorded as `model`; default config name
    prompt: str = ""


def _text_config(model):
    config = model.config
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def _planned_layers(model, options: CaptureOptions) -> list[int] | None:
    if options.layers is not None:
        return sorted(set(options.layers))
    count = getattr(_text_config(model), "num_hidden_layers", None)
    return list(range(count)) if isinstance(count, int) else None


def _planned_reference_heads(model, options: CaptureOptions, layers: list[int] | None) -> list[tuple[int, int]]:
    if options.reference_heads is not None:
        return list(options.reference_heads)
    num_heads = getattr(_text_config(model), "num_attention_heads", None)
    if not layers or not isinstance(num_heads, int):
        raise CaptureError("the model config does not say its layer and head counts; give --reference-heads")
    return auto_heads(layers, num_heads)


def _validate_early(model, layers: list[int] | None, pairs: list[tuple[int, int]]) -> None:
    """Rejects out-of-range layers and heads before running the model, where the config says the counts."""
    config = _text_config(model)
    num_layers = getattr(config, "num_hidden_layers", None)
    num_heads = getattr(config, "num_attention_heads", None)
    if isinstance(num_layers, int) and layers:
        bad = [layer for layer in layers if not 0 <= layer < num_layers]
        if bad:
            raise CaptureError(f"layers {bad} do not exist; the model has layers 0..{num_layers - 1}")
    if layers is not None:
        _check_reference_heads(pairs, layers, num_heads if isinstance(num_heads, int) else 1 << 30)


def _forward_kwargs(model) -> dict:
    parameters = inspect.signature(model.forward).parameters
    return {"use_cache": False} if "use_cache" in parameters else {}


def _run(model, input_ids: torch.Tensor, recorder: Recorder) -> None:
    device = next(model.parameters()).device
    with recording(model, recorder), torch.no_grad():
        model(input_ids=input_ids.to(device), **_forward_kwargs(model))


def _uses_rope(model) -> bool:
    """Whether the model rotates Q/K (a rotary-embedding module, or rotary position embeddings in its config)."""
    if any("rotary" in type(module).__name__.lower() for module in model.modules()):
        return True
    return getattr(_text_config(model), "position_embedding_type", "") == "rotary"


def _same(values: list, what: str, calls: list[AttentionCall], close=False) -> None:
    first = values[0]
    for value, call in zip(values, calls):
        equal = np.isclose(value, first, rtol=1e-12, atol=0) if close else value == first
        if not equal:
            raise CaptureError(
                f"layer {call.index} has {what} {value} but layer {calls[0].index} has {first}; "
                "capture v1 holds one value per file (capture those layers separately with --layers)"
            )


def _check_consistent(calls: list[AttentionCall]) -> None:
    _same([c.query.shape[0] for c in calls], "query heads", calls)
    _same([c.key.shape[0] for c in calls], "key/value heads", calls)
    _same([c.query.shape[2] for c in calls], "head dim", calls)
    _same([c.value.shape[2] for c in calls], "value dim", calls)
    _same([c.scaling for c in calls], "softmax scale", calls, close=True)
    _same([c.softcap for c in calls], "softcap", calls, close=True)
    _same([c.causal for c in calls], "causal", calls)
    hq, hkv = calls[0].query.shape[0], calls[0].key.shape[0]
    if hq % hkv:
        raise CaptureError(f"{hq} query heads are not a multiple of {hkv} key/value heads")


def _selected_calls(recorder: Recorder, layers: list[int] | None) -> list[AttentionCall]:
    if not recorder.calls:
        raise CaptureError("the model made no attention call through transformers' AttentionInterface")
    available = sorted(recorder.calls)
    wanted = available if layers is None else layers
    missing = [layer for layer in wanted if layer not in recorder.calls]
    if missing:
        raise CaptureError(f"layers {missing} do not exist; the model has layers {available[0]}..{available[-1]}")
    return [recorder.calls[layer] for layer in wanted]


def _check_reference_heads(pairs: list[tuple[int, int]], layers: list[int], num_heads: int) -> None:
    for layer, head in pairs:
        if layer not in layers:
            raise CaptureError(f"reference head {layer}:{head}: layer {layer} is not captured (layers {layers})")
        if not 0 <= head < num_heads:
            raise CaptureError(f"reference head {layer}:{head}: head {head} is out of range 0..{num_heads - 1}")


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def capture_model(model, input_ids, tokenizer=None, options: CaptureOptions | None = None) -> Capture:
    """Runs `model` on `input_ids` (1-D sequence of token ids, batch 1, no padding) and returns the Capture.

    `tokenizer` (optional) gives the token texts and special flags.
    """
    options = options or CaptureOptions()
    ids = torch.as_tensor(input_ids, dtype=torch.long).reshape(1, -1)
    if ids.shape[1] == 0:
        raise CaptureError("the prompt has no tokens")
    planned_layers = _planned_layers(model, options)
    pairs = _planned_reference_heads(model, options, planned_layers)
    _validate_early(model, planned_layers, pairs)
    recorder = Recorder(reference_rows=options.reference_rows)
    for layer, head in pairs:
        recorder.reference_heads.setdefault(layer, []).append(head)

    model.eval()
    _run(model, ids, recorder)

    for message in sorted(set(recorder.warnings)):
        print(f"attnscope_capture: warning: {message}", file=sys.stderr)
    calls = _selected_calls(recorder, planned_layers)
    _check_consistent(calls)
    layers = [call.index for call in calls]
    _check_reference_heads(pairs, layers, calls[0].query.shape[0])
    capture_index = {layer: i for i, layer in enumerate(layers)}
    references = [make_reference(recorder.calls[layer], capture_index[layer], head) for layer, head in pairs]

    token_ids = ids[0].tolist()
    config = model.config
    return Capture(
        model=options.model_name or getattr(config, "_name_or_path", "") or type(model).__name__,
        model_type=getattr(config, "model_type", "") or "unknown",
        causal=calls[0].causal,
        rope_applied=_uses_rope(model),
        softmax_scale=calls[0].scaling,
        softcap=calls[0].softcap,
        dtype=options.dtype,
        source=f"attnscope_capture {__version__}",
        created=_utc_now(),
        prompt=options.prompt,
        token_ids=np.asarray(token_ids, dtype=np.int32),
        token_text=token_texts(tokenizer, token_ids),
        token_special=special_flags(tokenizer, token_ids),
        layers=[
            LayerData(model_layer=c.index, q=c.query.numpy(), k=c.key.numpy(), v=c.value.numpy(), sliding_window=c.window)
            for c in calls
        ],
        references=references,
        reference_source=_reference_source(recorder, pairs),
    )


def _reference_source(recorder: Recorder, pairs: list[tuple[int, int]]) -> str:
    dtypes = sorted({recorder.calls[layer].weights_dtype for layer, _ in pairs if layer in recorder.calls})
    suffix = f" ({', '.join(dtypes)} weights)" if dtypes else ""
    return f"transformers {transformers.__version__} eager attention{suffix}"
