#!/usr/bin/env python3
"""Generates the tokenizer fixtures in test/fixtures/tokenizers/bpe-tiny/.

An independent, Python-standard-library-only implementation of GPT-2-style byte-level BPE,
used to check engine/models/tokenizer.ts (which runs Hugging Face `tokenizers.js`) against
something that is not itself:

  * bytes_to_unicode: GPT-2's reversible map from the 256 byte values to printable characters
    (openai/gpt-2 src/encoder.py), so that every byte string is a string of visible characters
    and a space becomes "Ġ" (U+0120);
  * pre-tokenizer: GPT-2's pattern
        's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+
    Python's `re` has no \\p{L} / \\p{N}, so `pretokenize` below is a hand-written scanner that
    tries the alternatives in order at each position, exactly as a backtracking regex engine
    does (including the backtrack of `\\s+(?!\\S)` that leaves the last space of a run to the
    next word). \\p{L} is "unicodedata.category(c) starts with L", \\p{N} is "category starts
    with N" (this is exact, unlike str.isalpha()/str.isnumeric(): isnumeric() also accepts CJK
    ideographs such as 一, which are \\p{L}); \\s is the Unicode White_Space property, listed
    explicitly in WHITESPACE (str.isspace() would also accept U+001C..U+001F, which Oniguruma,
    the regex engine of the Rust `tokenizers` crate, does not);
  * BPE training: word counts over a small embedded English corpus, then repeatedly merge the
    most frequent adjacent pair (ties broken by the smallest pair, compared as strings), NUM_MERGES
    times; vocabulary = the 256 byte symbols in bytes_to_unicode order, then one id per new merged
    symbol, then the added tokens;
  * BPE encoding: GPT-2's original `bpe()` loop (merge the lowest-rank adjacent pair, every
    occurrence left to right, until no pair has a rank);
  * added tokens: as Hugging Face `tokenizers` does, every added token (all special here) is cut
    out of the text first (leftmost, longest match) and becomes its own id; only the pieces between
    them are pre-tokenized and BPE-encoded;
  * post-processing: like Llama 3's tokenizer.json, a TemplateProcessing prepends the BOS token
    <|begin_of_text|> when special tokens are added (Hugging Face's default for encode).

Outputs:
  tokenizer.json          Hugging Face tokenizers format (model BPE, merges as "a b" strings,
                          pre_tokenizer ByteLevel add_prefix_space false, decoder ByteLevel,
                          post_processor Sequence[ByteLevel, TemplateProcessing(BOS $A)])
  tokenizer_config.json   bos/eos/pad (eos as an AddedToken object, as transformers writes it),
                          and a ChatML chat_template with add_generation_prompt
  cases.json              {"cases": [{text, ids, ids_no_special}], "chat": [{messages,
                          add_generation_prompt, text, ids}]}: `ids` with special tokens added
                          (BOS first), `ids_no_special` without; chat `text` is rendered here by
                          hand (not with Jinja) and `ids` encodes it without adding special tokens,
                          as transformers' apply_chat_template(tokenize=True) does.

Optional cross-checks, only when the packages happen to be importable (they are not needed):
`tokenizers` (the Rust library behind transformers) re-encodes every case from the written
tokenizer.json, and `jinja2` renders the chat template the way transformers configures it
(trim_blocks, lstrip_blocks). Both must agree or the script fails.

Run:  python3 test/reference/make_tokenizer_fixtures.py      (deterministic)
"""

import json
import os
import sys
import unicodedata
from collections import Counter

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "tokenizers", "bpe-tiny")
NUM_MERGES = 400

BOS = "<|begin_of_text|>"
EOS = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
ADDED = [EOS, BOS, IM_START, IM_END]  # ids assigned in this order after the BPE vocabulary

