#!/usr/bin/env python3
"""Golden tokens for the CHAIR tokenizer: what nltk.word_tokenize (NLTK 3.8.1, the release CHAIR's
published numbers were computed with) gives on tricky sentences and on a sample of real captions.

Punkt's trained English parameters cannot be fetched here, so sentences are split with an untrained
PunktSentenceTokenizer, which is what hallu reproduces (the trained model only adds abbreviations).

    pip install nltk==3.8.1
    python3 scripts/eval_tokenizer_golden.py > Tests/Fixtures/eval/tokenizer_golden.json
"""
import json
import os
import sys

from nltk.tokenize import NLTKWordTokenizer
from nltk.tokenize.punkt import PunktSentenceTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "data")

CRAFTED = [
    "a dog. a cat.",
    "The man's dog isn't here, and they're gone... or are they?",
    'She said "hello." then left.',
    "He cannot go; we gotta leave (now) -- really!",
    "There are 2. more items: apples, 3,000 oranges and 1.5 bananas.",
    "It costs $5 & more @ the #1 store 50% off.",
    "'Tis the season. 'twas fun!",
    "a b. c d. e.g. the dog.",
    "the image shows a toilet seat\n\nand a sink.",
    "(the cat sat.) the dog ran.",
    "“curly quotes” and ‘single’ ones… ok.",
    "I'd say you'll see we've done what's right, won't you?",
    "a man--a woman. x.",
    "the end .  ",
    "wait!!! what?! no.",
    "a. b. c.",
    "'a 'b' c' d",
    "gonna wanna gimme lemme more'n d'ye",
    "the 'quoted' word and ''double'' quotes ``here``.",
    "see the dog.) next",
    "items: a,b and c:d, e: f",
    "he said, 'no.' she said 'yes'.",
    "A sentence.\"Another one.\" Third",
    "Mr. Smith went to Washington. He met Dr. Jones at 3 p.m. today.",
    "",
    "   ",
    "...",
    "a dog .",
]


def tokenize(text, punkt=PunktSentenceTokenizer(), words=NLTKWordTokenizer()):
    return [t for s in punkt.tokenize(text) for t in words.tokenize(s)]


def main():
    cases = [{"text": t, "tokens": tokenize(t)} for t in CRAFTED]
    # Every 25th caption of each Less-is-More result file, lower-cased as CHAIR does.
    folder = os.path.join(SHARED, "less-is-more", "Table1-results")
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i % 25 == 0:
                    text = json.loads(line)["text"].lower()
                    cases.append({"text": text, "tokens": tokenize(text)})
    json.dump(cases, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
