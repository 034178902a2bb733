#!/usr/bin/env python3
"""Golden files for hallu's tokenizer, produced with Hugging Face `tokenizers`.

Writes under Tests/Fixtures/tokenizer/:
  corpus.json                      the training corpus (a list of strings)
  bytelevel/tokenizer.json         GPT-2 style byte-level BPE trained by HF on the corpus
  llama/tokenizer.json             Llama-2 style file: Prepend/Replace normalizer, byte_fallback BPE
  llama_metaspace/tokenizer.json   the newer Llama layout: Metaspace(prepend_scheme="first") pre-tokenizer
  llama3/tokenizer.json            Llama-3 layout: Split on the GPT-4 regex, ByteLevel without its regex,
                                   ignore_merges, <|begin_of_text|>
  misc/tokenizer.json              NFKC + Lowercase + Strip normalizers, WhitespaceSplit and Split
                                   pre-tokenizers, an end-of-word suffix, an unk token, a normalized added token
  <each>/cases.json                text -> ids (with and without special tokens) and ids -> text

Folders written by hallu itself (run `HALLU_WRITE_TOKENIZER_GOLDENS=1 swift test --filter Tokenizer` first):
  swift_trained/                   a tokenizer trained and saved by hallu
  swift_resaved_llama/, swift_resaved_llama_metaspace/   the llama files loaded and saved again by hallu
When their tokenizer.json exists, HF loads it and writes its cases.json, so hallu's saved files are
checked against HF's reader.

Usage: python scripts/gen_tokenizer_goldens.py   (needs `tokenizers`; run from anywhere)
"""
import json
import os
import random
import unicodedata

import tokenizers
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "tokenizer")
SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]

SYSTEM = ("A chat between a curious human and an artificial intelligence assistant. "
          "The assistant gives helpful, detailed, and polite answers to the human's questions.")


def corpus():
    """Caption-like sentences from a fixed seed, chat-formatted samples, and some non-ASCII text."""
    rng = random.Random(0)
    colors = ["red", "blue", "green", "yellow", "black", "white", "brown", "orange"]
    objects = ["cat", "dog", "car", "person", "chair", "couch", "cup", "bicycle", "bus", "pizza",
               "laptop", "umbrella", "bottle", "clock", "bench", "horse", "giraffe", "banana"]
    places = ["kitchen", "street", "living room", "park", "beach", "office", "bedroom", "field"]
    rels = ["next to", "on top of", "under", "behind", "in front of", "left of", "right of"]
    out = []
    for _ in range(260):
        a, b = rng.sample(objects, 2)
        s = f"A {rng.choice(colors)} {a} is {rng.choice(rels)} a {rng.choice(colors)} {b} in the {rng.choice(places)}."
        if rng.random() < 0.3:
            s += f" There are {rng.randint(2, 12)} {b}s and it's {rng.choice(['sunny', 'dark', 'cloudy'])}."
        out.append(s)
    for _ in range(40):
        q = rng.choice(["What is in the image?", "Describe the image in detail.", "Is there a cat?"])
        a = rng.choice(["Yes, there is.", "No, there isn't.", f"A {rng.choice(objects)} near a {rng.choice(objects)}."])
        out.append(f"{SYSTEM} USER: <image>\n{q} ASSISTANT: {a}</s>")
    out += [
        "Café au lait, naïve façade, déjà vu.",
        "Über den Wolken: schöne Grüße aus Köln!",
        "猫がソファの上で寝ています。",
        "一只猫坐在红色的沙发上。",
        "Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 2024",
        "Tabs\tand\nnewlines\n\nand  double  spaces.",
        "I'm sure you'll see they're here; we've said he'd come.",
    ]
    return out