CHAT_TEMPLATE = (
    "{{- bos_token }}\n"
    "{%- for message in messages %}\n"
    "    {%- if message['role'] not in ['system', 'user', 'assistant'] %}\n"
    "        {{- raise_exception('Unknown role: ' + message['role']) }}\n"
    "    {%- endif %}\n"
    "    {{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n"
)

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello world! Hello again, world.",
    "It's a truth universally acknowledged that a model in possession of a reward must be hacked.",
    "I'm not sure, but I think they'll say it's fine; we've done this before, haven't we?",
    "You'd think they're right, but she'd disagree and we'd all argue about it.",
    "In 2024 there were 366 days, and in 2023 there were 365.",
    "The price rose from $3.50 to $4.75 (an increase of 35.7%) in 12 months.",
    "Call 555-0123 or email team@example.com before 9:30 a.m.",
    "She ordered a café au lait at the café near the naïve artist's studio.",
    "The résumé listed Zürich, São Paulo, and Kraków as previous addresses.",
    "Emoji are everywhere now: 🚀 launches, 🔥 trends, and 👍 approvals.",
    "The reward model gave the answer a score of 0.87, while the gold reward was only 0.42.",
    "Reinforcement learning from human feedback trains a policy against a learned reward.",
    "Reward hacking happens when the policy finds what the reward model likes but people do not.",
    "An ensemble of reward models is harder to fool than any single one of them.",
    "def add(a, b):\n    return a + b\n",
    "for i in range(10):\n    print(i * i)\n",
    "Line one.\nLine two.\n\nA new paragraph starts here.",
    "Tabs\tand  double  spaces   appear   sometimes.",
    "\"Quotes\" and 'single quotes' and (parentheses) and [brackets] and {braces}.",
    "What?! No way... Really?? Yes!!!",
    "Привет, мир! Это тест.",
    "日本語のテキストも少しあります。",
    "The answer is 42, not 41 or 43.",
    "Don't panic. Can't stop. Won't stop. Shouldn't we?",
    "THE END IS NEAR, SAID THE SIGN; IT'S ALWAYS NEAR.",
    "Numbers like 1,000,000 and 3.14159 and 2^10 = 1024 matter.",
    "A robust objective mixes the nominal reward with the minimum over the ensemble.",
    "Lambda equals 0.5 in half of the runs and 1.0 in the others.",
    "Good morning, good afternoon, and good night!",
    "the the the the a a a an an and and of of of to to to in in is is",
    "It costs £5, or £6 with tax; the oven is at 180 °C and the pool at 25 °C.",
    "Some files start with \ufeffa byte order mark, and \ufeffsome strings hide \ufeffone inside.",
]

TEXTS = [
    "Hello world",
    " Hello world",
    "Hello world ",
    "Hello   world",
    "  leading and trailing  ",
    "line one\nline two\n\n  indented",
    "\tTabs\tand\r\nCRLF\r\n",
    "trailing newline\n",
    "The year 2024 had 366 days; 3.14159 is pi.",
    "I'm sure they'll say it's fine, we've done it, you'd agree, they're right.",
    "DON'T SHOUT, IT'S LOUD",
    "café naïve résumé Zürich",
    "Ünïcödé ÀÉÎÕÜ",
    "emoji: 🚀🔥 and 👍🏽 and family 👨\u200d👩\u200d👧!",
    "日本語のテキスト",
    "Привет, мир!",
    "Ⅻ ½ x² 一二三",
    "before<|endoftext|>after",
    "abc<|endoftext|><|endoftext|>xyz",
    " <|endoftext|> spaced ",
    "<|im_start|>user\nhi<|im_end|>\n",
    "<|endoftext almost special",
    "",
    "   ",
    "a",
    "!!!???...,,,",
    "x = f(y) + 42 * z_1  # comment",
    "non\u00a0breaking\u00a0space",
    # U+0085 is White_Space and U+FEFF is not (JavaScript's \s has it the other way round); merges
    # learned from the corpus ("Ġ" + "Â" from " £", "Ġ" + "ï" from " \ufeff") make the split visible in ids.
    "a \x85b and \x85\x85c",
    "hidden \ufeffmark and \ufeff\ufeffmarks",
    "mixed123abc 456def",
    "aaaaaaaaaaaaaaaaaaaaaaa",
    "The reward model gave the answer a score of 0.87.",
]

