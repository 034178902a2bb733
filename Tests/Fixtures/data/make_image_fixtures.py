"""Writes the image fixtures and their expected decodings (run by hand with Pillow and transformers).

    python Tests/Fixtures/data/make_image_fixtures.py

Expected values come from Pillow (decode, resize) and transformers' CLIPImageProcessor, the code
LLaVA's training and evaluation scripts use.
"""
import binascii, json, os, struct, zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "images")
os.makedirs(OUT, exist_ok=True)


def pattern(w, h):
    a = np.zeros((h, w, 3), dtype=np.uint8)
    for y in range(h):
        for x in range(w):
            a[y, x] = ((x * 37 + y * 11) % 256, (x * 7 + y * 53 + 19) % 256, ((x ^ y) * 29 + 3) % 256)
    return a


def chunk(t, body):
    return struct.pack(">I", len(body)) + t + body + struct.pack(">I", binascii.crc32(t + body) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def png_all_filters(arr):
    """An RGB PNG whose rows cycle through filter types 0-4 (Pillow picks one filter per image)."""
    h, w, _ = arr.shape
    raw = b""
    prev = [0] * (w * 3)
    for y in range(h):
        row = [int(v) for v in arr[y].reshape(-1)]
        f = y % 5
        out = []
        for i, v in enumerate(row):
            a = row[i - 3] if i >= 3 else 0
            b = prev[i]
            c = prev[i - 3] if i >= 3 else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][f]
            out.append((v - pred) & 0xFF)
        raw += bytes([f] + out)
        prev = row
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


expected = {}


def record(name, img):
    rgb = img.convert("RGB")
    expected[name] = {"width": rgb.width, "height": rgb.height, "rgb": rgb.tobytes().hex()}


base = pattern(13, 9)
src = Image.fromarray(base, "RGB")
src.save(os.path.join(OUT, "rgb.png"))
record("rgb.png", src)
with open(os.path.join(OUT, "filters.png"), "wb") as f:
    f.write(png_all_filters(base))
record("filters.png", src)
gray = src.convert("L")
gray.save(os.path.join(OUT, "gray.png"))
record("gray.png", gray)
rgba = src.copy()
rgba.putalpha(Image.fromarray((np.arange(13 * 9).reshape(9, 13) * 2 % 256).astype(np.uint8), "L"))
rgba.save(os.path.join(OUT, "rgba.png"))
record("rgba.png", rgba)
pal = src.convert("P", palette=Image.ADAPTIVE, colors=16)
pal.save(os.path.join(OUT, "palette.png"))
record("palette.png", pal)
g16 = Image.fromarray((np.arange(13 * 9).reshape(9, 13) * 500).astype(np.uint16))
g16.save(os.path.join(OUT, "gray16.png"))
expected["gray16.png"] = {"width": 13, "height": 9,
                          "rgb": bytes(v for p in (np.arange(13 * 9) * 500 >> 8).astype(np.uint8) for v in (p, p, p)).hex()}
# Pillow does not write Adam7; flag rgb.png as interlaced (the decoder must refuse it by name).
data = open(os.path.join(OUT, "rgb.png"), "rb").read()
ihdr = bytearray(data[16:29])
ihdr[12] = 1
patched = data[:8] + chunk(b"IHDR", bytes(ihdr)) + data[33:]
with open(os.path.join(OUT, "interlaced.png"), "wb") as f:
    f.write(patched)
photo = Image.fromarray(pattern(24, 16), "RGB")
photo.save(os.path.join(OUT, "photo.jpg"), quality=85)
record("photo.jpg", Image.open(os.path.join(OUT, "photo.jpg")))

resized = {}
for filt, name in [(Image.BILINEAR, "bilinear"), (Image.BICUBIC, "bicubic")]:
    for w, h in [(7, 5), (20, 15), (13, 4), (5, 9), (26, 18)]:
        r = src.resize((w, h), filt)
        resized[f"{name}_{w}x{h}"] = {"width": w, "height": h, "rgb": r.tobytes().hex()}

# LLaVA-1.5 preprocessing: expand2square with the CLIP mean, then CLIPImageProcessor.
from transformers import CLIPImageProcessor

proc = CLIPImageProcessor(size={"shortest_edge": 24}, crop_size={"height": 24, "width": 24})
mean = tuple(int(x * 255) for x in proc.image_mean)
sq = Image.new("RGB", (13, 13), mean)
sq.paste(src, (0, (13 - 9) // 2))
pix = proc.preprocess(sq, return_tensors="np")["pixel_values"][0]
clip = {"pad_color": list(mean), "shape": list(pix.shape), "values": [float(v) for v in pix.reshape(-1)]}

with open(os.path.join(HERE, "image_expected.json"), "w") as f:
    json.dump({"decoded": expected, "resized": resized, "clip": clip}, f)
print("ok")
