"""Unsupervised Chinese word segmentation and binary syntax trees from a masked language model.

Perturbed Masking (Wu et al., ACL 2020, "Parameter-free Probing for Analyzing and Interpreting
BERT"), in the form Su Jianlin applies it to Chinese (kexue.fm/archives/7476):

Impact matrix. For a sentence of n tokens, mask token i and read the model's representation at i;
then mask i and j together and read it again. The impact of j on i is how far the second reading is
from the first: F[i, j] = d(H(x without i)_i, H(x without i, j)_i), F[i, i] = 0. Masking the pair
{i, j} gives the readings at i and at j at once, so the whole matrix takes n + n(n-1)/2 masked
inputs (segmentation alone needs only the n - 1 adjacent pairs: 2n - 1 inputs). All masked inputs of
one sentence have the same length and go through the model in batches of `batch_size` (one call when
they fit), with no padding.
  representation="hidden" (default): H = the last hidden layer, d = Euclidean distance. This is the
    paper's "Dist" and what Su's code uses (bert4keras model without the MLM head).
  representation="prob": H = the MLM's probability of the original token at i, d = the drop
    p(x_i | x without i) - p(x_i | x without i, j): the paper's "Prob". It needs the checkpoint's
    MLM head (Google checkpoints have it; `tiny_bert.write_tiny_checkpoint(..., with_mlm=True)`).

Segmentation (Su's rule). The gap between tokens t and t + 1 scores (F[t, t+1] + F[t+1, t]) / 2,
how much the two neighbours depend on each other. A word boundary goes where the score is below
`threshold`; the default 8.0 is Su's value for the last layer of Google's Chinese BERT-base and must
be re-tuned for any other model or representation. A gap inside a WordPiece word (next token "##...")
is never cut. Words are character spans of the text: every non-space character is in exactly one
word, spaces between words belong to none.

Tree (top-down, as the paper's MART decoder, with Su's split score). Word-level impacts are the
means of the token impacts over the two words' tokens (the paper's "avg" subword merge). A span of
words is cut in two, left = words before k, right = words from k on, at the k maximising
  mean(F[left, left]) + mean(F[right, right]) - mean(F[left, right]) - mean(F[right, left])
(means over whole blocks, zero diagonal included, as in Su's code): the parts should depend much on
themselves and little on each other. Each part is cut again down to single words. (The paper's and
Su's code make the word at the cut the head of the right part; here both parts are cut alike, so the
tree is a plain binary bracketing.) A tree is a word (one word) or [left tree, right tree].

Command: `python -m common.perturbed_masking --checkpoint DIR|--run RUN --input FILE [--out FILE]
[--reference FILE]` writes {"text", "words", "tree"} per sentence and prints the word precision,
recall and F1 against the reference segmentation (default: jieba's) as the last line.
`--run RUN` probes a trained run of any track instead of a checkpoint: its fine-tuned encoder, and
for "prob" the run's own MLM head (dialog and semantic_parsing train one) or else the MLM head of
the pretrained checkpoint the run started from (common/run_encoder.py says why and what that means).
The default threshold is Su's for a pretrained BERT-base: re-tune it for a fine-tuned encoder too.
"""
import json
import logging

import numpy as np

DEFAULT_THRESHOLD = 8.0


# masked inputs and the impact matrix ------------------------------------------------------------

def mask_sets(n, pairs="all"):
    """Token positions to mask, for a sentence of n tokens: every {i} (first, in order), then every
    pair {i, j} with i < j ("all") or only the adjacent pairs {i, i + 1} ("adjacent")."""
    if pairs == "all":
        doubles = [(i, j) for i in range(n) for j in range(i + 1, n)]
    elif pairs == "adjacent":
        doubles = [(i, i + 1) for i in range(n - 1)]
    else:
        raise ValueError(f"pairs must be 'all' or 'adjacent', got {pairs!r}")
    return [(i,) for i in range(n)] + doubles


