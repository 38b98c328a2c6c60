#!/usr/bin/env python3
"""Times PyTorch's scaled-dot-product attention on the CPU at SD 1.5's top-level shapes, the PyTorch side of
`hidiff bench ops --filter attention_self` (whose 4096- and 16,384-token self-attention cases use the same
heads: batch 2, 8 heads of 40).

    /work/venv/bin/python tools/reference/bench_torch_attention.py [--tokens 4096 16384] [--runs 3] [--threads 2]

For each token count: F.scaled_dot_product_attention under torch.autocast('cpu', bfloat16) on float32 inputs
(what `hidiff --precision bf16` is compared with), then on bfloat16 inputs; one untimed call, then the median
of --runs timed ones. Prints one line per case.
"""
import argparse
import time

import torch
import torch.nn.functional as F


def median_seconds(f, runs):
    f()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, nargs="+", default=[4096, 16384])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    for tokens in args.tokens:
        q, k, v = (torch.randn(2, 8, tokens, 40) for _ in range(3))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            autocast = median_seconds(lambda: F.scaled_dot_product_attention(q, k, v), args.runs)
        qb, kb, vb = q.bfloat16(), k.bfloat16(), v.bfloat16()
        native = median_seconds(lambda: F.scaled_dot_product_attention(qb, kb, vb), args.runs)
        print(f"attention_self {tokens} tokens: autocast {autocast:.4f} s, bfloat16 inputs {native:.4f} s")


if __name__ == "__main__":
    main()
