#!/usr/bin/env python3
"""Attention statistics of a capture (AttnScope capture v1), computed in numpy from the stored Q/K.

For every layer and query head: attention probabilities P = softmax(q k^T * softmax_scale) with the
causal mask (and soft-capping when the capture has it), in float64, then
  sink      mean over queries i >= 1 of P[i, 0]   (row 0 is excluded: it can only attend to token 0)
  prev      mean over queries i >= 1 of P[i, i-1] (locality)
  diag      mean over queries i >= 1 of P[i, i]
  sink64    mean over queries 1 <= i <= 63 of P[i, 0] (causal: what a 64-token prompt would give,
            close to Gu et al.'s T = 64 measurement, though ours keeps the <bos>)
  induction (with --repeat-period R) mean over queries i in the second copy of a prompt whose tokens
            repeat with period R of P[i, i-R+1] (the token after the previous occurrence)
Sink_eps = fraction of heads whose sink score exceeds eps (Gu et al. 2024, "When Attention Sink
Emerges in Language Models", eps = 0.3).

  python sink_stats.py capture.h5 [--eps 0.3] [--repeat-period 256] [--json out.json]
"""
import argparse
import json
import sys

import h5py
import numpy as np


def read(ds):
    a = ds[...]
    if ds.attrs.get("encoding", b"") in (b"bfloat16", "bfloat16"):
        a = (a.astype(np.uint32) << 16).view(np.float32)
    return a.astype(np.float64)


def head_probs(q, k, scale, softcap):
    t = q.shape[0]
    s = (q @ k.T) * scale
    if softcap:
        s = softcap * np.tanh(s / softcap)
    s[np.triu_indices(t, 1)] = -np.inf
    s -= s.max(axis=1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=1, keepdims=True)
    return p


def analyse(path, eps=0.3, repeat_period=0):
    f = h5py.File(path, "r")
    at = f.attrs
    L, hq, hkv, T = int(at["num_layers"]), int(at["num_q_heads"]), int(at["num_kv_heads"]), int(at["seq_len"])
    assert int(at["causal"]) == 1
    scale = float(at["softmax_scale"])
    softcap = float(at.get("softcap", 0.0) or 0.0)
    group = hq // hkv
    rows = np.arange(1, T)
    out = {"file": str(path), "seq_len": T, "layers": L, "q_heads": hq, "kv_heads": hkv, "eps": eps,
           "rows_averaged": "queries i = 1 .. T-1 (row 0 excluded)", "heads": []}
    for l in range(L):
        g = f[f"layers/{l}"]
        qa, ka = read(g["q"]), read(g["k"])
        for h in range(hq):
            p = head_probs(qa[h], ka[h // group], scale, softcap)
            rec = {"layer": l, "head": h,
                   "sink": float(p[rows, 0].mean()),
                   "sink64": float(p[1:min(64, T), 0].mean()),
                   "prev": float(p[rows, rows - 1].mean()),
                   "diag": float(p[rows, rows].mean())}
            if repeat_period:
                qi = np.arange(repeat_period + 1, T)
                rec["induction"] = float(p[qi, qi - repeat_period + 1].mean())
            out["heads"].append(rec)
    sinks = np.array([r["sink"] for r in out["heads"]])
    out["sink_eps"] = float((sinks > eps).mean())
    s64 = np.array([r["sink64"] for r in out["heads"]])
    out["sink_eps_64"] = float((s64 > eps).mean())
    out["sink64_mean"] = float(s64.mean())
    if repeat_period:
        out["induction_max"] = max(r["induction"] for r in out["heads"])
        out["induction_heads_over_0.3"] = sum(r["induction"] > 0.3 for r in out["heads"])
    out["sink_mean"] = float(sinks.mean())
    out["sink_by_layer"] = [float(sinks[l * hq:(l + 1) * hq].mean()) for l in range(L)]
    return out


def table(res):
    L, hq = res["layers"], res["q_heads"]
    lines = ["| layer | " + " | ".join(f"h{h}" for h in range(hq)) + " | mean |",
             "|---|" + "---|" * (hq + 1)]
    for l in range(L):
        v = [r["sink"] for r in res["heads"] if r["layer"] == l]
        lines.append(f"| {l} | " + " | ".join(f"{x:.2f}" for x in v) + f" | {np.mean(v):.2f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("captures", nargs="+")
    ap.add_argument("--eps", type=float, default=0.3)
    ap.add_argument("--repeat-period", type=int, default=0)
    ap.add_argument("--json")
    a = ap.parse_args()
    allres = []
    for c in a.captures:
        rp = a.repeat_period
        res = analyse(c, a.eps, rp)
        allres.append(res)
        print(f"## {c}: T={res['seq_len']}, Sink_eps(eps={a.eps}) = {res['sink_eps']:.3f} "
              f"({sum(r['sink'] > a.eps for r in res['heads'])}/{len(res['heads'])} heads), "
              f"mean sink {res['sink_mean']:.3f}; queries 1..63: Sink_eps {res['sink_eps_64']:.3f}, "
              f"mean {res['sink64_mean']:.3f}")
        print(table(res))
        top_prev = sorted(res["heads"], key=lambda r: -r["prev"])[:5]
        print("top previous-token heads:", ", ".join(f"L{r['layer']}H{r['head']} {r['prev']:.2f}" for r in top_prev))
        if rp:
            top = sorted(res["heads"], key=lambda r: -r["induction"])[:5]
            print("top induction heads:", ", ".join(f"L{r['layer']}H{r['head']} {r['induction']:.2f}" for r in top))
    if a.json:
        json.dump(allres, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    sys.exit(main())