CHATS = [
    {
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is 2 + 2?"},
        ],
        "add_generation_prompt": True,
    },
    {
        "messages": [
            {"role": "user", "content": "Say hi in French."},
            {"role": "assistant", "content": "Salut ! Ça va ?"},
            {"role": "user", "content": "And in Japanese?\nKeep it short."},
        ],
        "add_generation_prompt": False,
    },
]


# ---------------------------------------------------------------------------------------------
# GPT-2 pieces


def bytes_to_unicode():
    """GPT-2's byte -> printable character map (openai/gpt-2 src/encoder.py)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


BYTE_ENCODER = bytes_to_unicode()
BYTE_DECODER = {c: b for b, c in BYTE_ENCODER.items()}

# The Unicode White_Space property (PropList.txt), which is what \s means in Oniguruma's Unicode mode.
WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u2028\u2029\u202f\u205f\u3000"
)


def is_space(c):
    return c in WHITESPACE


def is_letter(c):
    return unicodedata.category(c).startswith("L")


def is_number(c):
    return unicodedata.category(c).startswith("N")


def is_other(c):
    return not (is_space(c) or is_letter(c) or is_number(c))


CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]


def _run(text, i, pred):
    """End of the run of characters satisfying pred starting at i (i itself if none)."""
    while i < len(text) and pred(text[i]):
        i += 1
    return i


def pretokenize(text):
    """GPT-2's pre-tokenizer regex, as a scanner that tries each alternative in order."""
    out = []
    i, n = 0, len(text)
    while i < n:
        end = None
        # 's|'t|'re|'ve|'m|'ll|'d  (case-sensitive, as in GPT-2)
        for c in CONTRACTIONS:
            if text.startswith(c, i):
                end = i + len(c)
                break
        # ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+'
        if end is None:
            for pred in (is_letter, is_number, is_other):
                j = i + 1 if text[i] == " " else i
                k = _run(text, j, pred)
                if k > j:
                    end = k
                    break
                # the optional space could also match nothing; but then text[i] == " " would have
                # to satisfy pred, which none of the three does for a space.
        # '\s+(?!\S)': the longest whitespace run, backtracked by one if a non-space follows
        if end is None:
            k = _run(text, i, is_space)
            if k > i:
                if k == n:
                    end = k
                elif k - 1 > i:
                    end = k - 1
        # '\s+'
        if end is None:
            k = _run(text, i, is_space)
            if k > i:
                end = k
        assert end is not None and end > i, (text, i)
        out.append(text[i:end])
        i = end
    return out


