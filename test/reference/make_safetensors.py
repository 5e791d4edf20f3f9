#!/usr/bin/env python3
"""Generates the safetensors test fixtures in test/fixtures/safetensors/.

This is a second, independent implementation of the safetensors format (Python standard
library only: struct + json), used to check engine/runtime/safetensors.ts against something
that is not itself. It mimics the layout that the Rust `safetensors` crate writes (the
library behind Hugging Face's `save_file`; see `prepare` and `impl Serialize for Metadata` in
safetensors/src/tensor.rs):

  * 8-byte little-endian u64 header length N, then N bytes of JSON, then the data;
  * tensors ordered by dtype rank descending (declaration order of the Rust `Dtype` enum),
    then by name as UTF-8 bytes; data packed back to back in that order;
  * compact JSON ("," and ":" with no spaces, non-ASCII left as UTF-8), "__metadata__"
    first, each tensor's keys in the order dtype, shape, data_offsets;
  * JSON padded with spaces so that 8 + N is a multiple of 8.

Expected float32 values are computed here with Python's own conversions (struct 'e' for
F16, bit shifting for BF16, struct 'f' rounding for F64 and integers), not with the
TypeScript code under test.

Run:  python3 test/reference/make_safetensors.py        (deterministic: fixed seed)
"""

import json
import os
import random
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "safetensors")

# Position of each dtype in the Rust `Dtype` enum (only the order matters), and its struct code.
RUST_RANK = {"BOOL": 0, "U8": 4, "F16": 13, "BF16": 14, "I32": 15, "F32": 17, "F64": 19, "I64": 20}
ITEM_SIZE = {"BOOL": 1, "U8": 1, "F16": 2, "BF16": 2, "I32": 4, "F32": 4, "F64": 8, "I64": 8}


def serialize(tensors, metadata=None):
    """tensors: {name: (dtype, shape, raw little-endian bytes)} -> file bytes."""
    order = sorted(tensors, key=lambda name: (-RUST_RANK[tensors[name][0]], name.encode("utf-8")))
    header = {}
    if metadata is not None:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata, key=lambda k: k.encode("utf-8"))}
    offset = 0
    for name in order:
        dtype, shape, data = tensors[name]
        count = 1
        for d in shape:
            count *= d
        assert len(data) == count * ITEM_SIZE[dtype], name
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    js = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    js += b" " * (-len(js) % 8)
    return struct.pack("<Q", len(js)) + js + b"".join(tensors[name][2] for name in order)


