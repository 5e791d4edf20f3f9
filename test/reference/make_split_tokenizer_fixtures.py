#!/usr/bin/env python3
"""Generates test/fixtures/tokenizers/split-bpe-tiny/ and qwen-bpe-tiny/: byte-level BPE laid out as the
tokenizer.json of Llama 3.x and of Qwen2/2.5/3, whose pre-tokenizer is a Split on an Oniguruma regex
(behavior Isolated) followed by ByteLevel with use_regex false:

  * Llama 3:  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+
    with model.ignore_merges true (a pre-token that is itself in the vocabulary is one id);
  * Qwen2:    the same with \\p{N} (one digit per piece), an NFC normalizer, ignore_merges false.

The JavaScript library under test rewrites the Oniguruma pattern into a JavaScript RegExp; this reference
matches it with Python's `regex` module (Debian: apt-get install python3-regex), writing \\s as
\\p{White_Space} as Oniguruma means it. Everything else (byte symbols, BPE training and encoding, added
tokens, decoding) is make_tokenizer_fixtures.py's, whose corpus and texts these fixtures share.

Run:  python3 test/reference/make_split_tokenizer_fixtures.py      (deterministic)
"""

import os
import unicodedata

import regex

import make_tokenizer_fixtures as base

LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")
EXTRA_TEXTS = [
    "1234567 and 12 and 123456789",  # Llama 3 splits digits in threes, Qwen2 one by one
    "HE'S, SHE'LL, WE'VE, THEY'RE, I'M, I'D",  # the case-insensitive contractions
    "!!!hello???\n\nworld\r\n\r\n  x",
    "e\u0301 is not \u00e9 until NFC",  # Qwen2's NFC normalizer composes e + U+0301
]


def oniguruma(pattern):
    return regex.compile(pattern.replace(r"\s", r"\p{White_Space}").replace(r"\S", r"\P{White_Space}"))


def build(name, pattern, ignore_merges, nfc):
    split = oniguruma(pattern)
    norm = (lambda s: unicodedata.normalize("NFC", s)) if nfc else (lambda s: s)
    base.pretokenize = lambda text: split.findall(text)
    base.OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "tokenizers", name)
    os.makedirs(base.OUT, exist_ok=True)
    vocab, merges = base.train([norm(t) for t in base.CORPUS], base.NUM_MERGES)
    for t in base.ADDED:
        vocab[t] = len(vocab)
    ranks = {m: r for r, m in enumerate(merges)}
    id_to_token = {i: t for t, i in vocab.items()}

    def encode(text, add_special_tokens):
        ids = [vocab[base.BOS]] if add_special_tokens else []
        for piece, added in base.split_added(text):
            if added:
                ids.append(vocab[piece])
                continue
            for word in split.findall(norm(piece)):
                symbols = base.to_byte_symbols(word)
                pieces = [symbols] if ignore_merges and symbols in vocab else base.bpe(symbols, ranks)
                ids.extend(vocab[s] for s in pieces)
        return ids

    cases = []
    for text in base.TEXTS + EXTRA_TEXTS:
        ids, ids_ns = encode(text, True), encode(text, False)
        cases.append({"text": text, "ids": ids, "ids_no_special": ids_ns, "decoded": base.decode(ids_ns, id_to_token)})
    tj = base.tokenizer_json(vocab, merges)
    tj["normalizer"] = {"type": "NFC"} if nfc else None
    tj["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
    ]}
    tj["model"]["ignore_merges"] = ignore_merges
    base.write_json("tokenizer.json", tj)
    base.write_json("tokenizer_config.json", base.tokenizer_config())
    base.write_json("cases.json", {"cases": cases})
    print("wrote %s: vocab %d, %d cases" % (base.OUT, len(vocab), len(cases)))


if __name__ == "__main__":
    build("split-bpe-tiny", LLAMA3, ignore_merges=True, nfc=False)
    build("qwen-bpe-tiny", QWEN2, ignore_merges=False, nfc=True)
