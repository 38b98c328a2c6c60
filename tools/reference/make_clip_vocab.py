#!/usr/bin/env python3
"""Build the CLIP BPE vocabulary (vocab.json + merges.txt) in the layout transformers' CLIPTokenizer reads.

Source: `bpe_simple_vocab_16e6.txt.gz` from the open_clip_torch wheel (MIT; originally OpenAI CLIP, MIT).
No hub access is needed:

    pip download --no-deps open_clip_torch -d /tmp/oc
    python tools/reference/make_clip_vocab.py --bpe-wheel /tmp/oc/open_clip_torch-*.whl

The vocabulary is built exactly as CLIP's SimpleTokenizer does it:
  256 byte characters (bytes_to_unicode order), the same 256 with "</w>", one entry per merge
  (the first 49152-256-2 merge lines after the header), then <|startoftext|> and <|endoftext|>
  -> 49408 entries, ids 49406 / 49407 for the two special tokens.
merges.txt keeps the "#version: 0.2" header line, as the files on the hub do (CLIPTokenizer skips line 0).
"""
import argparse
import glob
import gzip
import io
import json
import os
import zipfile

N_MERGES = 49152 - 256 - 2  # 48894, as CLIP's SimpleTokenizer


def bytes_to_unicode():
    """CLIP/GPT-2 reversible byte -> printable unicode character table (byte order is significant)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def read_bpe(args):
    if args.bpe:
        with gzip.open(args.bpe) as f:
            return f.read().decode("utf-8")
    wheels = sorted(glob.glob(args.bpe_wheel))
    if not wheels:
        raise SystemExit(f"no wheel matches {args.bpe_wheel!r}; run: pip download --no-deps open_clip_torch -d /tmp/oc")
    with zipfile.ZipFile(wheels[-1]) as z:
        name = next(n for n in z.namelist() if n.endswith("bpe_simple_vocab_16e6.txt.gz"))
        with gzip.open(io.BytesIO(z.read(name))) as f:
            return f.read().decode("utf-8")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bpe", help="path to bpe_simple_vocab_16e6.txt.gz (instead of --bpe-wheel)")
    p.add_argument("--bpe-wheel", default="/tmp/oc/open_clip_torch-*.whl", help="glob of the open_clip_torch wheel")
    p.add_argument("--out", default=os.path.join(repo, "Sources/HiDiffModels/Resources/clip"))
    args = p.parse_args()

    lines = read_bpe(args).split("\n")
    header, merge_lines = lines[0], lines[1:N_MERGES + 1]
    assert len(merge_lines) == N_MERGES, len(merge_lines)
    merges = [tuple(m.split()) for m in merge_lines]
    assert all(len(m) == 2 for m in merges)

    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408 and len(set(vocab)) == 49408
    encoder = {tok: i for i, tok in enumerate(vocab)}

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(encoder, f, ensure_ascii=False)
    with open(os.path.join(args.out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        f.write("\n".join(f"{a} {b}" for a, b in merges))
        f.write("\n")
    print(f"bpe header: {header!r}; wrote {len(encoder)} tokens, {len(merges)} merges to {args.out}")


if __name__ == "__main__":
    main()
