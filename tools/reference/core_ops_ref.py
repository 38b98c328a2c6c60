"""Reference outputs of the tensor kernels (HiDiffCore) from PyTorch, written to Tests/Fixtures/core_ops.json.

Each case stores its inputs and torch's output as {"shape": [...], "data": [...]} so the Swift test replays it.
Run with the pinned venv: python tools/reference/core_ops_ref.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "core_ops.json")


def t(x):
    x = x.detach().float().contiguous()
    return {"shape": list(x.shape), "data": [float(v) for v in x.flatten().tolist()]}


cases = {}


def conv(name, n, c, h, w, o, k, stride, pad, dil, bias=True):
    x = torch.randn(n, c, h, w)
    wt = torch.randn(o, c, k, k) / math.sqrt(c * k * k)
    b = torch.randn(o) if bias else None
    y = F.conv2d(x, wt, b, stride=stride, padding=pad, dilation=dil)
    cases[name] = {"op": "conv2d", "x": t(x), "w": t(wt), "b": t(b) if b is not None else None,
                   "stride": stride, "padding": pad, "dilation": dil, "y": t(y)}


conv("conv3x3", 2, 5, 9, 7, 6, 3, 1, 1, 1)
conv("conv3x3_s2", 1, 4, 9, 8, 3, 3, 2, 1, 1)
conv("conv1x1", 2, 6, 5, 4, 7, 1, 1, 0, 1)
conv("conv_rad", 1, 3, 17, 14, 4, 3, 4, 2, 2)   # RAU-Net's resolution-aware downsampler
conv("conv_nobias", 1, 3, 6, 6, 2, 3, 1, 1, 1, bias=False)

x = torch.randn(2, 8, 5, 6) * 3 + 7
wt, b = torch.randn(8), torch.randn(8)
cases["groupnorm"] = {"op": "groupnorm", "x": t(x), "w": t(wt), "b": t(b), "groups": 4, "eps": 1e-5,
                      "y": t(F.group_norm(x, 4, wt, b, 1e-5))}
x = torch.randn(3, 4, 10) * 2 + 5
wt, b = torch.randn(10), torch.randn(10)
cases["layernorm"] = {"op": "layernorm", "x": t(x), "w": t(wt), "b": t(b), "eps": 1e-5,
                      "y": t(F.layer_norm(x, (10,), wt, b, 1e-5))}

x = torch.randn(2, 3, 17) * 4
cases["softmax"] = {"op": "softmax", "x": t(x), "y": t(torch.softmax(x, -1))}
x = torch.randn(3, 37) * 3
cases["silu"] = {"op": "silu", "x": t(x), "y": t(F.silu(x))}
cases["gelu"] = {"op": "gelu", "x": t(x), "y": t(F.gelu(x))}
cases["gelu_tanh"] = {"op": "gelu_tanh", "x": t(x), "y": t(F.gelu(x, approximate="tanh"))}
cases["quick_gelu"] = {"op": "quick_gelu", "x": t(x), "y": t(x * torch.sigmoid(1.702 * x))}
x = torch.randn(2, 5, 12)
a, g = x.chunk(2, dim=-1)
cases["geglu"] = {"op": "geglu", "x": t(x), "y": t(a * F.gelu(g))}


def attn(name, b, lq, lk, c, heads, causal=False):
    q, k, v = torch.randn(b, lq, c), torch.randn(b, lk, c), torch.randn(b, lk, c)
    qh = q.view(b, lq, heads, -1).transpose(1, 2)
    kh = k.view(b, lk, heads, -1).transpose(1, 2)
    vh = v.view(b, lk, heads, -1).transpose(1, 2)
    y = F.scaled_dot_product_attention(qh, kh, vh, is_causal=causal).transpose(1, 2).reshape(b, lq, c)
    cases[name] = {"op": "attention", "q": t(q), "k": t(k), "v": t(v), "heads": heads, "causal": causal,
                   "y": t(y)}


attn("attention", 2, 13, 9, 12, 3)
attn("attention_self", 1, 20, 20, 8, 2)
attn("attention_causal", 2, 7, 7, 8, 2, causal=True)


def resize(name, mode, h, w, ho, wo):
    x = torch.randn(1, 2, h, w)
    if mode == "nearest":
        y = F.interpolate(x, size=(ho, wo), mode="nearest")
    else:
        y = F.interpolate(x, size=(ho, wo), mode="bicubic", align_corners=False)
    cases[name] = {"op": mode, "x": t(x), "size": [ho, wo], "y": t(y)}


resize("nearest_x2", "nearest", 6, 5, 12, 10)
resize("nearest_x4", "nearest", 8, 8, 32, 32)
resize("nearest_odd", "nearest", 8, 6, 31, 23)   # RAU-Net's 32x24 -> 125x94 case, scaled down
resize("bicubic_up", "bicubic", 8, 8, 16, 16)
resize("bicubic_odd", "bicubic", 8, 8, 15, 15)
resize("bicubic_down", "bicubic", 13, 19, 7, 10)
resize("bicubic_mixed", "bicubic", 13, 19, 14, 20)

for h, w in [(6, 8), (5, 7), (3, 3)]:
    x = torch.randn(2, 3, h, w)
    cases[f"avgpool_{h}x{w}"] = {"op": "avgpool", "x": t(x),
                                 "y": t(F.avg_pool2d(x, 2, stride=2, ceil_mode=True))}

x = torch.arange(2 * 6 * 5, dtype=torch.float32).view(2, 6, 5)
cases["roll"] = {"op": "roll", "x": t(x), "shifts": [-2, 3], "dims": [1, 2],
                 "y": t(torch.roll(x, shifts=(-2, 3), dims=(1, 2)))}

with open(OUT, "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f)
print("wrote", OUT, os.path.getsize(OUT), "bytes,", len(cases), "cases")
