#!/usr/bin/env python3
"""Splits the corpus (prepare_corpus.py) into train / held-out blocks, trains the byte-level BPE
tokenizer on the training split only, and writes token streams for training.

Outputs (in --data, default tools/demo_lm/data/):
  tokenizer/tokenizer.json, tokenizer/tokenizer_config.json   Hugging Face fast tokenizer; encoding
                                                              prepends <bos> (post-processor)
  train.bin, val.bin, devil.bin   uint16 token streams: each document's tokens followed by <eos>
                                  (no <bos>: the trainer puts <bos> at position 0 of every sequence)
  meta.json                       counts per source and split
Deterministic: the split is a CRC32 of (source, block index); BPE training is deterministic.
"""
import argparse
import json
import os
import sys
import zlib

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

SOURCES = ["web", "tdavid", "mhcc", "scofield", "jargon"]
SPECIALS = ["<bos>", "<eos>", "<pad>"]
BLOCK_CHARS = 8000  # held-out unit: consecutive paragraphs of about this many characters
VAL_PERCENT = 2


def blocks(doc: str):
    cur, n = [], 0
    for para in doc.split("\n"):
        cur.append(para)
        n += len(para) + 1
        if n >= BLOCK_CHARS:
            yield "\n".join(cur)
            cur, n = [], 0
    if cur:
        yield "\n".join(cur)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "data"))
    ap.add_argument("--vocab", type=int, default=8192)
    a = ap.parse_args()
    corpus = os.path.join(a.data, "corpus")

    split = {"train": [], "val": []}
    meta = {"sources": {}, "vocab_size": a.vocab, "specials": SPECIALS, "val_percent": VAL_PERCENT,
            "block_chars": BLOCK_CHARS}
    for src in SOURCES:
        text = open(os.path.join(corpus, f"{src}.txt"), encoding="utf-8").read()
        st = {"docs": 0, "train_chars": 0, "val_chars": 0}
        for doc in text.split("\n\f\n"):
            st["docs"] += 1
            for i, b in enumerate(blocks(doc)):
                key = f"{src}:{st['docs']}:{i}".encode()
                which = "val" if zlib.crc32(key) % 100 < VAL_PERCENT else "train"
                split[which].append((src, b))
                st[f"{which}_chars"] += len(b)
        meta["sources"][src] = st
        print(src, st, file=sys.stderr)

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=a.vocab, min_frequency=2, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator((b for _, b in split["train"]), trainer=trainer, length=len(split["train"]))
    bos, eos = tok.token_to_id("<bos>"), tok.token_to_id("<eos>")
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", pair="<bos> $A <bos> $B",
                                                       special_tokens=[("<bos>", bos)])
    tdir = os.path.join(a.data, "tokenizer")
    os.makedirs(tdir, exist_ok=True)
    tok.save(os.path.join(tdir, "tokenizer.json"))
    json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<bos>", "eos_token": "<eos>",
               "pad_token": "<pad>", "model_max_length": 2048, "clean_up_tokenization_spaces": False},
              open(os.path.join(tdir, "tokenizer_config.json"), "w"), indent=1)

    def stream(texts):
        ids = []
        encs = tok.encode_batch(list(texts), add_special_tokens=False)
        for e in encs:
            ids.extend(e.ids)
            ids.append(eos)
        return np.asarray(ids, dtype=np.uint16)

    # Consecutive train blocks of one document stay in order, so a stream is mostly running text.
    for which in ("train", "val"):
        arr = stream(b for _, b in split[which])
        arr.tofile(os.path.join(a.data, f"{which}.bin"))
        meta[f"{which}_tokens"] = int(arr.size)
        meta[f"{which}_chars"] = sum(len(b) for _, b in split[which])
        print(which, arr.size, "tokens", file=sys.stderr)
    devil = open(os.path.join(corpus, "heldout_devil.txt"), encoding="utf-8").read()
    arr = stream(devil.split("\n\n"))
    arr.tofile(os.path.join(a.data, "devil.bin"))
    meta["devil_tokens"] = int(arr.size)
    meta["bos_id"], meta["eos_id"] = bos, eos
    json.dump(meta, open(os.path.join(a.data, "meta.json"), "w"), indent=1)
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
