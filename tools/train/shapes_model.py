"""Architecture, tokenizer and scheduler of the "shapes" demo model (shared by the training scripts).

The U-Net keeps Stable Diffusion 1.5's block types and its pattern of channel changes (down_blocks 1 and 2
change width, 3 does not: (320, 640, 1280, 1280) -> (32, 48, 64, 64)) so that the authors' hidiffusion code
detects it as the SD 1.5 family by module names.
"""
import json
import os

import torch

from make_data import caption_words

MAX_LENGTH = 77  # as CLIP / SD 1.5, so engines can keep their usual 77-token context

VAE_CONFIG = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 3,
    up_block_types=("UpDecoderBlock2D",) * 3,
    block_out_channels=(32, 64, 64),
    layers_per_block=1,
    act_fn="silu",
    latent_channels=4,
    norm_num_groups=16,
    sample_size=64,
)

UNET_CONFIG = dict(
    sample_size=16,
    in_channels=4,
    out_channels=4,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(32, 48, 64, 64),
    layers_per_block=2,
    cross_attention_dim=64,
    attention_head_dim=2,  # diffusers' SD 1.5 naming: this is the number of heads
    norm_num_groups=16,
)

SCHEDULER_CONFIG = dict(
    # DDIM as Stable Diffusion 1.5 is usually sampled with; the betas are SD 1.5's.
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    clip_sample=False,
    set_alpha_to_one=False,
    steps_offset=1,
    prediction_type="epsilon",
)


def bytes_to_unicode():
    """CLIP's reversible byte -> printable unicode map (the same table as OpenAI CLIP / transformers)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def learn_merges(words):
    """Greedy BPE on the caption words (each counted once) until every word is a single token.

    Ties are broken by the lexicographically smallest pair, so the result is deterministic. Applying the
    merges in rank order (what CLIP's tokenizer does) reproduces this segmentation, so every caption word
    becomes exactly one token.
    """
    segs = {w: list(w[:-1]) + [w[-1] + "</w>"] for w in words}
    merges = []
    while any(len(s) > 1 for s in segs.values()):
        counts = {}
        for s in segs.values():
            for pair in zip(s, s[1:]):
                counts[pair] = counts.get(pair, 0) + 1
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        for w, s in segs.items():
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            segs[w] = out
    return merges


def write_tokenizer_files(directory):
    """vocab.json + merges.txt in CLIP's format: 256 byte symbols, the same with '</w>', the merge results,
    then <|startoftext|> and <|endoftext|> (the last two ids, as in CLIP). Any text tokenizes without <unk>;
    the caption words are single tokens."""
    os.makedirs(directory, exist_ok=True)
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols]
    merges = learn_merges(caption_words())
    for a, b in merges:
        vocab.append(a + b)
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(set(vocab)) == len(vocab)
    with open(os.path.join(directory, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({tok: i for i, tok in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(directory, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    return len(vocab)


def make_tokenizer(directory):
    """Build and save the CLIP tokenizer into `directory`, and return it loaded back from there."""
    from transformers import CLIPTokenizer

    write_tokenizer_files(directory)
    tok = CLIPTokenizer(
        os.path.join(directory, "vocab.json"),
        os.path.join(directory, "merges.txt"),
        model_max_length=MAX_LENGTH,
        pad_token="<|endoftext|>",
    )
    tok.save_pretrained(directory)
    tok = CLIPTokenizer.from_pretrained(directory)
    for w in caption_words():
        ids = tok(w, add_special_tokens=False).input_ids
        assert len(ids) == 1, f"caption word {w!r} is not one token: {ids}"
    return tok


def text_config(tokenizer):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=256,
        projection_dim=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=MAX_LENGTH,
        hidden_act="quick_gelu",
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def tokenize(tokenizer, captions):
    return tokenizer(
        list(captions), padding="max_length", max_length=MAX_LENGTH, truncation=True, return_tensors="pt"
    ).input_ids


def seed_everything(seed):
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def setup_threads():
    """2 intra-op threads by default (HIDIFF_TRAIN_THREADS overrides). On a loaded 2-core machine 1 thread is
    several times faster: OpenMP threads spin at barriers while their partner is descheduled."""
    n = int(os.environ.get("HIDIFF_TRAIN_THREADS", "2"))
    torch.set_num_threads(n)
    torch.set_num_interop_threads(1)
    print(f"torch {torch.__version__}, {n} thread(s)", flush=True)
    return n
