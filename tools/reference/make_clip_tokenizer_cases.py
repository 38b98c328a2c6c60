#!/usr/bin/env python3
"""Tokenizer edge cases for the Swift CLIPTokenizer: Tests/Fixtures/clip-tokenizer/cases.json.

Runs transformers' slow CLIPTokenizer (4.44.2, ftfy NOT importable, as in the oracle venv) on the bundled
CLIP vocabulary (Sources/HiDiffModels/Resources/clip) with SD 1.5's padding (<|endoftext|>) and SD 2.x's
("!", which also becomes an added token and changes how "!" is split), over hand-picked hard cases
(cleanup, NFC, final sigma, CJK, special tokens, IGNORECASE quirks, truncation) and seeded random strings
drawn from many Unicode blocks.

    /work/venv/bin/python tools/reference/make_clip_tokenizer_cases.py

Output: {"cases": [{"text", "sd15", "sd21", "sd15_77"?, "sd21_77"?}]}: ids with start/end tokens, no
padding or truncation; the *_77 lists (padding="max_length", max_length=77, truncation=True, as diffusers
calls it) for the hand-picked cases.
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

FIXED = [
    "a photo of a cat", "", " ", "A Photo Of A CAT!!", "wow!! great!", "x!y", "!", "!!!", "hello !",
    "an astronaut riding a horse on mars, highly detailed, 8k, trending on artstation",
    "don't stop: it's 3.14159 o'clock; (masterpiece:1.2) [sic] {x} #tag @user",
    "café naïve résumé — “quotes” …", "cafe\u0301 e\u0301\u0301", "日本語のテキスト と emoji 🐱🚀",
    "   multiple   spaces\tand\nnewlines   ", "&amp; html &lt;escaped&gt;", "Tschüß Straße ÀÉÎÕÜ ẞ",
    "a " * 100, "word " * 80 + "end", "<|endoftext|>", "<|startoftext|>hello<|endoftext|>", "A<|ENDOFTEXT|>b",
    "a<|endoftext|>b <|startoftext|>", "<|endof\u200btext|>", "<|\u017ftartoftext|>", "'S 'ſ don'T we'LL I'M",
    "'s's 're've'm'll'd 'x", "ΟΔΟΣ ΣΑΣ. Σ σΣ aΣ Σa ΑΣ'Σ ΑΣ\u0301", "İstanbul IĞDIR", "ǅemal ǄEMAL",
    "K Å ﬁ ﬀ Ａｂｃ １２３", "x\x00y\ufffdz\x07w\u200d\u200bv\ufeffu", "a\u2028b\u2029c\x85d\x1ce\u00a0f\u3000g",
    "new emoji \U0001FAE8 \U0001FA87 ok", "١٢٣ ٤ Ⅻ ½ ² ⑩", "مرحبا بالعالم", "नमस्ते दुनिया", "สวัสดีชาวโลก",
    "안녕하세요 세계", "Привет, МИР!", "\u0130\u0307", "ꭰꮳ Ꭰ", "\U00010400\U00010428", "12345 67890",
    "3.5x 1e10 0xFF", "$$$ %%% ^^^ ~~~", "a'b'c", "''''", "<|", "|>", "<<||>>", "emoji 👍🏽👨‍👩‍👧 flags 🇯🇵",
    "\ue000 private", "\U000E0041 tag", "CAPITAL ΣΣ", "ＡＢＣ", "ß", "ﬆ", "Ⓐ Ⓑ", "\u0345", "\u03a3\u0345",
    "a\u0345a", "x\u0300", "\u0300x", "\uF900\uF901 compat",
    # supplementary-plane letters before combining marks (Foundation's NFC on Linux mangles these)
    "\U000100F5\u0304 \U00010047\u0307 \U000103CA\u0342", "\U0001D15E\U0001D165 \U00011099\U000110BA",
]

POOLS = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
         (0x900, 0x97F), (0xE00, 0xE7F), (0x1E00, 0x1FFF), (0x2000, 0x2BFF), (0x3000, 0x30FF), (0x4E00, 0x4E80),
         (0xAC00, 0xAC80), (0xF900, 0xFAFF), (0xFB00, 0xFB4F), (0xFE00, 0xFFFF), (0x1F300, 0x1FAFF),
         (0x10000, 0x1047F), (0x1D400, 0x1D7FF), (0xE0000, 0xE007F), (0x0, 0x1F), (0x7F, 0x9F)]


def random_text(rng):
    out = []
    for _ in range(rng.randint(1, 40)):
        if rng.random() < 0.35:
            out.append(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ ' !,.0123456789Σ"))
        else:
            lo, hi = rng.choice(POOLS)
            c = rng.randint(lo, hi)
            out.append("A" if 0xD800 <= c <= 0xDFFF else chr(c))  # no lone surrogates (not JSON/Swift-safe)
    return "".join(out)


def main():
    from transformers import CLIPTokenizer

    vocab_dir = os.path.join(REPO, "Sources/HiDiffModels/Resources/clip")
    vocab, merges = (os.path.join(vocab_dir, n) for n in ("vocab.json", "merges.txt"))
    sd15 = CLIPTokenizer(vocab, merges)
    sd21 = CLIPTokenizer(vocab, merges, pad_token="!")
    assert sd15.fix_text is None, "ftfy is importable: the venv's pipelines would tokenize differently"
    rng = random.Random(1234)
    cases = []
    for text in FIXED:
        cases.append({"text": text, "sd15": sd15(text).input_ids, "sd21": sd21(text).input_ids,
                      "sd15_77": sd15(text, padding="max_length", max_length=77, truncation=True).input_ids,
                      "sd21_77": sd21(text, padding="max_length", max_length=77, truncation=True).input_ids})
    for _ in range(400):
        text = random_text(rng)
        cases.append({"text": text, "sd15": sd15(text).input_ids, "sd21": sd21(text).input_ids})
    out = os.path.join(REPO, "Tests/Fixtures/clip-tokenizer/cases.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main()
