#!/usr/bin/env python3
"""Golden files for hallu's CHAIR pipeline from the real NLTK 3.8.1 (the release chair.py's published
numbers were computed with), its trained English models in data/nltk and WordNet 3.0.

    pip install nltk==3.8.1            # plus WordNet 3.0, e.g. Debian's wordnet-base
    python3 scripts/eval_nltk_goldens.py [WORDNET_DIR]     # default /usr/share/wordnet

Writes, under Tests/Fixtures/eval/:
  nltk_sentences.json.gz   crafted texts (abbreviations, numbers, hyphens, quotes, non-ASCII) and
                           sentences of the Table 1 captions, each as written and lower-cased:
                           nltk.sent_tokenize, nltk.word_tokenize and nltk.pos_tag of the tokens.
  nltk_captions.json.gz    every caption of every Table 1 file (data/less-is-more/Table1-results):
                           its Punkt sentence spans (as written) and, for the lower-cased caption
                           chair.py parses, the token count and the first 16 hex digits of the SHA-256
                           of its tokens and tags ("\\t"-joined tokens, "\\n", "\\t"-joined tags, UTF-8).
  chair_table1.json.gz     chair.py (CHAIR-eval/chair.py of less-is-more, re-implemented below with
                           the same steps) on every Table 1 file against
                           data/CHAIR-metric-standalone/chair500_gt_objects.json: per caption the
                           mentions, hallucinated (word, node) pairs, ground-truth words, recalled
                           words and raw word count; per file CHAIRs, CHAIRi, Recall and Len.

The models are written back into the layout NLTK loads (a pickled tuple for the tagger, a pickled
PunktSentenceTokenizer for Punkt) in a temporary NLTK_DATA folder; nothing is downloaded.
"""
import glob
import gzip
import hashlib
import json
import os
import pickle
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.join(HERE, "..")
DATA = os.path.join(REPO, "data")
OUT = os.path.join(REPO, "Tests", "Fixtures", "eval")
WORDNET = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wordnet"

# WordNet's lexicographer file names (fixed by WordNet 3.0; Debian's wordnet-base lacks the file
# that lists them, which NLTK's reader opens).
LEXNAMES = ("adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
            "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
            "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
            "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
            "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
            "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather "
            "adj.ppl").split()


def nltk_data_folder():
    """A temporary NLTK_DATA with the repository's models and WordNet 3.0."""
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

    root = tempfile.mkdtemp(prefix="hallu-nltk-")
    tagger = json.load(gzip.open(os.path.join(DATA, "nltk", "averaged_perceptron_tagger.json.gz")))
    os.makedirs(os.path.join(root, "taggers", "averaged_perceptron_tagger"))
    with open(os.path.join(root, "taggers", "averaged_perceptron_tagger", "averaged_perceptron_tagger.pickle"), "wb") as f:
        pickle.dump((tagger["weights"], tagger["tagdict"], set(tagger["classes"])), f, 2)
    punkt = json.load(gzip.open(os.path.join(DATA, "nltk", "punkt_english.json.gz")))
    params = PunktParameters()
    params.abbrev_types = set(punkt["abbrev_types"])
    params.collocations = set(tuple(c) for c in punkt["collocations"])
    params.sent_starters = set(punkt["sent_starters"])
    for typ, flags in punkt["ortho_context"].items():
        params.ortho_context[typ] = flags
    os.makedirs(os.path.join(root, "tokenizers", "punkt", "PY3"))
    with open(os.path.join(root, "tokenizers", "punkt", "PY3", "english.pickle"), "wb") as f:
        pickle.dump(PunktSentenceTokenizer(params), f)
    wn = os.path.join(root, "corpora", "wordnet")
    os.makedirs(wn)
    for name in os.listdir(WORDNET):
        os.symlink(os.path.join(os.path.abspath(WORDNET), name), os.path.join(wn, name))
    if not os.path.exists(os.path.join(wn, "lexnames")):
        with open(os.path.join(wn, "lexnames"), "w") as f:
            cat = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}
            for i, n in enumerate(LEXNAMES):
                f.write("%02d\t%s\t%d\n" % (i, n, cat[n.split(".")[0]]))
    return root


os.environ["NLTK_DATA"] = nltk_data_folder()
import nltk  # noqa: E402  (after NLTK_DATA is set)
from nltk.corpus import wordnet  # noqa: E402
from nltk.stem import WordNetLemmatizer  # noqa: E402

nltk.data.path[:] = [os.environ["NLTK_DATA"]]
assert nltk.__version__ == "3.8.1", nltk.__version__
assert wordnet.get_version() == "3.0", wordnet.get_version()

