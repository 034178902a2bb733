#!/usr/bin/env python3
"""Golden numbers for POPE scoring: free-form answers to the three POPE-COCO splits
(data/POPE/output/coco), scored with the procedures of POPE's evaluate.py and of LLaVA's
eval_pope.py (re-implemented below, same steps), on answer files written in the layouts of POPE /
HA-DPO, LLaVA's model_vqa_loader (one file per split, and one file for all splits with
llava_pope_test-style categories), VCD and lmms-eval logs.

    python3 scripts/eval_pope_goldens.py      # standard library only

Writes Tests/Fixtures/eval/pope_answers.json.gz: {"answers": {split: [text per question]},
"expected": {split: {tp, fp, tn, fn, accuracy, precision, recall, f1, yes_ratio}}, "mean": {...}}.
EvalPOPETests writes the same answers in every layout and checks hallu gives these numbers exactly.
"""
import gzip
import json
import os
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.join(HERE, "..")
POPE = os.path.join(REPO, "data", "POPE", "output", "coco")
OUT = os.path.join(REPO, "Tests", "Fixtures", "eval", "pope_answers.json.gz")
SPLITS = ["random", "popular", "adversarial"]

# Answers as models write them. Which way evaluate.py reads each one is its business: several are
# meant as "no" but read as "yes" ("NO", "Nope", "No,there...", "There's none. No.") and some the
# other way round ("Yes, but not the whole object.").
YES = ["Yes.", "Yes", "yes", "Yes, there is a {o} in the image.", "Yes, there is {o} in the image", "There is a {o}.",
       "Yes, but not the whole {o}.", "YES", " Yes", "Yes\n", "I can see a {o}, yes.", "A {o} is visible. No doubt.",
       "Yes,\nthere is.", "Definitely yes!", "Oui.", "Yes, a {o}.\u00a0No other objects."]
NO = ["No.", "No", "no", "No, there is no {o} in the image.", "There is no {o} in the image.", "The image does not show a {o}.",
      "NO", "Nope.", "No,there isn't", "There's none. No.", "no\nthere is not", "I do not see a {o}.", "not", "No\u00a0{o}.",
      "Non.", "There are no {o}s, no.", ""]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def object_of(question):
    for prefix in ("Is there an ", "Is there a "):
        if question.startswith(prefix):
            return question[len(prefix):].replace(" in the image?", "")
    return "thing"


def answers_for(split_index, questions):
    """Deterministic answers: right about 85% of the time, templates cycling with the index."""
    state = 12345 + split_index
    out = []
    for i, q in enumerate(questions):
        state = (state * 1103515245 + 12345) % 2**31
        right = (state >> 8) % 100 < 85
        says_yes = (q["label"] == "yes") == right
        pool = YES if says_yes else NO
        out.append(pool[(state >> 4) % len(pool)].replace("{o}", object_of(q["text"])))
    return out


def pope_evaluate(answers, labels):
    """POPE's evaluate.py: first sentence, commas removed, split on ' ', 'No'/'not'/'no' -> no;
    answers and labels paired by position."""
    pred = []
    for text in answers:
        if text.find(".") != -1:
            text = text.split(".")[0]
        text = text.replace(",", "")
        words = text.split(" ")
        pred.append(0 if ("No" in words or "not" in words or "no" in words) else 1)
    label = [0 if x == "no" else 1 for x in labels]
    yes_ratio = pred.count(1) / len(pred)
    tp = tn = fp = fn = 0
    for p, l in zip(pred, label):
        if p == 1 and l == 1:
            tp += 1
        elif p == 1 and l == 0:
            fp += 1
        elif p == 0 and l == 0:
            tn += 1
        elif p == 0 and l == 1:
            fn += 1
    precision = float(tp) / float(tp + fp)
    recall = float(tp) / float(tp + fn)
    f1 = 2 * precision * recall / (precision + recall)
    acc = (tp + tn) / (tp + tn + fp + fn)
    return {"tp": tp, "fp": fp, "tn": tn, "fn": fn, "accuracy": acc, "precision": precision, "recall": recall,
            "f1": f1, "yes_ratio": yes_ratio}


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def main():
    questions = {s: read_jsonl(os.path.join(POPE, "coco_pope_%s.json" % s)) for s in SPLITS}
    answers = {s: answers_for(i, questions[s]) for i, s in enumerate(SPLITS)}
    expected = {}
    tmp = tempfile.mkdtemp(prefix="hallu-pope-")
    for s in SPLITS:
        labels = [q["label"] for q in questions[s]]
        # POPE / HA-DPO layout, read back and scored by evaluate.py.
        path = os.path.join(tmp, "pope_%s.jsonl" % s)
        write_jsonl(path, [{"question": q["text"], "answer": a, "question_id": q["question_id"]}
                           for q, a in zip(questions[s], answers[s])])
        expected[s] = pope_evaluate([r["answer"] for r in read_jsonl(path)], labels)
        # LLaVA model_vqa_loader / VCD layout (answer under "text"), same procedure.
        path = os.path.join(tmp, "llava_%s.jsonl" % s)
        write_jsonl(path, [{"question_id": q["question_id"], "prompt": q["text"], "text": a, "answer_id": "x",
                            "model_id": "m", "metadata": {}} for q, a in zip(questions[s], answers[s])])
        assert pope_evaluate([r["text"] for r in read_jsonl(path)], labels) == expected[s]
    # LLaVA's eval_pope.py on one answers file for all splits: categories come from the question file
    # (question ids unique across splits), answers of a category are paired with its label file in order.
    llava_questions, llava_answers, qid = [], [], 0
    for s in SPLITS:
        for q, a in zip(questions[s], answers[s]):
            qid += 1
            llava_questions.append({"question_id": qid, "image": q["image"], "text": q["text"], "category": s})
            llava_answers.append({"question_id": qid, "prompt": q["text"], "text": a, "answer_id": "x", "model_id": "m",
                                  "metadata": {}})
    by_id = {q["question_id"]: q for q in llava_questions}
    for s in SPLITS:
        cur = [a["text"] for a in llava_answers if by_id[a["question_id"]]["category"] == s]
        assert pope_evaluate(cur, [q["label"] for q in questions[s]]) == expected[s]
    # lmms-eval log: labels and categories in each sample's doc.
    for s in SPLITS:
        samples = [{"doc": {"question": q["text"], "answer": q["label"], "category": s}, "filtered_resps": [a]}
                   for q, a in zip(questions[s], answers[s])]
        cur = [x for x in samples if x["doc"]["category"] == s]
        assert pope_evaluate([x["filtered_resps"][0] for x in cur], [x["doc"]["answer"] for x in cur]) == expected[s]
    mean = {k: (expected["random"][k] + expected["popular"][k] + expected["adversarial"][k]) / 3
            for k in ["accuracy", "precision", "recall", "f1", "yes_ratio"]}
    with open(OUT, "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as g:
            g.write(json.dumps({"answers": answers, "expected": expected, "mean": mean}, ensure_ascii=False,
                               sort_keys=True).encode("utf-8"))
    for s in SPLITS:
        e = expected[s]
        print("%-12s acc %.4f prec %.4f rec %.4f f1 %.4f yes %.4f  (tp %d fp %d tn %d fn %d)" % (
            s, e["accuracy"], e["precision"], e["recall"], e["f1"], e["yes_ratio"], e["tp"], e["fp"], e["tn"], e["fn"]))
    print("mean         acc %.4f f1 %.4f" % (mean["accuracy"], mean["f1"]))
    print("wrote %s (%d bytes)" % (OUT, os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
