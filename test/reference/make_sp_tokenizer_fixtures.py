#!/usr/bin/env python3
"""Generates test/fixtures/tokenizers/sp-bpe-tiny/: a SentencePiece-style BPE tokenizer with byte
fallback, laid out as the tokenizer.json of Llama 2, TinyLlama, Mistral 7B v0.1 and Phi-3 (converted
from their sentencepiece models by transformers' LlamaConverter, legacy layout):

  * normalizer Sequence[Prepend("▁"), Replace(" " -> "▁")], no pre-tokenizer: every stretch of text
    between added tokens is normalized on its own (so the stretch after a special token gets its own
    "▁", Llama's "legacy" behaviour) and BPE runs over the whole stretch;
  * Prepend adds nothing to an empty stretch (tokenizers' normalizers/prepend.rs);
  * model BPE, byte_fallback true, fuse_unk true, unk "<unk>": a character outside the vocabulary
    becomes the <0xXX> tokens of its UTF-8 bytes; merges apply lowest rank first, ties to the
    leftmost pair (tokenizers' models/bpe/word.rs merge_all with its priority queue);
  * vocabulary: <unk>, <s>, </s>, the 256 byte tokens <0x00>..<0xFF>, then the characters seen at
    least twice in the corpus (rarer ones, e.g. most emoji and kana, are left to byte fallback), then
    one id per merge; added tokens <|user|>, <|assistant|>, <|end|> after them (Phi-3's chat tokens);
  * post-processor TemplateProcessing "<s> $A" (add_bos_token true, add_eos_token false);
  * decoder Sequence[Replace("▁" -> " "), ByteFallback, Fuse, Strip(" ", 1, 0)]: byte tokens that
    do not form valid UTF-8 decode to one U+FFFD per token (decoders/byte_fallback.rs), and one
    leading space of the whole text is stripped.

Independent of the JavaScript library under test: Python standard library only, written from the
Rust `tokenizers` sources' behaviour as described above.

Outputs: tokenizer.json, tokenizer_config.json, cases.json ({"cases": [{text, ids, ids_no_special,
decoded, decoded_skip}]}; `decoded` keeps special tokens, `decoded_skip` drops them).

Run:  python3 test/reference/make_sp_tokenizer_fixtures.py      (deterministic)
"""

import heapq
import json
import os
from collections import Counter

from make_tokenizer_fixtures import CORPUS, added_entries, bos_template, learn_merges, split_added

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "tokenizers", "sp-bpe-tiny")
NUM_MERGES = 300
SPACE = "\u2581"  # ▁
UNK, BOS, EOS = "<unk>", "<s>", "</s>"
ADDED = ["<|user|>", "<|assistant|>", "<|end|>"]
SPECIAL = [UNK, BOS, EOS] + ADDED  # every one is cut out of the text before normalization

TEXTS = [
    "Hello world",
    " Hello world",  # the Prepend normalizer adds a second ▁ (no "already starts with ▁" test)
    "Hello world ",
    "Hello   world",
    "  leading and trailing  ",
    "line one\nline two\n\n  indented",
    "\tTabs\tand\r\nCRLF\r\n",
    "The year 2024 had 366 days; 3.14159 is pi.",
    "I'm sure they'll say it's fine, we've done it.",
    "café naïve résumé Zürich",
    "Ünïcödé ÀÉÎÕÜ",
    "emoji: 🚀🔥 and 👍🏽 and family 👨\u200d👩\u200d👧!",
    "日本語のテキスト",
    "Привет, мир!",
    "Ⅻ ½ x² 一二三",
    "before</s>after",  # the stretch after a special token is normalized on its own: "▁after"
    "abc</s></s>xyz",
    " </s> spaced ",
    "<s>already has a BOS",
    "<|user|>\nhi<|end|>\n<|assistant|>\n",
    "</s",
    "<|end almost special",
    "",
    " ",
    "   ",
    "</s>",  # nothing but a special token: no empty stretch gets a ▁
    "a",
    "!!!???...,,,",
    "x = f(y) + 42 * z_1  # comment",
    "non\u00a0breaking\u00a0space",
    "aaaaaaaaaaaaaaaaaaaaaaa",
    "The reward model gave the answer a score of 0.87.",
    "An ensemble of reward models is harder to fool.",
]


def normalize(piece):
    return (SPACE + piece.replace(" ", SPACE)) if piece else piece


def byte_token(b):
    return "<0x%02X>" % b


def train(corpus):
    words = Counter()
    chars = Counter()
    for line in corpus:
        n = normalize(line)
        chars.update(n)
        # SentencePiece pieces never cross a word boundary: learn merges within "▁word" units.
        word = ""
        for c in n:
            if c == SPACE and word:
                words[tuple(word)] += 1
                word = ""
            word += c
        if word:
            words[tuple(word)] += 1
    vocab = {}
    for t in [UNK, BOS, EOS] + [byte_token(b) for b in range(256)]:
        vocab[t] = len(vocab)
    for c, n in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0])):
        if n >= 2:
            vocab[c] = len(vocab)
    # Words as vocabulary symbols: characters outside the vocabulary cannot take part in merges.
    words = {tuple(c if c in vocab else None for c in w): f for w, f in words.items()}
    merges = learn_merges(words, vocab, NUM_MERGES)
    for t in ADDED:
        vocab[t] = len(vocab)
    return vocab, merges