CRAFTED = [
    # Abbreviations, initials, collocations, sentence starters after abbreviations.
    "Mr. Smith went to Washington. He met Dr. Jones at 3 p.m. today.",
    "The U.S. Army and the U.K. navy met at St. Louis on Jan. 5th. They left.",
    "e.g. a cat, i.e. a dog, etc. However, the rest is fine.",
    "a cat, etc. the dog sat. and then? it left! ok.",
    "J. S. Bach wrote it. A. Smith disagreed.",
    "It was written by J. Bach in 1723. The end.",
    "Prof. Lee and Gen. Grant vs. Col. Mustard, Inc. and Co. Ltd. are here.",
    "The No. 5 bus stops at Ave. B. Then it turns.",
    "See fig. 3. Also see Sec. 2.1 and pp. 10-12.",
    "He said approx. 5 km. Mt. Fuji is tall.",
    "The 2nd. item. The 3rd. one. 1. First. 2. Second.",
    "Chapter 11. The debt was paid. On Nov. 12 the firm closed.",
    # Numbers.
    "There are 2. more items: apples, 3,000 oranges and 1.5 bananas.",
    "It costs $5.99 & more @ the #1 store 50% off. 1990 was a year; 1990s too.",
    "Call 555-1234 or -5 degrees at 12:30. The score was 3-2.",
    "The model scored .5 and ,5 and 5. and -.5 and 1,000.50 today.",
    "In 2023 the 4 dogs ate 12 bones. 7 cats watched.",
    # Hyphens and dashes.
    "A well-known, state-of-the-art x-ray machine -- really -- is here.",
    "a man--a woman. x.  an old-fashioned red-and-white bus.",
    "---the end--- and - a dash - or two.",
    # Quotes.
    'She said "hello." then left.',
    "He said, 'no.' she said 'yes'.",
    "“curly quotes” and ‘single’ ones… ok.",
    "the 'quoted' word and ''double'' quotes ``here``.",
    '"Is it?" he asked. "Yes!" she said.',
    "(the cat sat.) the dog ran. [a bird flew.] {a fish swam.} next",
    'A sentence."Another one." Third',
    "see the dog.) next",
    # Contractions and clitics.
    "The man's dog isn't here, and they're gone... or are they?",
    "I'd say you'll see we've done what's right, won't you?",
    "gonna wanna gimme lemme more'n d'ye cannot 'tis 'twas",
    "'a 'b' c' d",
    # Ellipses and repeated marks.
    "wait!!! what?! no. really?? yes... . . . maybe",
    "It ended . . . Then it began. . . . Again.",
    "The end .  ",
    "...",
    "a. b. c.",
    "a b. c d. e.g. the dog.",
    # Whitespace and lines.
    "the image shows a toilet seat\n\nand a sink.",
    "Line one.\nLine two.\n\n\nParagraph. Next\tone.",
    "   ",
    "",
    "A dog .",
    # Capitalisation.
    "THE IMAGE SHOWS A DOG. IT IS BROWN. THE END.",
    "the image shows a dog. it is brown. the end.",
    "In the image, a man is riding a horse. The horse is brown. There are trees.",
    "The image features a Man. Riding a Horse in New York City. Paris is far.",
    # Non-ASCII.
    "A café in Zürich serves crème brûlée. The naïve barista smiles.",
    "ΣΟΦΟΣ ΛΟΓΟΣ. Ὀδυσσεύς sailed. Straße and İstanbul and ǅemal.",
    "日本語のテキスト。 A sign reads 東京. An emoji 🐶 sits here.",
    "A dog\u00a0and a cat\u2003sit. The end\u2026 Next — here.",
    "The temperature is 25°C. The area is 5 m² and ½ of it is grass.",
    "Two dogs\u2028and a line separator. Done\u0085here.",
    "The word ﬁsh has a ligature. ＡＢＣ fullwidth. Ⅻ numerals. ١٢٣ digits.",
    "a combining e\u0301 accent. Zalgo t\u0336e\u0336x\u0336t.",
]


def sha(tokens, tags):
    text = "\t".join(tokens) + "\n" + "\t".join(tags)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def case(text):
    tokens = nltk.word_tokenize(text)
    return {"text": text, "sentences": nltk.sent_tokenize(text), "tokens": tokens,
            "tags": [t for _, t in nltk.pos_tag(tokens)]}


def table1_files():
    return sorted(glob.glob(os.path.join(DATA, "less-is-more", "Table1-results", "*.jsonl")),
                  key=lambda p: int(os.path.basename(p).split("-")[0][1:]))


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def sentence_cases():
    cases = []
    for text in CRAFTED:
        cases.append(case(text))
        cases.append(case(text.lower()))
    # Every sentence of every 8th caption of each Table 1 file, as written and lower-cased.
    seen = set()
    for path in table1_files():
        for i, record in enumerate(read_jsonl(path)):
            if i % 8:
                continue
            for sentence in nltk.sent_tokenize(record["text"]):
                if sentence in seen:
                    continue
                seen.add(sentence)
                cases.append(case(sentence))
                cases.append(case(sentence.lower()))
    return cases


def spans(text):
    return [list(s) for s in nltk.tokenize.load("tokenizers/punkt/english.pickle").span_tokenize(text)]


def caption_cases():
    out = []
    for path in table1_files():
        name = os.path.splitext(os.path.basename(path))[0]
        for i, record in enumerate(read_jsonl(path)):
            text = record["text"]
            tokens = nltk.word_tokenize(text.lower())
            tags = [t for _, t in nltk.pos_tag(tokens)]
            out.append({"file": name, "line": i, "spans": spans(text), "tokens": len(tokens), "sha256": sha(tokens, tags)})
    return out