def masked_rows(token_ids, masks, mask_id):
    """One row per mask set: `token_ids` ([CLS] sentence [SEP]) with the set's tokens (counted
    without [CLS]) replaced by [MASK]."""
    rows = np.tile(np.asarray(token_ids, dtype="int32"), (len(masks), 1))
    for row, positions in zip(rows, masks):
        row[[p + 1 for p in positions]] = mask_id
    return rows


def impact_matrix(readings, masks, n, representation="hidden"):
    """F (n, n) from `readings[r, k]`, the representation at the k-th masked token of mask set r.
    F[i, j] = d(reading at i with {i} masked, reading at i with {i, j} masked); 0 on the diagonal,
    NaN for pairs not in `masks`."""
    if representation == "hidden":
        def difference(single, paired):
            return float(np.linalg.norm(single - paired))
    elif representation == "prob":
        def difference(single, paired):
            return float(single[0] - paired[0])
    else:
        raise ValueError(f"representation must be 'hidden' or 'prob', got {representation!r}")
    impact = np.full((n, n), np.nan)
    np.fill_diagonal(impact, 0.0)
    for r, positions in enumerate(masks):
        if len(positions) == 2:
            i, j = positions
            impact[i, j] = difference(readings[i, 0], readings[r, 0])
            impact[j, i] = difference(readings[j, 0], readings[r, 1])
    return impact


# segmentation, trees and their score (pure) -------------------------------------------------------

def gap_scores(impact):
    """(n - 1,) scores of the gaps between neighbouring tokens: (F[t, t+1] + F[t+1, t]) / 2."""
    t = np.arange(len(impact) - 1)
    return (impact[t, t + 1] + impact[t + 1, t]) / 2


def word_starts(scores, threshold, keep_together=None):
    """Token indices where words start: 0 and every gap scoring below `threshold`, except the gaps
    flagged in `keep_together` (inside a WordPiece word)."""
    keep_together = keep_together or [False] * len(scores)
    return [0] + [t + 1 for t, score in enumerate(scores) if score < threshold and not keep_together[t]]


def char_words(text, offsets, starts):
    """The words of `text` given each token's character span and the tokens that start words: a word
    runs up to where the next one starts, without surrounding spaces."""
    if not offsets:
        return [text.strip()] if text.strip() else []
    bounds = [0] + [offsets[t][0] for t in starts[1:]] + [len(text)]
    return [word for word in (text[a:b].strip() for a, b in zip(bounds, bounds[1:])) if word]


def word_impact(impact, starts):
    """Word-by-word impacts: the mean of F over the tokens of word a (rows) and word b (columns)."""
    bounds = list(starts) + [len(impact)]
    spans = list(zip(bounds, bounds[1:]))
    words = np.zeros((len(spans), len(spans)))
    for a, (a0, a1) in enumerate(spans):
        for b, (b0, b1) in enumerate(spans):
            if a != b:
                words[a, b] = impact[a0:a1, b0:b1].mean()
    return words


def best_split(impact):
    """k in 1..m-1 maximising within-part minus cross-part mean impact (module docstring); first on ties."""
    m = len(impact)
    scores = [impact[:k, :k].mean() + impact[k:, k:].mean() - impact[:k, k:].mean() - impact[k:, :k].mean()
              for k in range(1, m)]
    return 1 + int(np.argmax(scores))


def split_tree(impact, leaves):
    """Binary tree over `leaves` by recursive best splits: a leaf, or [left tree, right tree]."""
    if len(leaves) != len(impact):
        raise ValueError(f"{len(leaves)} leaves but a {len(impact)}x{len(impact)} matrix")
    if not leaves:
        return None
    if len(leaves) == 1:
        return leaves[0]
    k = best_split(impact)
    return [split_tree(impact[:k, :k], leaves[:k]), split_tree(impact[k:, k:], leaves[k:])]


def word_spans(words):
    """(start, end) of each word counted in non-space characters (spaces inside words are dropped)."""
    spans, at = [], 0
    for word in words:
        size = sum(not ch.isspace() for ch in word)
        if size:
            spans.append((at, at + size))
            at += size
    return spans


