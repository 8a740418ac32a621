"""AttnScope capture exporter: runs a Hugging Face transformers model on a prompt and writes the
per-layer Q/K/V its attention saw as an AttnScope capture file (docs/capture-format.md, v1)."""

__version__ = "0.1.0"
