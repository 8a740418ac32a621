#!/usr/bin/env python3
"""Cuts the two capture prompts out of the held-out source (Ambrose Bierce, The Devil's Dictionary,
1911, public domain; Debian package dict-devil), which is in neither the training split nor the
tokenizer's training text.

  prompt_2048.txt  running text from the entry MAD, cut so that <bos> + its tokens = 2048 tokens
  prompt_512.txt   a 255-token passage starting at the entry CYNIC, given twice with a newline in
                   between: <bos> + 255 + 1 + 255 = 512 tokens (the repeat makes induction heads show)
Each cut falls on a pre-token boundary, so re-tokenizing the file gives exactly these tokens.
"""
import argparse
import os

from tokenizers import Tokenizer


def cut(tok, text, n):
    """The longest prefix of text whose tokens are exactly n tokens (re-tokenization-stable)."""
    ids = tok.encode(text, add_special_tokens=False).ids
    for k in range(n, n - 40, -1):
        prefix = tok.decode(ids[:k])
        if prefix != prefix.rstrip():
            continue
        if tok.encode(prefix, add_special_tokens=False).ids == ids[:k] and k == n:
            return prefix
    raise SystemExit(f"no clean cut of exactly {n} tokens; choose another start entry")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(here, "data"))
    ap.add_argument("--out", default=os.path.join(here, "prompts"))
    ap.add_argument("--long-start", default="MAD, adj.")
    ap.add_argument("--short-start", default="CYNIC, n.")
    a = ap.parse_args()
    tok = Tokenizer.from_file(os.path.join(a.data, "tokenizer", "tokenizer.json"))
    devil = open(os.path.join(a.data, "corpus", "heldout_devil.txt"), encoding="utf-8").read()
    os.makedirs(a.out, exist_ok=True)

    long_text = cut(tok, devil[devil.index(a.long_start):], 2047)
    passage = cut(tok, devil[devil.index(a.short_start):], 255)
    short_text = passage + "\n" + passage
    for name, text, want in (("prompt_2048.txt", long_text, 2048), ("prompt_512.txt", short_text, 512)):
        n = len(tok.encode(text).ids)  # with the <bos> the post-processor adds
        assert n == want, (name, n, want)
        with open(os.path.join(a.out, name), "w", encoding="utf-8") as f:
            f.write(text)
        print(f"{name}: {n} tokens with <bos>, {len(text)} characters")


if __name__ == "__main__":
    main()
