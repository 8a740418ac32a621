#!/usr/bin/env python3
"""Builds the demo LM's plain-text corpus from public-domain texts shipped as Debian packages.

Training sources (all public domain, see docs/demo-lm.md):
  sword-text-web       World English Bible with Deuterocanon (SWORD module engWEB2015eb)
  sword-comm-tdavid    C. H. Spurgeon, The Treasury of David (1869-1885)          (TDavid)
  sword-comm-mhcc      Matthew Henry, Concise Commentary on the Whole Bible (1706) (MHCC)
  sword-comm-scofield  C. I. Scofield, Reference Notes, 1917 edition              (Scofield)
  dict-jargon          The Jargon File 4.4.7 (E. S. Raymond et al., public domain)
Held-out prompt source (never used for training or the tokenizer):
  dict-devil           Ambrose Bierce, The Devil's Dictionary (1911)

Needs the Debian packages above plus libsword-utils (mod2imp); install them with
  apt-get install -y libsword-utils sword-text-web sword-comm-tdavid sword-comm-mhcc \
      sword-comm-scofield dict-jargon dict-devil
Writes OUT/train_docs.jsonl-like text files: OUT/<source>.txt (documents separated by a line holding
only "\f"), and OUT/heldout_devil.txt. Deterministic: no randomness here.
"""
import argparse
import gzip
import hashlib
import html
import os
import re
import subprocess
import sys

# (name, module, dedupe paragraphs across the module: commentary blocks come back once per verse)
SWORD = [("web", "engWEB2015eb", False), ("tdavid", "TDavid", True), ("mhcc", "MHCC", True),
         ("scofield", "Scofield", True)]
DOC_SEP = "\n\f\n"

TAG_NOTE = re.compile(r"<note\b[^>]*?(?<!/)>.*?</note>", re.S)
TAG_TITLE = re.compile(r"<title\b[^>]*?(?<!/)>(.*?)</title>", re.S)
TAG_BREAK = re.compile(r"<(?:lb|l|p|lg|item|row|div)\b[^>]*>|</(?:l|p|lg|item|row)>")
TAG_ANY = re.compile(r"<[^>]*>")
SPACES = re.compile(r"[ \t\u00a0]+")
NEWLINES = re.compile(r"\s*\n\s*")


def clean_osis(s: str) -> str:
    s = TAG_NOTE.sub("", s)  # footnotes / cross references
    s = TAG_TITLE.sub(lambda m: "\n" + m.group(1) + "\n", s)
    s = TAG_BREAK.sub("\n", s)
    s = TAG_ANY.sub("", s)
    s = html.unescape(s)
    s = SPACES.sub(" ", s)
    s = NEWLINES.sub("\n", s)
    return s.strip()


def book_of(key: str) -> str:
    # "1 Kings 3:4" -> "1 Kings"; "Psalms 0:0" -> "Psalms"
    return key.rsplit(" ", 1)[0] if re.search(r" \d+:\d+$", key) else key


def sword_docs(module: str, line_dedup: bool):
    """Yields (doc_name, text): one document per book (Bible) or per chapter (commentaries)."""
    out = subprocess.run(["mod2imp", module], check=True, capture_output=True).stdout.decode("utf-8", "replace")
    seen = set()  # paragraphs already emitted: commentary blocks are returned once per verse they cover
    cur_name, cur_parts = None, []
    for rec in out.split("$$$")[1:]:
        key, _, body = rec.partition("\n")
        key = key.strip()
        if key.startswith("[") or "Error reading" in body:
            continue
        text = clean_osis(body)
        rh = hashlib.sha1(text.encode()).digest()
        if rh in seen:
            continue
        seen.add(rh)
        pending, kept, n_long = [], [], 0
        for line in text.split("\n"):
            if not line_dedup:
                kept.append(line)
                continue
            if len(line) < 60:  # headings such as "Verses 1-5": kept only in front of new text
                pending.append(line)
                continue
            n_long += 1
            h = hashlib.sha1(line.encode()).digest()
            if h in seen:
                pending = []
                continue
            seen.add(h)
            kept.extend(pending)
            kept.append(line)
            pending = []
        if kept or n_long == 0:  # trailing short lines (poetry) belong to new text
            kept.extend(pending)
        if not kept:
            continue
        m = re.match(r"(.*) (\d+):\d+$", key)
        name = f"{m.group(1)} {m.group(2)}" if (m and module != "engWEB2015eb") else book_of(key)
        if name != cur_name and cur_parts:
            yield cur_name, "\n".join(cur_parts)
            cur_parts = []
        cur_name = name
        cur_parts.append("\n".join(kept))
    if cur_parts:
        yield cur_name, "\n".join(cur_parts)


def dict_entries(path: str):
    """The entries of a dictd database (headword line, then indented body), cleaned up."""
    raw = gzip.open(path, "rb").read().decode("utf-8", "replace")
    index = path.replace(".dict.dz", ".index")
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def dec(x):
        n = 0
        for c in x:
            n = n * 64 + b64.index(c)
        return n

    rawb = raw.encode("utf-8")
    spans = []
    for line in open(index, encoding="utf-8", errors="replace"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 3 or parts[0].startswith("00-database") or parts[0].startswith("00database"):
            continue
        spans.append((dec(parts[1]), dec(parts[2])))
    spans = sorted(set(spans))
    for off, ln in spans:
        body = rawb[off:off + ln].decode("utf-8", "replace")
        lines = [l.strip() for l in body.splitlines()]
        text = "\n".join(l for l in lines if l)
        if text:
            yield text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "data", "corpus"))
    ap.add_argument("--dictd", default="/usr/share/dictd")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for name, module, line_dedup in SWORD:
        docs = [t for _, t in sword_docs(module, line_dedup)]
        with open(os.path.join(a.out, f"{name}.txt"), "w", encoding="utf-8") as f:
            f.write(DOC_SEP.join(docs))
        print(f"{name:10s} {module:14s} docs={len(docs):6d} chars={sum(map(len, docs)):10d}", file=sys.stderr)
    # Jargon File: ~2300 short entries; group 20 consecutive entries per document.
    ents = list(dict_entries(os.path.join(a.dictd, "jargon.dict.dz")))
    docs = ["\n\n".join(ents[i:i + 20]) for i in range(0, len(ents), 20)]
    with open(os.path.join(a.out, "jargon.txt"), "w", encoding="utf-8") as f:
        f.write(DOC_SEP.join(docs))
    print(f"{'jargon':10s} {'dict-jargon':14s} docs={len(docs):6d} chars={sum(map(len, docs)):10d}", file=sys.stderr)
    ents = list(dict_entries(os.path.join(a.dictd, "devil.dict.dz")))
    with open(os.path.join(a.out, "heldout_devil.txt"), "w", encoding="utf-8") as f:
        f.write("\n\n".join(ents))
    print(f"{'devil':10s} {'dict-devil':14s} entries={len(ents):6d} chars={sum(map(len, ents)):10d} (held out)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
