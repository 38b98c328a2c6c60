#!/usr/bin/env python3
"""Synthetic single-object scenes for the hidiff demo model ("shapes").

Each image is 64x64 RGB: one disc, square or upright triangle in red, green, blue or yellow, of random size
(a disc's radius is 11-22 % of the side; squares and triangles have the same area as that disc) and random
position (fully inside the image), on a low-saturation linear gradient of random direction. The caption is
"a <colour> <shape>" with shape in {circle, square, triangle}.

Shapes are rendered 4x supersampled and box-filtered, so edges are anti-aliased. Everything is drawn from one
numpy Generator seeded with --seed, so the same seed gives the same bytes.

Usage: make_data.py --count 10000 --seed 0 --out data.npz
Writes images (uint8 [N,64,64,3]), captions (str [N]), colour and shape indices, centres and radii.
"""
import argparse
import colorsys
import math

import numpy as np

SIDE = 64
SUPERSAMPLE = 4
COLOURS = {
    # name: nominal RGB in [0, 1]; each image jitters every channel by up to +-0.06.
    "red": (0.86, 0.13, 0.12),
    "green": (0.16, 0.70, 0.20),
    "blue": (0.14, 0.26, 0.86),
    "yellow": (0.93, 0.84, 0.14),
}
SHAPES = ("circle", "square", "triangle")
RADIUS_RANGE = (0.11, 0.22)  # disc radius as a fraction of the side


def shape_mask(shape, cx, cy, r, n):
    """Anti-aliased coverage in [0,1] of a shape with equal-area disc radius r (pixels), centre (cx, cy)."""
    s = SUPERSAMPLE
    coords = (np.arange(n * s, dtype=np.float64) + 0.5) / s
    x = coords[None, :]
    y = coords[:, None]
    if shape == "circle":
        inside = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    elif shape == "square":
        h = r * math.sqrt(math.pi) / 2  # half side, area pi r^2
        inside = (np.abs(x - cx) <= h) & (np.abs(y - cy) <= h)
    elif shape == "triangle":
        # Equilateral, apex up, centroid at (cx, cy), area pi r^2.
        big_r = r * math.sqrt(4 * math.pi / (3 * math.sqrt(3)))  # circumradius
        apex_y = cy - big_r
        base_y = cy + big_r / 2
        half_base = big_r * math.sqrt(3) / 2
        t = (y - apex_y) / (base_y - apex_y)  # 0 at the apex, 1 at the base
        inside = (t >= 0) & (t <= 1) & (np.abs(x - cx) <= t * half_base)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    cov = inside.astype(np.float32).reshape(n, s, n, s).mean(axis=(1, 3))
    return cov


def shape_extent(shape, r):
    """Half extents (left/right, up, down) of the shape around its centre, for keeping it inside."""
    if shape == "circle":
        return r, r, r
    if shape == "square":
        h = r * math.sqrt(math.pi) / 2
        return h, h, h
    big_r = r * math.sqrt(4 * math.pi / (3 * math.sqrt(3)))
    return big_r * math.sqrt(3) / 2, big_r, big_r / 2


def background(rng, n):
    """Linear gradient between two low-saturation colours (saturation <= 0.18, value 0.45-0.92)."""
    cols = []
    for _ in range(2):
        h = rng.uniform(0, 1)
        sat = rng.uniform(0, 0.18)
        val = rng.uniform(0.45, 0.92)
        cols.append(np.array(colorsys.hsv_to_rgb(h, sat, val), dtype=np.float32))
    ang = rng.uniform(0, 2 * math.pi)
    coords = (np.arange(n, dtype=np.float32) + 0.5) / n - 0.5
    proj = math.cos(ang) * coords[None, :] + math.sin(ang) * coords[:, None]
    t = np.clip(proj / math.sqrt(0.5) + 0.5, 0, 1)[..., None]
    return cols[0] * (1 - t) + cols[1] * t


def make_one(rng, n=SIDE):
    ci = int(rng.integers(len(COLOURS)))
    si = int(rng.integers(len(SHAPES)))
    colour_name = list(COLOURS)[ci]
    shape = SHAPES[si]
    r = rng.uniform(*RADIUS_RANGE) * n
    ex, up, down = shape_extent(shape, r)
    cx = rng.uniform(ex + 1, n - ex - 1)
    cy = rng.uniform(up + 1, n - down - 1)
    bg = background(rng, n)
    col = np.clip(np.array(COLOURS[colour_name]) + rng.uniform(-0.06, 0.06, 3), 0, 1).astype(np.float32)
    cov = shape_mask(shape, cx, cy, r, n)[..., None]
    img = bg * (1 - cov) + col * cov
    img = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    return img, f"a {colour_name} {shape}", ci, si, (cx, cy, r)


def make_dataset(count, seed):
    rng = np.random.default_rng(seed)
    images = np.empty((count, SIDE, SIDE, 3), dtype=np.uint8)
    captions, colours, shapes, geom = [], [], [], []
    for i in range(count):
        img, cap, ci, si, g = make_one(rng)
        images[i] = img
        captions.append(cap)
        colours.append(ci)
        shapes.append(si)
        geom.append(g)
    return {
        "images": images,
        "captions": np.array(captions),
        "colour": np.array(colours, dtype=np.int64),
        "shape": np.array(shapes, dtype=np.int64),
        "geometry": np.array(geom, dtype=np.float32),  # cx, cy, r (pixels)
    }


def caption_words():
    """Every word a caption can contain, in a fixed order (used to build the tokenizer)."""
    return ["a"] + list(COLOURS) + list(SHAPES)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--preview", help="optional PNG contact sheet of the first 64 images")
    args = ap.parse_args()
    data = make_dataset(args.count, args.seed)
    np.savez_compressed(args.out, **data)
    print(f"wrote {args.count} images to {args.out}")
    if args.preview:
        from PIL import Image

        k = min(64, args.count)
        cols = 8
        rows = (k + cols - 1) // cols
        sheet = np.full((rows * (SIDE + 2), cols * (SIDE + 2), 3), 255, np.uint8)
        for i in range(k):
            r, c = divmod(i, cols)
            sheet[r * (SIDE + 2):r * (SIDE + 2) + SIDE, c * (SIDE + 2):c * (SIDE + 2) + SIDE] = data["images"][i]
        Image.fromarray(sheet).resize((sheet.shape[1] * 2, sheet.shape[0] * 2), Image.NEAREST).save(args.preview)


if __name__ == "__main__":
    main()