def f32_round(x):
    """Nearest float32 to x, as a Python float."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def product(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def write_json(name, obj):
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False, allow_nan=False)
        f.write("\n")


def f32_tensor(values, shape):
    return ("F32", shape, struct.pack("<%df" % len(values), *values))


def make_f32(rng):
    """f32.safetensors: float32 tensors of assorted shapes, including a scalar and empty ones."""
    rand = lambda shape: [f32_round(rng.uniform(-2.0, 2.0)) for _ in range(product(shape))]
    tensors = {
        "a.scalar": ([], rand([])),
        "b.empty": ([0], []),
        "b.empty2d": ([3, 0], []),
        "layers.10.weight": ([2, 3], rand([2, 3])),
        "layers.2.weight": ([3], rand([3])),
        "model.embed": ([5, 4], rand([5, 4])),
        # -0, smallest subnormal, largest finite, -1, smallest normal
        "specials": ([5], [-0.0, 1.401298464324817e-45, 3.4028234663852886e38, -1.0, 1.1754943508222875e-38]),
        # U+FF5E sorts before U+1F600 as UTF-8 bytes but after it as UTF-16 code units.
        "emb.\uff5e": ([2], rand([2])),
        "emb.\U0001f600": ([2], rand([2])),
        # Characters that JSON must escape.
        'odd "name"\\\t\x01': ([1], rand([1])),
    }
    write("f32.safetensors", serialize({k: f32_tensor(v, s) for k, (s, v) in tensors.items()}, {"format": "pt"}))
    write_json("f32.json", {
        "about": "Expected contents of f32.safetensors: shape and row-major float32 values.",
        "metadata": {"format": "pt"},
        "tensors": {k: {"shape": s, "values": v} for k, (s, v) in tensors.items()},
    })


def make_half(rng):
    """half.safetensors: F16, BF16 and F64 tensors; expected values as float32 bit patterns."""
    f16_special = [
        0x0000, 0x8000,  # +0, -0
        0x3C00, 0xC100,  # 1, -2.5
        0x7BFF, 0xFBFF,  # +-65504, the largest half
        0x0400,          # smallest normal, 2^-14
        0x0001, 0x8001,  # +-smallest subnormal, 2^-24
        0x03FF, 0x0200,  # largest subnormal, 2^-15
        0x7C00, 0xFC00,  # +-inf
        0x7E00, 0xFE00,  # +-NaN (canonical quiet NaN)
        0x3555,          # ~1/3
    ]
    # Random halves, avoiding NaNs: struct 'e' does not keep NaN payloads, so their expected
    # bits would not be defined here; the canonical NaNs above are covered.
    f16_random = []
    while len(f16_random) < 32:
        h = rng.getrandbits(16)
        if (h & 0x7C00) == 0x7C00 and (h & 0x3FF) != 0:
            continue
        f16_random.append(h)
    bf16_special = [
        0x0000, 0x8000, 0x3F80, 0xC020,  # +0, -0, 1, -2.5
        0x7F7F, 0xFF7F,                  # +-largest finite (~3.39e38)
        0x0001, 0x007F, 0x0080,          # smallest subnormal, largest subnormal, smallest normal
        0x7F80, 0xFF80, 0x7FC0,          # +inf, -inf, NaN
        0x3EAB, 0x4B80,                  # ~1/3, 2^24
    ]
    bf16_random = [rng.getrandbits(16) for _ in range(15)]
    f64_values = [
        0.1, -1.0 / 3.0, 3.141592653589793, -0.0,
        1e-40,                 # becomes a float32 subnormal
        1e-50,                 # underflows to +0
        16777217.0,            # 2^24 + 1: a tie, rounds to even (2^24)
        3.4028235e38,          # rounds to the largest float32
    ]

    def f16_to_f32_bits(h):
        return f32_bits(struct.unpack("<e", struct.pack("<H", h))[0])

    u16 = lambda xs: struct.pack("<%dH" % len(xs), *xs)
    tensors = {
        "f16.special": ("F16", [len(f16_special)], u16(f16_special), [f16_to_f32_bits(h) for h in f16_special]),
        "f16.random": ("F16", [4, 8], u16(f16_random), [f16_to_f32_bits(h) for h in f16_random]),
        "bf16.special": ("BF16", [len(bf16_special)], u16(bf16_special), [b << 16 for b in bf16_special]),
        "bf16.random": ("BF16", [3, 5], u16(bf16_random), [b << 16 for b in bf16_random]),
        "f64.values": ("F64", [2, 4], struct.pack("<8d", *f64_values), [f32_bits(x) for x in f64_values]),
    }
    write("half.safetensors", serialize({k: v[:3] for k, v in tensors.items()}, {"format": "pt"}))
    write_json("half.json", {
        "about": "Expected contents of half.safetensors after conversion to float32, as uint32 bit patterns.",
        "tensors": {k: {"dtype": v[0], "shape": v[1], "bits": v[3]} for k, v in tensors.items()},
    })


def make_ints():
    """ints.safetensors: integer dtypes, refused by default and converted with allowInt."""
    i64 = [-3, 0, 2**40 + 1, -(2**63), 2**63 - 1]
    i32 = [-(2**31), -1, 7, 2**31 - 1]
    u8 = [0, 1, 255]
    bools = [0, 1, 1, 0]
    tensors = {
        "i64": ("I64", [5], struct.pack("<5q", *i64), i64),
        "i32": ("I32", [2, 2], struct.pack("<4i", *i32), i32),
        "u8": ("U8", [3], bytes(u8), u8),
        "bool": ("BOOL", [4], bytes(bools), bools),
        "f32": ("F32", [2], struct.pack("<2f", 0.5, -4.0), [0.5, -4.0]),
    }
    write("ints.safetensors", serialize({k: v[:3] for k, v in tensors.items()}))
    write_json("ints.json", {
        "about": "Expected contents of ints.safetensors read with allowInt (int -> float64 -> nearest float32).",
        "tensors": {k: {"dtype": v[0], "shape": v[1], "values": [f32_round(float(x)) for x in v[3]]} for k, v in tensors.items()},
    })


def make_sharded(rng):
    """sharded/: a two-shard model folder with a Hugging Face style index."""
    shards = {
        "model-00001-of-00002.safetensors": {"embed.weight": [6, 4], "layers.0.weight": [4, 4]},
        "model-00002-of-00002.safetensors": {"layers.1.weight": [4, 4], "lm_head.weight": [4, 6]},
    }
    os.makedirs(os.path.join(OUT, "sharded"), exist_ok=True)
    expected, weight_map, total = {}, {}, 0
    for shard, specs in shards.items():
        tensors = {}
        for name, shape in specs.items():
            values = [f32_round(rng.gauss(0.0, 0.5)) for _ in range(product(shape))]
            tensors[name] = f32_tensor(values, shape)
            expected[name] = {"shape": shape, "values": values}
            weight_map[name] = shard
            total += 4 * len(values)
        write(os.path.join("sharded", shard), serialize(tensors, {"format": "pt"}))
    # transformers writes the index with indent=2, sorted keys and a final newline.
    with open(os.path.join(OUT, "sharded", "model.safetensors.index.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2, sort_keys=True) + "\n")
    write_json("sharded.json", {"about": "Expected contents of the sharded/ model folder.", "tensors": expected})


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(2409_15360)
    make_f32(rng)
    make_half(rng)
    make_ints()
    make_sharded(rng)


if __name__ == "__main__":
    main()