def to_byte_symbols(piece):
    return "".join(BYTE_ENCODER[b] for b in piece.encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# training


def train(corpus, num_merges):
    words = Counter()
    for line in corpus:
        for piece in pretokenize(line):
            words[tuple(to_byte_symbols(piece))] += 1
    vocab = {}
    for b in BYTE_ENCODER:  # the 256 byte symbols in bytes_to_unicode order (GPT-2's order)
        vocab[BYTE_ENCODER[b]] = len(vocab)
    return vocab, learn_merges(dict(words), vocab, num_merges)


def learn_merges(words, vocab, num_merges):
    """Merges the most frequent adjacent pair of symbols (ties: the smallest pair) num_merges times, adding
    each merged symbol to vocab. words: {tuple of symbols: count}; a None symbol (a character outside the
    vocabulary) takes part in no pair."""
    merges = []
    for _ in range(num_merges):
        pairs = Counter()
        for w, f in words.items():
            for a, b in zip(w, w[1:]):
                if a is not None and b is not None:
                    pairs[(a, b)] += f
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        merged = best[0] + best[1]
        if merged not in vocab:
            vocab[merged] = len(vocab)
        new_words = {}
        for w, f in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == best[0] and w[i + 1] == best[1]:
                    out.append(merged)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            t = tuple(out)
            new_words[t] = new_words.get(t, 0) + f
        words = new_words
    return merges


# ---------------------------------------------------------------------------------------------
# encoding


def bpe(token, ranks):
    """GPT-2's bpe() (openai/gpt-2 src/encoder.py), without the cache."""
    word = tuple(token)
    if len(word) < 2:
        return list(word)
    while True:
        pairs = set(zip(word, word[1:]))
        bigram = min(pairs, key=lambda p: ranks.get(p, float("inf")))
        if bigram not in ranks:
            break
        first, second = bigram
        new_word, i = [], 0
        while i < len(word):
            try:
                j = word.index(first, i)
            except ValueError:
                new_word.extend(word[i:])
                break
            new_word.extend(word[i:j])
            i = j
            if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                new_word.append(first + second)
                i += 2
            else:
                new_word.append(word[i])
                i += 1
        word = tuple(new_word)
        if len(word) == 1:
            break
    return list(word)


def split_added(text, tokens=ADDED):
    """Cuts the added tokens out of text (leftmost, longest first): [(piece, is_added)]."""
    out, i, start = [], 0, 0
    while i < len(text):
        hit = max((t for t in tokens if text.startswith(t, i)), key=len, default=None)
        if hit is None:
            i += 1
            continue
        if i > start:
            out.append((text[start:i], False))
        out.append((hit, True))
        i += len(hit)
        start = i
    if start < len(text):
        out.append((text[start:], False))
    return out


def encode(text, vocab, ranks, add_special_tokens):
    ids = [vocab[BOS]] if add_special_tokens else []
    for piece, added in split_added(text):
        if added:
            ids.append(vocab[piece])
            continue
        for word in pretokenize(piece):
            ids.extend(vocab[s] for s in bpe(to_byte_symbols(word), ranks))
    return ids


def decode(ids, id_to_token):
    out, buf = [], bytearray()
    for i in ids:
        t = id_to_token[i]
        if t in ADDED:
            out.append(buf.decode("utf-8", errors="replace"))
            buf = bytearray()
            out.append(t)
        else:
            buf.extend(BYTE_DECODER[c] for c in t)
    out.append(buf.decode("utf-8", errors="replace"))
    return "".join(out)


def render_chatml(messages, add_generation_prompt):
    """The chat template's output, written by hand (not with Jinja)."""
    s = BOS
    for m in messages:
        s += "<|im_start|>" + m["role"] + "\n" + m["content"] + "<|im_end|>\n"
    if add_generation_prompt:
        s += "<|im_start|>assistant\n"
    return s


# ---------------------------------------------------------------------------------------------
# files


def added_entries(vocab, tokens):
    """tokenizer.json's added_tokens: special, matched in the raw text (not normalized)."""
    return [
        {"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
        for t in tokens
    ]


def bos_template(vocab, bos):
    """A TemplateProcessing post-processor that prepends the BOS token (Llama's "<s> $A")."""
    return {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [
            {"SpecialToken": {"id": bos, "type_id": 0}},
            {"Sequence": {"id": "A", "type_id": 0}},
            {"SpecialToken": {"id": bos, "type_id": 1}},
            {"Sequence": {"id": "B", "type_id": 1}},
        ],
        "special_tokens": {bos: {"id": bos, "ids": [vocab[bos]], "tokens": [bos]}},
    }


def tokenizer_json(vocab, merges):
    added = added_entries(vocab, ADDED)
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {
            "type": "Sequence",
            "processors": [
                {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
                bos_template(vocab, BOS),
            ],
        },
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [a + " " + b for a, b in merges],
        },
    }


def tokenizer_config():
    return {
        "added_tokens_decoder": {},
        "bos_token": BOS,
        "eos_token": {"__type": "AddedToken", "content": EOS, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True},
        "pad_token": EOS,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 1024,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": CHAT_TEMPLATE,
    }


def write_json(name, obj):
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


def cross_check(cases, chats):
    """Optional: the Rust `tokenizers` library and `jinja2`, when importable, must agree."""
    try:
        from tokenizers import Tokenizer  # type: ignore
    except ImportError:
        print("cross-check: `tokenizers` not importable; skipped")
    else:
        tok = Tokenizer.from_file(os.path.join(OUT, "tokenizer.json"))
        bad = 0
        for c in cases:
            got = tok.encode(c["text"], add_special_tokens=True).ids
            got_ns = tok.encode(c["text"], add_special_tokens=False).ids
            if got != c["ids"] or got_ns != c["ids_no_special"]:
                bad += 1
                print(f"cross-check MISMATCH for {c['text']!r}:\n  python {c['ids']}\n  rust   {got}")
            if tok.decode(got_ns, skip_special_tokens=False) != c["text"]:
                bad += 1
                print(f"cross-check decode MISMATCH for {c['text']!r}")
        for c in chats:
            if tok.encode(c["text"], add_special_tokens=False).ids != c["ids"]:
                bad += 1
                print(f"cross-check chat MISMATCH for {c['text']!r}")
        if bad:
            sys.exit(f"cross-check with tokenizers failed ({bad} mismatches)")
        print(f"cross-check: tokenizers {getattr(sys.modules['tokenizers'], '__version__', '?')} agrees on {len(cases)} cases and {len(chats)} chats")
    try:
        import jinja2  # type: ignore
        from jinja2.sandbox import ImmutableSandboxedEnvironment  # type: ignore
    except ImportError:
        print("cross-check: `jinja2` not importable; skipped")
    else:
        def raise_exception(msg):
            raise jinja2.exceptions.TemplateError(msg)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = raise_exception
        tpl = env.from_string(CHAT_TEMPLATE)
        for c in chats:
            got = tpl.render(messages=c["messages"], add_generation_prompt=c["add_generation_prompt"], bos_token=BOS, eos_token=EOS)
            if got != c["text"]:
                sys.exit(f"cross-check with jinja2 failed:\n  jinja2 {got!r}\n  hand   {c['text']!r}")
        print(f"cross-check: jinja2 {jinja2.__version__} renders {len(chats)} chats identically")


def main():
    os.makedirs(OUT, exist_ok=True)
    vocab, merges = train(CORPUS, NUM_MERGES)
    assert len(merges) == NUM_MERGES, len(merges)
    for t in ADDED:
        vocab[t] = len(vocab)
    ranks = {m: r for r, m in enumerate(merges)}
    id_to_token = {i: t for t, i in vocab.items()}
    assert len(id_to_token) == len(vocab)

    cases = []
    for text in TEXTS:
        ids = encode(text, vocab, ranks, True)
        ids_ns = encode(text, vocab, ranks, False)
        assert ids == [vocab[BOS]] + ids_ns
        assert decode(ids_ns, id_to_token) == text, text
        cases.append({"text": text, "ids": ids, "ids_no_special": ids_ns})
    chats = []
    for c in CHATS:
        text = render_chatml(c["messages"], c["add_generation_prompt"])
        ids = encode(text, vocab, ranks, False)
        assert decode(ids, id_to_token) == text
        chats.append({**c, "text": text, "ids": ids})

    write_json("tokenizer.json", tokenizer_json(vocab, merges))
    write_json("tokenizer_config.json", tokenizer_config())
    write_json("cases.json", {"cases": cases, "chat": chats})
    print(f"wrote {OUT}: vocab {len(vocab)} ({len(merges)} merges, {len(ADDED)} added tokens), {len(cases)} cases, {len(chats)} chats")
    cross_check(cases, chats)


if __name__ == "__main__":
    main()