CASES = [
    "A cat sitting on a red couch.",
    "A dog is next to a green bicycle in the park.",
    "  leading spaces and trailing   ",
    "multiple\n\nnewlines\n  indented line",
    "tabs\tand\r\nCRLF endings",
    "Café naïve façade — “quotes” déjà vu",
    "東京の猫は寝ている。",
    "emoji 🐱🚗👍🏽 and a flag 🇫🇷!",
    "USER: <image>\nWhat is in the picture? ASSISTANT: A dog.</s>USER: and?",
    "<s>starts with bos</s>",
    "</s></s>",
    "numbers 12345 and 3.14159 and ½²",
    "it's they're we've I'm you'll he'd 'quoted'",
    "",
    " ",
    "\n",
    "<mask> masked token <mask>and",
    "word<obj>word <obj> x",
    "dog dogs hotdog dog_x dog. (dog) 3dog <rs>   after <rs>x<rs>",
    "rare chars: ☃ ∑ ß Ω ǅ",
    "\u00a0nbsp and \u3000 ideographic\u2003em",
    "e\u0301 combining accent",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "Ｆｕｌｌｗｉｄｔｈ ﬁne Straße İstanbul ΣΑΣ well-known state-of-the-art [MASK] x[mask]y",
    "IT'S 1234567 THE 99 dogs\u000b\u0085 \r\n\r\n  end",
    SYSTEM + " USER: <image>\nDescribe the image in detail. ASSISTANT: A red car.</s>",
]


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def dump_cases(tok: Tokenizer, folder: str, extra_ids):
    cases = []
    for text in CASES:
        with_sp = tok.encode(text, add_special_tokens=True).ids
        without = tok.encode(text, add_special_tokens=False).ids
        cases.append({
            "text": text,
            "ids": with_sp,
            "ids_no_special": without,
            "decoded": tok.decode(with_sp, skip_special_tokens=True),
            "decoded_with_special": tok.decode(with_sp, skip_special_tokens=False),
        })
    decodes = []
    for ids in extra_ids:
        decodes.append({"ids": ids,
                        "decoded": tok.decode(ids, skip_special_tokens=True),
                        "decoded_with_special": tok.decode(ids, skip_special_tokens=False)})
    # One case per line keeps the file small and its diffs readable.
    def lines(items):
        return ",\n".join("  " + json.dumps(x, ensure_ascii=False) for x in items)
    text = ("{\n" f' "generator": "tokenizers {tokenizers.__version__}",\n'
            f' "vocab_size": {tok.get_vocab_size(with_added_tokens=True)},\n'
            f' "cases": [\n{lines(cases)}\n ],\n "decode_cases": [\n{lines(decodes)}\n ]\n}}\n')
    json.loads(text)
    with open(os.path.join(folder, "cases.json"), "w", encoding="utf-8") as f:
        f.write(text)


def byte_level(texts):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", tok.token_to_id("<s>"))])
    # Special tokens that swallow the whitespace on their left / right, and ordinary added tokens,
    # one of them matched only as a whole word.
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True),
                            AddedToken("<rs>", rstrip=True, special=True)])
    tok.add_tokens([AddedToken("<obj>", special=False, normalized=False),
                    AddedToken("dog", single_word=True, special=False, normalized=False)])
    folder = os.path.join(ROOT, "bytelevel")
    save(tok, folder)
    # Ids that end inside a multi-byte character, and unknown ids (dropped by decode).
    e = tok.encode("é🐱", add_special_tokens=False).ids
    dump_cases(tok, folder, [e[:1], e[1:], [1, 2, 3], [99999, 5, 6]])


def llama_vocab(texts):
    """A byte_fallback BPE trained on words split like sentencepiece does (a '▁' before each word)."""
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=True)
    byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
    trainer = trainers.BpeTrainer(vocab_size=900, special_tokens=SPECIALS[:3] + byte_tokens, show_progress=False)
    # Latin text only, so that CJK and emoji fall back to bytes. (HF's limit_alphabet would do it too, but
    # it breaks ties between equally rare characters differently from run to run.)
    tok.train_from_iterator([t for t in texts if all(ord(c) < 0x250 for c in t)], trainer)
    spec = json.loads(tok.to_str())
    # Real Llama files list only <unk>, <s>, </s> as added tokens; the byte tokens are plain vocabulary.
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["content"] in SPECIALS[:3]]
    return spec


