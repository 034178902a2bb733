"""Expected HA-DPO sampling for desc_data.json: the same calls, in the same order, as HA-DPO's
LazySupervisedDataset.desc_process with sample_strategy "offline" after random.seed(42).

    python3 Tests/Fixtures/data/hadpo/make_hadpo_expected.py
"""
import json, os, random

HERE = os.path.dirname(os.path.abspath(__file__))
PROMPTS = [
    "Describe this image in detail.",
    "Take a look at this image and describe what you notice.",
    "Please provide a detailed description of the picture.",
    "Could you describe the contents of this image for me?",
]
desc = json.load(open(os.path.join(HERE, "desc_data.json")))
random.seed(42)
out = []
for image_id in desc.keys():
    chosen = random.choice(desc[image_id]["chosen"])
    rejected = random.choice(desc[image_id]["rejected"])
    question = random.choice(PROMPTS)
    out.append({"id": image_id, "question": question, "chosen": chosen, "rejected": rejected})
json.dump(out, open(os.path.join(HERE, "desc_expected.json"), "w"), indent=1)
print(len(out))
