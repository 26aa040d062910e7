"""A tiny, random, real BERT checkpoint for tests and the demo (no download anywhere).

Writes bert_config.json, vocab.txt and bert_model.ckpt.* in Google-BERT format, so it is loaded by
`build_transformer_model` exactly like a real checkpoint.

The vocabulary is the special tokens plus every character of the given texts (lower-cased as the
tokenizer does) and the lower-cased ASCII words and digit runs found in them, so that tokenising
those texts produces no [UNK]. The hidden width follows Su Jianlin's rule for the embedding
dimension, n > 8.33 ln N for a vocabulary of N tokens, rounded up to a multiple of the heads.
"""
import json
import math
import os
import re

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def hidden_size_for(vocab_size, heads):
    n = math.floor(8.33 * math.log(vocab_size)) + 1
    return heads * math.ceil(n / heads)


def bert_config(vocab_size, hidden, layers, heads, intermediate, max_position=512):
    """A Google-BERT bert_config.json (as a dict) for a randomly initialised model of this size."""
    return {
        "vocab_size": vocab_size, "hidden_size": hidden, "num_hidden_layers": layers,
        "num_attention_heads": heads, "intermediate_size": intermediate,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": max_position, "type_vocab_size": 2, "initializer_range": 0.02,
    }


def build_vocab(texts, size=0):
    """Tokens covering `texts`; with `size`, filled up to `size` tokens with "[unusedN]" ones (the
    width of a real vocabulary: embedding and MLM output cost follow it)."""
    tokens = dict.fromkeys(SPECIAL_TOKENS)
    chars, words = set(), set()
    for text in texts:
        lowered = text.lower()
        chars.update(ch for ch in lowered if not ch.isspace())
        words.update(re.findall(r"[a-z0-9]+", lowered))
    for ch in sorted(chars):
        tokens.setdefault(ch)
        tokens.setdefault("##" + ch)  # so every run of letters/digits can be split piece by piece
    for word in sorted(words):
        tokens.setdefault(word)
    for k in range(size - len(tokens)):
        tokens.setdefault(f"[unused{k}]")
    return list(tokens)


def write_vocab(path, texts, size=0):
    """Write the vocab.txt of `build_vocab(texts, size)` (atomically); returns the vocabulary."""
    from common.io import atomic_write
    vocab = build_vocab(texts, size)
    with atomic_write(path) as f:
        f.write("\n".join(vocab) + "\n")
    return vocab


def write_tiny_checkpoint(out_dir, texts, layers=2, heads=2, intermediate_factor=2, max_position=512,
                          seed=0, with_mlm=False, hidden=None, vocab_size=0):
    """Write a random BERT whose vocabulary covers `texts` into `out_dir`; returns the three paths.

    `hidden`: the width (default: `hidden_size_for` the vocabulary); `vocab_size`: fill the vocabulary
    up to that many tokens (the benchmark's model of a realistic size, bench/workload.py).

    `with_mlm=True` also writes the masked-LM head (the `cls/predictions/*` variables of a Google
    checkpoint): `build_transformer_model(..., with_mlm=True)` stops with "Key
    cls/predictions/transform/dense/kernel not found in checkpoint" on a checkpoint without them.
    """
    from common import backend, compat
    backend.setup(seed=seed)
    from bert4keras.models import build_transformer_model

    os.makedirs(out_dir, exist_ok=True)
    paths = {"config_path": os.path.join(out_dir, "bert_config.json"),
             "checkpoint_path": os.path.join(out_dir, "bert_model.ckpt"),
             "vocab_path": os.path.join(out_dir, "vocab.txt")}
    vocab = write_vocab(paths["vocab_path"], texts, vocab_size)
    hidden = hidden or hidden_size_for(len(vocab), heads)
    config = bert_config(len(vocab), hidden, layers, heads, hidden * intermediate_factor, max_position)
    from common.io import atomic_write
    with atomic_write(paths["config_path"]) as f:
        json.dump(config, f, indent=2)
    bert = build_transformer_model(paths["config_path"], None, with_mlm=with_mlm, return_keras_model=False)
    compat.save_checkpoint(bert, paths["checkpoint_path"])
    return paths


def _strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)


def sample_texts(folder):
    """Every string in every JSON / JSON Lines / text file below `folder`: a tiny vocab built from them
    covers every sample of every track."""
    texts = []
    for root, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            path = os.path.join(root, name)
            with open(path, encoding="utf-8-sig") as f:
                content = f.read()
            if name.endswith(".txt"):
                texts.extend(content.splitlines())
                continue
            if not name.endswith((".json", ".jsonl")):
                continue
            try:
                records = [json.loads(content)]
            except json.JSONDecodeError:
                records = [json.loads(line) for line in content.splitlines() if line.strip()]
            for record in records:
                texts.extend(_strings_in(record))
    return texts