def llama(spec, metaspace: bool):
    spec = json.loads(json.dumps(spec))
    bos = spec["model"]["vocab"]["<s>"]
    if metaspace:
        spec["normalizer"] = None
        spec["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False}
    else:
        spec["normalizer"] = {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
        spec["pre_tokenizer"] = None
    spec["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    spec["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [bos], "tokens": ["<s>"]}}}
    tok = Tokenizer.from_str(json.dumps(spec))
    folder = os.path.join(ROOT, "llama_metaspace" if metaspace else "llama")
    save(tok, folder)
    e = tok.encode("é🐱", add_special_tokens=False).ids
    byte_ids = [spec["model"]["vocab"][f"<0x{b:02X}>"] for b in "🐱".encode()]
    dump_cases(tok, folder, [e, byte_ids[:2], byte_ids[:2] + [spec["model"]["vocab"]["▁a"]],
                             [1, 2, 0, 3], [99999, 40, 41]])


LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def llama3(texts):
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(tokenizers.Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    specials = ["<|begin_of_text|>", "<|end_of_text|>"]
    trainer = trainers.BpeTrainer(vocab_size=800, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
        special_tokens=[("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))])
    folder = os.path.join(ROOT, "llama3")
    save(tok, folder)
    dump_cases(tok, folder, [[0, 5, 6, 1]])


def misc(texts):
    # HF's trainer numbers suffixed characters in hash order, so this model is written by hand instead:
    # every character, alone and with the suffix, plus a few merges.
    chars = sorted({c for t in texts for c in unicodedata.normalize("NFKC", t).lower() if not c.isspace()} | set("-0123456789"))
    vocab = {"[UNK]": 0, "<s>": 1, "</s>": 2}
    for c in chars:
        for tok in (c, c + "</w>"):
            vocab.setdefault(tok, len(vocab))
    merges = []
    for a, b in [("t", "h"), ("th", "e</w>"), ("a", "n"), ("an", "d</w>"), ("i", "n"), ("in", "g</w>"),
                 ("o", "n</w>"), ("e", "r"), ("d", "o"), ("do", "g</w>"), ("c", "a"), ("ca", "t</w>"),
                 ("r", "e"), ("re", "d</w>"), ("i", "s</w>"), ("a", "r"), ("ar", "t</w>"), ("s", "t"),
                 ("st", "a"), ("w", "e"), ("we", "l"), ("wel", "l"), ("well", "-</w>"), ("o", "f"),
                 ("of", "-</w>"), ("th", "e"), ("the", "-</w>"), ("do", "g"), ("dog", "s</w>")]:
        merges.append((a, b))
        vocab.setdefault(a + b, len(vocab))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="[UNK]", end_of_word_suffix="</w>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Strip()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Split("-", behavior="merged_with_previous"),
        pre_tokenizers.Split(tokenizers.Regex(r"\p{N}"), behavior="isolated")])
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    tok.add_special_tokens([AddedToken("<s>", special=True), AddedToken("</s>", special=True)])
    tok.add_tokens([AddedToken("[mask]", normalized=True, special=False)])
    folder = os.path.join(ROOT, "misc")
    save(tok, folder)
    dump_cases(tok, folder, [[0, 5, 6, 1]])


def save(tok: Tokenizer, folder: str):
    os.makedirs(folder, exist_ok=True)
    spec = json.loads(tok.to_str())
    write_json(os.path.join(folder, "tokenizer.json"), spec)


def main():
    texts = corpus()
    write_json(os.path.join(ROOT, "corpus.json"), texts)
    byte_level(texts)
    spec = llama_vocab(texts)
    llama(spec, metaspace=False)
    llama(spec, metaspace=True)
    llama3(texts)
    misc(texts)
    for name in ["swift_trained", "swift_resaved_llama", "swift_resaved_llama_metaspace"]:
        swift = os.path.join(ROOT, name, "tokenizer.json")
        if os.path.exists(swift):
            tok = Tokenizer.from_file(swift)
            e = tok.encode("é🐱", add_special_tokens=False).ids
            dump_cases(tok, os.path.dirname(swift), [e[:1], e, [0, 1, 2, 3]])
    print("wrote goldens under", os.path.normpath(ROOT))


if __name__ == "__main__":
    main()
