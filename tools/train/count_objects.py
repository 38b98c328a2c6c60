#!/usr/bin/env python3
"""Count objects of a given colour in a generated image: the duplication metric of the demo model.

This is the reference definition that `hidiff eval duplication` mirrors. It is deliberately simple:

1. Colour classification, per pixel, on RGB scaled to [0, 1]:
   - mx = max(r, g, b), mn = min(r, g, b), chroma = mx - mn.
   - A pixel is coloured only if chroma >= CHROMA_MIN (0.30). The training backgrounds have chroma <= 0.17,
     the training objects >= 0.55, so backgrounds and pale halos never count.
   - Its hue h in degrees [0, 360) is the standard HSV hue:
       if mx == r: h = 60 * ((g - b) / chroma) mod 360
       elif mx == g: h = 60 * ((b - r) / chroma) + 120
       else:         h = 60 * ((r - g) / chroma) + 240
   - Hue bins: red h < 30 or h >= 330; yellow 30 <= h < 80; green 80 <= h < 180; blue 180 <= h < 300;
     300 <= h < 330 (magenta) is no colour.
2. Connected components of the mask "pixel has the prompt's colour", 4-connectivity (up, down, left, right).
3. Objects = the number of components with area >= MIN_AREA pixels (24 px, default). The threshold is in
   absolute pixels, not a fraction of the image, because the model draws objects at its training scale
   whatever the output size: the smallest training object (a disc of radius 7 px at 64x64) covers ~154 px, so 24 px
   keeps every real object and drops specks and thin edge fringes.

The prompt's colour is the first of red/green/blue/yellow named in the prompt.

Usage as a script: count_objects.py IMAGE.png "a red circle" [--min-area 24]
"""
import argparse
import sys

import numpy as np

CHROMA_MIN = 0.30
MIN_AREA = 24
COLOUR_NAMES = ("red", "green", "blue", "yellow")
# Label ids used by classify(): 0 = no colour.
LABEL = {"red": 1, "green": 2, "blue": 3, "yellow": 4}


def classify(image):
    """Per-pixel colour label (0 none, 1 red, 2 green, 3 blue, 4 yellow) of an HxWx3 uint8 image."""
    rgb = image.astype(np.float32) / 255.0
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mx = rgb.max(axis=-1)
    mn = rgb.min(axis=-1)
    chroma = mx - mn
    safe = np.where(chroma > 0, chroma, 1.0)
    hue = np.where(
        mx == r,
        np.mod(60.0 * (g - b) / safe, 360.0),
        np.where(mx == g, 60.0 * (b - r) / safe + 120.0, 60.0 * (r - g) / safe + 240.0),
    )
    labels = np.zeros(image.shape[:2], dtype=np.int32)
    coloured = chroma >= CHROMA_MIN
    labels[coloured & ((hue < 30) | (hue >= 330))] = LABEL["red"]
    labels[coloured & (hue >= 30) & (hue < 80)] = LABEL["yellow"]
    labels[coloured & (hue >= 80) & (hue < 180)] = LABEL["green"]
    labels[coloured & (hue >= 180) & (hue < 300)] = LABEL["blue"]
    return labels


def component_areas(mask):
    """Areas of the 4-connected components of a boolean HxW mask, in raster order of their first pixel."""
    h, w = mask.shape
    seen = np.zeros_like(mask, dtype=bool)
    m = mask.tolist()
    areas = []
    for y0 in range(h):
        for x0 in range(w):
            if not m[y0][x0] or seen[y0, x0]:
                continue
            seen[y0, x0] = True
            stack = [(y0, x0)]
            area = 0
            while stack:
                y, x = stack.pop()
                area += 1
                for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    if 0 <= ny < h and 0 <= nx < w and m[ny][nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
            areas.append(area)
    return areas


def prompt_colour(prompt):
    """The first colour word of the prompt, or None."""
    words = prompt.lower().replace(",", " ").split()
    for word in words:
        if word in COLOUR_NAMES:
            return word
    return None


def count_objects(image, colour, min_area=MIN_AREA):
    """Number of connected regions of `colour` with at least `min_area` pixels in an HxWx3 uint8 image."""
    if colour not in LABEL:
        raise ValueError(f"colour must be one of {COLOUR_NAMES}, got {colour!r}")
    mask = classify(image) == LABEL[colour]
    return sum(1 for a in component_areas(mask) if a >= min_area)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("image")
    ap.add_argument("prompt")
    ap.add_argument("--min-area", type=int, default=MIN_AREA)
    args = ap.parse_args()
    from PIL import Image

    img = np.asarray(Image.open(args.image).convert("RGB"))
    colour = prompt_colour(args.prompt)
    if colour is None:
        sys.exit(f"prompt {args.prompt!r} names none of {COLOUR_NAMES}")
    print(count_objects(img, colour, args.min_area))


if __name__ == "__main__":
    main()