class ChairPy:
    """chair.py's caption parsing and scoring (CHAIR-eval/chair.py of less-is-more), with the
    vocabulary its cache stores (chair_vocab.json) and the ground truth of chair500_gt_objects.json."""

    def __init__(self, vocab, gt):
        self.mscoco_objects = set(vocab["mscoco_objects"])
        self.inverse_synonym_dict = vocab["inverse_synonym_dict"]
        self.double_word_dict = vocab["double_word_dict"]
        self.imid_to_objects = {int(k): set(v) for k, v in gt.items()}
        self.wnl = WordNetLemmatizer()

    @staticmethod
    def wordnet_pos(tag):
        if tag.startswith("J"):
            return wordnet.ADJ
        if tag.startswith("V"):
            return wordnet.VERB
        if tag.startswith("N"):
            return wordnet.NOUN
        if tag.startswith("R"):
            return wordnet.ADV
        return None

    def caption_to_words(self, caption):
        tokens = nltk.word_tokenize(caption.lower())
        lemmas = [self.wnl.lemmatize(w, pos=self.wordnet_pos(t) or wordnet.NOUN) for w, t in nltk.pos_tag(tokens)]
        merged, i = [], 0
        while i < len(lemmas):
            pair = " ".join(lemmas[i:i + 2])
            if pair in self.double_word_dict:
                merged.append(self.double_word_dict[pair])
                i += 2
            else:
                merged.append(lemmas[i])
                i += 1
        words = merged
        if "toilet" in words and "seat" in words:
            words = [w for w in words if w != "seat"]
        words = [w for w in words if w in self.mscoco_objects]
        return words, [self.inverse_synonym_dict[w] for w in words], merged

    def score(self, records):
        captions, n_hal_caps, n_hal, n_words, n_len, n_recall, n_gt = [], 0, 0, 0, 0, 0, 0
        for r in records:
            imid = int(r["image_id"].replace("COCO_val2014_", "").replace(".jpg", ""))
            words, nodes, raw = self.caption_to_words(r["text"])
            gt = self.imid_to_objects.get(imid, set())
            hallucinated = [[w, n] for w, n in zip(words, nodes) if n not in gt]
            recalled = {n for n in nodes if n in gt}
            n_words += len(nodes)
            n_hal += len(hallucinated)
            n_hal_caps += 1 if hallucinated else 0
            n_len += len(raw)
            n_gt += len(gt)
            n_recall += len(recalled)
            captions.append({"image_id": imid, "words": words, "generated": nodes, "hallucinated": hallucinated,
                             "gt": sorted(gt), "recalled": sorted(recalled), "raw_words": len(raw)})
        n = len(records)
        overall = {"CHAIRs": n_hal_caps / n, "CHAIRi": n_hal / n_words, "Recall": n_recall / n_gt,
                   "Len": 0.01 * n_len / n}
        # Beside the score: whitespace words and Punkt sentences of the captions as written, and the
        # digest of the image ids scored (sorted, one per line).
        ids = sorted({str(c["image_id"]) for c in captions})
        length = {"words": sum(len(r["text"].split()) for r in records),
                  "sentences": sum(len(nltk.sent_tokenize(r["text"])) for r in records)}
        return {"overall": overall, "counts": {"captions": n, "hallucinated_captions": n_hal_caps,
                                               "mentions": n_words, "hallucinated_mentions": n_hal,
                                               "recalled": n_recall, "gt_objects": n_gt, "raw_words": n_len},
                "length": length, "images": len(ids),
                "image_ids_sha256": hashlib.sha256("".join(i + "\n" for i in ids).encode()).hexdigest(),
                "captions": captions}


def chair_cases():
    vocab = json.load(open(os.path.join(DATA, "CHAIR-metric-standalone", "chair_vocab.json")))
    gt = json.load(open(os.path.join(DATA, "CHAIR-metric-standalone", "chair500_gt_objects.json")))
    chair = ChairPy(vocab, gt)
    out = {}
    for path in table1_files():
        name = os.path.splitext(os.path.basename(path))[0]
        out[name] = chair.score(read_jsonl(path))
        o = out[name]["overall"]
        print("%-18s CHAIRs %.1f CHAIRi %.1f Recall %.1f Len %.1f" % (name, o["CHAIRs"] * 100, o["CHAIRi"] * 100,
                                                                        o["Recall"] * 100, o["Len"] * 100))
    return out


def write(name, value):
    path = os.path.join(OUT, name)
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    with open(path, "wb") as f:
        # mtime 0: the same input gives the same bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as g:
            g.write(data)
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))


def main():
    os.makedirs(OUT, exist_ok=True)
    write("nltk_sentences.json.gz", sentence_cases())
    write("nltk_captions.json.gz", caption_cases())
    write("chair_table1.json.gz", chair_cases())


if __name__ == "__main__":
    main()