def bpe(piece, vocab, ranks):
    """Symbols of one normalized stretch: characters (byte tokens for unknown ones), then merges by
    (rank, position) from a priority queue, as tokenizers' Word::merge_all does."""
    syms = []
    for c in piece:
        if c in vocab:
            syms.append(c)
        else:
            syms.extend(byte_token(b) for b in c.encode("utf-8"))
    # Doubly linked symbols; a heap entry is (rank, left index, left symbol, right symbol).
    prev = list(range(-1, len(syms) - 1))
    nxt = list(range(1, len(syms) + 1))
    alive = [True] * len(syms)
    heap = []

    def push(i):
        j = nxt[i]
        if j < len(syms) and (syms[i], syms[j]) in ranks:
            heapq.heappush(heap, (ranks[(syms[i], syms[j])], i, syms[i], syms[j]))

    for i in range(len(syms) - 1):
        push(i)
    while heap:
        _, i, a, b = heapq.heappop(heap)
        j = nxt[i] if i < len(syms) else len(syms)
        if not alive[i] or j >= len(syms) or syms[i] != a or syms[j] != b:
            continue  # stale: one side was merged since this pair was queued
        syms[i] = a + b
        alive[j] = False
        nxt[i] = nxt[j]
        if nxt[j] < len(syms):
            prev[nxt[j]] = i
        if prev[i] >= 0:
            push(prev[i])
        push(i)
    return [s for s, ok in zip(syms, alive) if ok]


def encode(text, vocab, ranks, add_special_tokens):
    ids = [vocab[BOS]] if add_special_tokens else []
    for piece, special in split_added(text, SPECIAL):
        if special:
            ids.append(vocab[piece])
        elif piece:
            ids.extend(vocab[s] for s in bpe(normalize(piece), vocab, ranks))
    return ids


def decode(ids, id_to_token, skip_special):
    tokens = [id_to_token[i] for i in ids if not (skip_special and id_to_token[i] in SPECIAL)]
    tokens = [t.replace(SPACE, " ") for t in tokens]
    out, run = [], []  # ByteFallback: a run of byte tokens becomes its UTF-8 text, or one U+FFFD each

    def flush():
        if run:
            try:
                out.append(bytes(run).decode("utf-8"))
            except UnicodeDecodeError:
                out.append("\ufffd" * len(run))
            run.clear()

    for t in tokens:
        if len(t) == 6 and t.startswith("<0x") and t.endswith(">"):
            run.append(int(t[3:5], 16))
        else:
            flush()
            out.append(t)
    flush()
    s = "".join(out)  # Fuse
    return s[1:] if s.startswith(" ") else s  # Strip(" ", 1, 0)


def tokenizer_json(vocab, merges):
    added = added_entries(vocab, SPECIAL)
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SPACE},
            {"type": "Replace", "pattern": {"String": " "}, "content": SPACE},
        ]},
        "pre_tokenizer": None,
        "post_processor": bos_template(vocab, BOS),
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0},
        ]},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": UNK,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": True,
            "byte_fallback": True,
            "ignore_merges": False,
            "vocab": {t: i for t, i in vocab.items() if t not in ADDED},
            "merges": [a + " " + b for a, b in merges],
        },
    }


def tokenizer_config():
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": BOS,
        "eos_token": EOS,
        "unk_token": UNK,
        "pad_token": None,
        "clean_up_tokenization_spaces": False,
        "legacy": True,
        "model_max_length": 4096,
        "tokenizer_class": "LlamaTokenizer",
    }


def main():
    vocab, merges = train(CORPUS)
    ranks = {m: r for r, m in enumerate(merges)}
    id_to_token = {i: t for t, i in vocab.items()}
    cases = []
    for text in TEXTS:
        ids = encode(text, vocab, ranks, True)
        cases.append({
            "text": text, "ids": ids, "ids_no_special": encode(text, vocab, ranks, False),
            "decoded": decode(ids, id_to_token, False), "decoded_skip": decode(ids, id_to_token, True),
        })
    # Byte tokens that are not valid UTF-8 on their own (the first two bytes of "日"), between words.
    broken = [vocab[BOS], vocab[SPACE + "a"] if SPACE + "a" in vocab else vocab["a"], vocab[byte_token(0xE6)], vocab[byte_token(0x97)], vocab["b"]]
    cases.append({"text": None, "ids": broken, "ids_no_special": None, "decoded": decode(broken, id_to_token, False), "decoded_skip": decode(broken, id_to_token, True)})
    os.makedirs(OUT, exist_ok=True)
    for name, obj in [("tokenizer.json", tokenizer_json(vocab, merges)), ("tokenizer_config.json", tokenizer_config()), ("cases.json", {"cases": cases})]:
        with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=2)
            f.write("\n")
    fallback = sum(1 for c in cases if c["ids"] and any(3 <= i < 259 for i in c["ids"]))
    print("wrote %s: %d tokens, %d merges, %d cases (%d use byte fallback)" % (OUT, len(vocab), len(merges), len(cases), fallback))


if __name__ == "__main__":
    main()