def spelled(words):
    return "".join(ch for word in words for ch in word if not ch.isspace())


def segmentation_scores(gold, pred):
    """Word precision, recall and F1 over a corpus (micro): a predicted word is right when a gold word
    has exactly its span. `gold` and `pred`: one list of words per sentence, spelling the same text
    (spaces aside)."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    correct = n_gold = n_pred = 0
    for number, (gold_words, pred_words) in enumerate(zip(gold, pred), 1):
        if spelled(gold_words) != spelled(pred_words):
            raise ValueError(f"sentence {number}: gold words spell {spelled(gold_words)!r}, "
                             f"predicted words {spelled(pred_words)!r}")
        gold_spans, pred_spans = set(word_spans(gold_words)), set(word_spans(pred_words))
        correct += len(gold_spans & pred_spans)
        n_gold += len(gold_spans)
        n_pred += len(pred_spans)
    precision = correct / n_pred if n_pred else 0.0
    recall = correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "gold_words": n_gold, "pred_words": n_pred, "correct": correct}


# the model --------------------------------------------------------------------------------------

class PerturbedMasking:
    """Impact matrices, words and trees of sentences from a BERT-family model.

    `model`: Keras model [token_ids, segment_ids] -> last hidden states; `mlm_probs`: callable
    (rows, hidden) -> (rows, vocab) MLM probabilities, needed for representation="prob".
    """

    def __init__(self, model, tokenizer, representation="hidden", mlm_probs=None, batch_size=128,
                 max_tokens=510):
        if representation not in ("hidden", "prob"):
            raise ValueError(f"representation must be 'hidden' or 'prob', got {representation!r}")
        if representation == "prob" and mlm_probs is None:
            raise ValueError("representation 'prob' needs the MLM head (mlm_probs)")
        if "[MASK]" not in tokenizer.vocab:
            raise ValueError("the vocabulary has no [MASK] token")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model, self.tokenizer, self.representation = model, tokenizer, representation
        self.mlm_probs, self.batch_size, self.max_tokens = mlm_probs, int(batch_size), int(max_tokens)
        self.mask_id = tokenizer.vocab["[MASK]"]

    def readings(self, token_ids, masks):
        """(len(masks), 2, dim) representations at the masked tokens of each mask set (the second
        slot is NaN for single masks)."""
        rows = masked_rows(token_ids, masks, self.mask_id)
        positions = np.array([[p + 1 for p in m] + [m[0] + 1] * (2 - len(m)) for m in masks])
        chunks = []
        for at in range(0, len(rows), self.batch_size):
            batch = rows[at:at + self.batch_size]
            hidden = np.asarray(self.model.predict_on_batch([batch, np.zeros_like(batch)]))
            chunks.append(hidden[np.arange(len(batch))[:, None], positions[at:at + len(batch)]])
        picked = np.concatenate(chunks)  # (rows, 2, hidden)
        if self.representation == "prob":
            flat = picked.reshape(-1, picked.shape[-1])
            probs = np.asarray(self.mlm_probs(flat))
            originals = np.asarray(token_ids)[positions.reshape(-1)]
            picked = probs[np.arange(len(flat)), originals].reshape(len(masks), 2, 1)
        picked = picked.astype("float64")
        picked[[len(m) == 1 for m in masks], 1] = np.nan
        return picked

    def impact(self, token_ids, pairs="all"):
        """Impact matrix (n, n) of one sentence given as its token ids without [CLS]/[SEP]."""
        n = len(token_ids)
        if n == 0:
            return np.zeros((0, 0))
        masks = mask_sets(n, pairs)
        wrapped, _ = self.tokenizer.wrap(token_ids)
        return impact_matrix(self.readings(wrapped, masks), masks, n, self.representation)

    def parse(self, text, threshold=DEFAULT_THRESHOLD, tree=True):
        """{"text", "words", "tree"} of one sentence; "tree" is None when not asked for."""
        encoding = self.tokenizer.encode(text)
        if len(encoding) > self.max_tokens:
            raise ValueError(f"{len(encoding)} tokens; the model takes at most {self.max_tokens}")
        impact = self.impact(encoding.ids, "all" if tree else "adjacent")
        keep_together = [token.startswith("##") for token in encoding.tokens[1:]]
        starts = word_starts(gap_scores(impact), threshold, keep_together)
        words = char_words(text, encoding.offsets, starts)
        parsed = None
        if tree and words:
            parsed = split_tree(word_impact(impact, starts), words)
        return {"text": text, "words": words, "tree": parsed}


def mlm_head(transformer_model):
    """Callable hidden rows -> MLM probabilities, from the MLM layers of a with_mlm model."""
    layers = {name: transformer_model.get_layer(name)
              for name in ("MLM-Dense", "MLM-Norm", "Embedding-Token", "MLM-Bias", "MLM-Activation")}

    def probs(hidden):
        x = layers["MLM-Norm"](layers["MLM-Dense"](hidden))
        x = layers["Embedding-Token"](x, mode="dense")  # the output layer shares the token embeddings
        return np.asarray(layers["MLM-Activation"](layers["MLM-Bias"](x)))
    return probs


def load(model_cfg, representation="hidden", batch_size=128):
    """A PerturbedMasking on the checkpoint of a [model] section (`common.config.ModelConfig`): a
    folder via `common.model.checkpoint_config(DIR)`, three explicit paths, or a run's `cfg.model`.
    Its MLM head is loaded too when representation="prob"."""
    from common import backend
    tf = backend.setup()
    from common.config import ConfigError
    from common.model import build_encoder, vocab_path

    with_mlm = representation == "prob"
    try:  # ELECTRA refuses even with_mlm=False: pass it only when needed
        model = build_encoder(model_cfg, **({"with_mlm": True} if with_mlm else {}))
    except (tf.errors.NotFoundError, ValueError) as error:
        if not with_mlm:
            raise
        message = error.message if isinstance(error, tf.errors.NotFoundError) else str(error)
        raise ConfigError(f"{message}: representation 'prob' needs a checkpoint with its MLM head "
                          "(cls/predictions/*); representation 'hidden' does not") from None
    return from_model(model, vocab_path(model_cfg), representation, batch_size)


def load_run(run_dir, representation="hidden", batch_size=128):
    """A PerturbedMasking on the fine-tuned encoder of a trained run (common.run_encoder: with
    representation "prob", under the run's MLM head, or the pretrained checkpoint's when the run
    trained none)."""
    from common.run_encoder import load_run_encoder
    model, vocab, how = load_run_encoder(run_dir, with_mlm=representation == "prob")
    logging.getLogger(__name__).info("perturbed masking on %s", how)
    return from_model(model, vocab, representation, batch_size)


def from_model(model, vocab, representation="hidden", batch_size=128):
    """A PerturbedMasking on a built bert4keras model: its last hidden states, and with
    representation "prob" its MLM head (the model must then have been built with with_mlm=True)."""
    import keras
    from common.model import max_tokens
    from common.tokenize import OffsetTokenizer
    with_mlm = representation == "prob"
    hidden = model.get_layer("MLM-Dense").input if with_mlm else model.output
    encoder = keras.models.Model(model.inputs, hidden)
    return PerturbedMasking(encoder, OffsetTokenizer(vocab), representation,
                            mlm_probs=mlm_head(model) if with_mlm else None, batch_size=batch_size,
                            max_tokens=max_tokens(encoder))


# the command ------------------------------------------------------------------------------------

def read_sentences(path):
    """[(line number, text)]: JSON Lines with "text" when the first non-blank line is a JSON object,
    else one sentence per line (every line, blank ones included, so line k matches reference line k)."""
    from common.io import DataError, read_jsonl
    with open(path, encoding="utf-8-sig") as f:
        lines = [line.rstrip("\r\n") for line in f]
    first = next((line.strip() for line in lines if line.strip()), "")
    try:
        jsonl = isinstance(json.loads(first), dict)
    except ValueError:
        jsonl = False
    if not jsonl:
        return list(enumerate(lines, 1))
    sentences = []
    for number, obj in read_jsonl(path, required=("text",)):
        if not isinstance(obj["text"], str):
            raise DataError(path, number, f"expected a string, got {type(obj['text']).__name__}", field="text")
        sentences.append((number, obj["text"]))
    return sentences


def reference_words(path, sentences, input_path):
    """Space-separated words per line of `path`, line k for sentence k; each must spell its sentence."""
    from common.io import DataError
    with open(path, encoding="utf-8-sig") as f:
        lines = [line.rstrip("\r\n") for line in f]
    if len(lines) != len(sentences):
        raise DataError(path, None, f"{len(lines)} lines, but {input_path} has {len(sentences)} sentences")
    words = [line.split() for line in lines]
    for number, ((at, text), line_words) in enumerate(zip(sentences, words), 1):
        if spelled(line_words) != spelled([text]):
            raise DataError(path, number, f"words spell {spelled(line_words)!r} but the sentence "
                            f"({input_path}, line {at}) is {spelled([text])!r}")
    return words


def jieba_words(texts):
    import jieba
    jieba.setLogLevel(logging.WARNING)
    return [jieba.lcut(text) for text in texts]


def main(argv=None):
    from tqdm import tqdm
    from common import cli
    from common.config import FAMILIES
    from common.io import DataError, write_jsonl
    from common.model import checkpoint_config
    parser = cli.parser("common.perturbed_masking", __doc__, config=False)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", metavar="DIR",
                        help="BERT folder: bert_config.json, vocab.txt, bert_model.ckpt.* (or a HuggingFace folder)")
    source.add_argument("--run", metavar="DIR",
                        help="a trained run of any track: its fine-tuned encoder (with --representation prob: "
                             "under the run's MLM head, or the pretrained checkpoint's when the run trained none)")
    parser.add_argument("--input", required=True, help="one sentence per line, or JSON Lines with \"text\"")
    parser.add_argument("--out", help="JSON Lines {text, words, tree} (default: print them)")
    parser.add_argument("--reference", help="reference segmentation, space-separated words per line "
                                            "(default: jieba's segmentation of the input)")
    parser.add_argument("--threshold", type=float,
                        help=f"cut where the gap score is below this (default {DEFAULT_THRESHOLD} for "
                             "'hidden'; 'prob' has no default)")
    parser.add_argument("--representation", default="hidden", choices=["hidden", "prob"])
    parser.add_argument("--no-tree", action="store_true", help="segment only (2n-1 masked inputs, not n(n+1)/2)")
    parser.add_argument("--family", default="bert", choices=sorted(FAMILIES))
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)
    if args.threshold is None:
        if args.representation != "hidden":
            parser.error("--threshold is required with --representation prob")
        args.threshold = DEFAULT_THRESHOLD

    sentences = read_sentences(args.input)
    gold = reference_words(args.reference, sentences, args.input) if args.reference else None
    if args.run:
        probe = load_run(args.run, args.representation, args.batch_size)
    else:
        probe = load(checkpoint_config(args.checkpoint, args.family), args.representation, args.batch_size)
    records = []
    for number, text in tqdm(sentences, desc="sentences", disable=None):
        try:
            records.append(probe.parse(text, args.threshold, tree=not args.no_tree))
        except ValueError as error:
            raise DataError(args.input, number, str(error), field="text") from None
    if args.out:
        write_jsonl(args.out, records)
    else:
        for record in records:
            print(json.dumps(record, ensure_ascii=False))
    if gold is None:
        gold = jieba_words([text for _, text in sentences])
    scores = segmentation_scores(gold, [record["words"] for record in records])
    print(json.dumps({**scores, "reference": args.reference or "jieba", "threshold": args.threshold,
                      "sentences": len(records)}))


if __name__ == "__main__":
    from common import cli
    cli.run(main)
