#!/usr/bin/env python3
"""Reference sentence embeddings for all-MiniLM-L6-v2, computed from the
original safetensors weights with nothing but numpy.

This is the independent side of the GGUF conversion check: it shares no
code with llama.cpp or with the converter in scripts/setup-models.sh. The
tokenizer is a port of BERT's own (basic tokenizer + WordPiece, as in the
model's tokenizer.json), the network a plain float64 BERT encoder, then
mean pooling over the tokens and L2 normalisation, which is what
sentence-transformers does for this model (modules.json: Transformer,
Pooling(mean), Normalize).

usage: embed_reference.py MODEL_DIR > tests/vectors/minilm-reference.json
MODEL_DIR holds model.safetensors, vocab.txt, config.json and
sentence_bert_config.json (scripts/setup-models.sh unpacks them to
deps/models/all-MiniLM-L6-v2/). Run it with the venv from that script:
deps/venv/bin/python tests/unit/embed_reference.py deps/models/all-MiniLM-L6-v2
"""
import hashlib
import json
import math
import re
import struct
import sys
import unicodedata
from pathlib import Path

import numpy as np

# Twenty texts: plain sentences, near-paraphrases, a chunk as the pipeline
# writes it ("column: value" pairs), accents and non-Latin scripts, digits
# and punctuation, the empty text, and one longer than the model's 256-token
# window (so truncation is compared too).
LONG = " ".join(
    f"Paragraph {i}: the warehouse in Rotterdam shipped {i * 37} pallets of "
    f"ceramic tiles to customers in the northern region, and the invoice "
    f"was settled within {i % 9 + 2} days." for i in range(1, 25))
SENTENCES = [
    "the cat sits on the mat",
    "a kitten is on the rug",
    "quarterly revenue grew",
    "The quick brown fox jumps over the lazy dog.",
    "How do I reset my password?",
    "Steps to recover access when you forgot your login credentials",
    "order_id: 1042 | customer: Ada Lovelace | status: shipped | total: 99.50 EUR",
    "id: 7; name: Grace Hopper; email: grace@example.com; city: Arlington",
    "Café au lait and crème brûlée are on the menu at the naïve bistro.",
    "Übergrößenträger müssen schwere Lasten tragen.",
    "東京は日本の首都です。",
    "Москва — столица России.",
    "Invoice #2023-0042 was paid on 2023-11-05 at 14:32 (UTC+01:00)!!!",
    "SELECT * FROM orders WHERE amount > 100;",
    "",
    "   leading and trailing   spaces   ",
    "Emoji are not in the vocabulary 🚀🦙 but the words around them are.",
    "Database replication lag exceeded the threshold during the nightly batch job.",
    "The patient was prescribed 20mg of atorvastatin daily.",
    LONG,
]


def load_safetensors(path):
    dtypes = {"F32": np.float32, "F16": np.float16}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] not in dtypes:
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
        out[name[5:] if name.startswith("bert.") else name] = arr.astype(np.float64)
    return out


# --- tokenizer: BertNormalizer + BertPreTokenizer + WordPiece ---

def _is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def _is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_punct(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if _is_whitespace(ch):
            out.append(" ")
        elif _is_cjk(cp):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    # lowercase, then strip accents (uncased BERT does both)
    text = unicodedata.normalize("NFD", "".join(out).lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    words = []
    for word in text.split():
        cur = ""
        for ch in word:
            if _is_punct(ch):
                if cur:
                    words.append(cur)
                    cur = ""
                words.append(ch)
            else:
                cur += ch
        if cur:
            words.append(cur)
    return words


def wordpiece(word, vocab, unk="[UNK]", max_chars=100):
    if len(word) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            sub = word[start:end] if start == 0 else "##" + word[start:end]
            if sub in vocab:
                found = sub
                break
            end -= 1
        if found is None:
            return [unk]
        pieces.append(found)
        start = end
    return pieces


def tokenize(text, vocab, max_len):
    ids = [vocab[p] for w in basic_tokenize(text) for p in wordpiece(w, vocab)]
    return [vocab["[CLS]"]] + ids[: max_len - 2] + [vocab["[SEP]"]]


# --- model ---

def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


_erf = np.vectorize(math.erf)


def gelu(x):
    # "gelu" in the BERT config is the exact erf form, not the tanh one.
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def encode(ids, W, cfg):
    eps, nh = cfg["layer_norm_eps"], cfg["num_attention_heads"]
    n = len(ids)
    x = (W["embeddings.word_embeddings.weight"][ids]
         + W["embeddings.position_embeddings.weight"][:n]
         + W["embeddings.token_type_embeddings.weight"][0])
    x = layer_norm(x, W["embeddings.LayerNorm.weight"], W["embeddings.LayerNorm.bias"], eps)
    hd = x.shape[1] // nh
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."

        def lin(name, h):
            return h @ W[p + name + ".weight"].T + W[p + name + ".bias"]
        q = lin("attention.self.query", x).reshape(n, nh, hd).transpose(1, 0, 2)
        k = lin("attention.self.key", x).reshape(n, nh, hd).transpose(1, 0, 2)
        v = lin("attention.self.value", x).reshape(n, nh, hd).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(n, nh * hd)
        x = layer_norm(lin("attention.output.dense", ctx) + x,
                       W[p + "attention.output.LayerNorm.weight"],
                       W[p + "attention.output.LayerNorm.bias"], eps)
        h = lin("output.dense", gelu(lin("intermediate.dense", x)))
        x = layer_norm(h + x, W[p + "output.LayerNorm.weight"], W[p + "output.LayerNorm.bias"], eps)
    v = x.mean(0)
    return v / np.linalg.norm(v)


def main():
    mdir = Path(sys.argv[1])
    cfg = json.loads((mdir / "config.json").read_text())
    max_len = json.loads((mdir / "sentence_bert_config.json").read_text())["max_seq_length"]
    vocab = {}
    for i, line in enumerate((mdir / "vocab.txt").read_text(encoding="utf-8").splitlines()):
        vocab[line] = i
    st = mdir / "model.safetensors"
    W = load_safetensors(st)
    items = []
    for text in SENTENCES:
        ids = tokenize(text, vocab, max_len)
        vec = encode(ids, W, cfg)
        items.append({"text": text, "tokens": ids,
                      "vector": [float(f"{x:.7g}") for x in vec]})
    doc = {
        "model": "all-MiniLM-L6-v2",
        "made_by": "tests/unit/embed_reference.py (numpy float64 BERT, mean pooling, L2)",
        "weights_sha256": hashlib.sha256(st.read_bytes()).hexdigest(),
        "max_seq_length": max_len,
        "dim": int(cfg["hidden_size"]),
        "sentences": items,
    }
    # One line per field, a vector on one line: diffs stay readable.
    body = json.dumps(doc, ensure_ascii=False, indent=1)
    body = re.sub(r"\[\s+([-0-9.e,\s]+?)\s+\]",
                  lambda m: "[" + ", ".join(m.group(1).replace(",", " ").split()) + "]", body)
    sys.stdout.write(body + "\n")


if __name__ == "__main__":
    main()
