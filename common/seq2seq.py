"""Generation on one BERT encoder: a UniLM seq2seq or a left-to-right LM, trained on the target only and
decoded in batches (greedy, beam search, top-k/top-p sampling), for every track that writes text.

A pair is `[CLS] source [SEP]` (segment 0) followed by `target [SEP]` (segment 1). With
application="unilm" the source attends to itself both ways and each target token to the source and the
targets before it; with "lm" everything is left to right. Either way a position's hidden state depends
only on the positions before it or in the source, which is what lets decoding cache keys and values.

Training. `build_model` is the encoder with its MLM head (the output layer tied to the word
embeddings), taking a third input: the positions whose next token is a target token. The head runs on
those positions only (a target is ~10% of a sequence; the head's (positions, vocab) logits are the
largest tensor of the model). `collate(pairs)` gives ([token_ids, segment_ids, positions], labels), and
`target_loss` is the cross-entropy over real target tokens (label 0 = padding, ignored), averaged
over the target tokens of the batch.

Decoding. `generate(scorer, sources, settings, end_id)` decodes many sources at once: every source's
beams are rows of one batch, a source leaves the batch when it is done, and the rest go on.
Per step and per row: the end token is banned below `min_len` and forced at `max_len`, tokens that
would repeat an n-gram of the target are banned (`no_repeat_ngram`), and an optional `constraint`
says which tokens may come next (see `Constraint`). Beam scores are sums of log-probabilities; a
finished hypothesis is ranked by score / length ** length_penalty. Sampling (top-k, then top-p, at a
temperature) draws from a generator seeded by (seed, the source's tokens), so a source gets the same
reply in any batch. A scorer gives the next-token log-probabilities of all rows:
- `CachedScorer` (bert / roberta) keeps each layer's keys and values: the source is encoded once,
  each step runs the new token only, and beams share their source's cache;
- `FullScorer` (any family) re-runs the whole sequence every step, as bert4keras's own decoder does.
They give the same log-probabilities (tests/test_seq2seq.py); `scorer_for` picks the cached one
when the architecture allows it. The cache pays: at 6 layers x 256 it decodes 5-7x faster one source
at a time, and batching adds 2.7-6x (bench/dialog_decoding.py; dialog/README.md has the table).
A checkpoint without an MLM head loads with a random one, learnt in fine-tuning (a warning says so).

    model = build_model(model_cfg)                        # train with collate() + target_loss
    hyps = generate(scorer_for(model, model_cfg), sources, Settings(strategy="beam", beam_size=4),
                    end_id=tokenizer.sep_id)              # [Hypothesis(tokens, score)], one per source
"""
import dataclasses
import zlib

import numpy as np

APPLICATIONS = ("unilm", "lm")
STRATEGIES = ("beam", "greedy", "sample")
IGNORE = 0                 # label of a position without a target token (the padding id)
NEG_INF = -np.inf


# -- pairs and batches -------------------------------------------------------------------------

def pair_inputs(source, target=()):
    """(token_ids, segment_ids) of `[CLS] source [SEP]` + `target [SEP]` (both given with their
    special tokens)."""
    return list(source) + list(target), [0] * len(source) + [1] * len(target)


def collate(pairs, pad_id=0):
    """[(source ids, target ids)] -> ([token_ids, segment_ids, positions], labels).

    positions[i] are the positions whose next token is a target token (the source's closing [SEP]
    predicts the first target token), labels[i] those target tokens; both padded with 0 (ignored)."""
    from common.tokenize import pad
    if pad_id != IGNORE:
        raise ValueError(f"the padding id must be {IGNORE} (bert4keras masks token id 0), got {pad_id}")
    tokens, segments, positions, labels = [], [], [], []
    for source, target in pairs:
        if not target:
            raise ValueError("a training pair needs a target (at least its closing [SEP])")
        token_ids, segment_ids = pair_inputs(source, target)
        tokens.append(token_ids)
        segments.append(segment_ids)
        positions.append(list(range(len(source) - 1, len(source) + len(target) - 1)))
        labels.append(list(target))
    return [pad(tokens), pad(segments), pad(positions)], pad(labels)


def explanation_subject(title, source, generated, labels, display, max_targets):
    """common.explain.Subject of a generated sequence. Target k is the log-probability of generated
    token k given the source and the generated tokens before it (teacher forcing: one forward pass
    gives them all), explained on the source tokens: the generated prefix stays whole along the
    integration path. `labels[k]` names token k; `display` is (tokens, offsets, text) of the source
    positions (common.explain.layout); the first `max_targets` tokens are explained."""
    from common.explain import Subject, Target
    kept = list(generated[:max_targets])
    token_ids, segment_ids = pair_inputs(source, kept)
    positions = np.arange(len(source) - 1, len(source) - 1 + len(kept), dtype="int32")
    targets = [Target(label, _token_log_probability(k, token)) for k, (label, token) in enumerate(zip(labels, kept))]
    tokens, offsets, text = display
    return Subject(title, token_ids, segment_ids, targets, tokens, offsets, text, shown=list(range(len(source))),
                   extra_inputs=(positions,), left_out=len(generated) - len(kept))


def _token_log_probability(k, token):
    def target(logits):  # logits (batch, positions, vocab) at the target positions
        import tensorflow as tf
        return tf.nn.log_softmax(logits[:, k], axis=-1)[:, token]
    return target


def target_loss(labels, logits):
    """Cross-entropy of the target tokens (label != IGNORE); per example, scaled so that Keras's mean
    over the batch is the mean over the batch's target tokens."""
    import tensorflow as tf
    labels = tf.cast(labels, "int32")
    mask = tf.cast(tf.not_equal(labels, IGNORE), logits.dtype)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits) * mask
    batch = tf.cast(tf.shape(labels)[0], logits.dtype)
    return tf.reduce_sum(losses, axis=1) * batch / tf.maximum(tf.reduce_sum(mask), 1.0)


# -- the model ---------------------------------------------------------------------------------

def build_model(model_cfg, application="unilm", load_checkpoint=True):
    """Keras model [token_ids, segment_ids, positions] -> logits (batch, positions, vocab). A checkpoint
    without an MLM head loads with a random one (tied to the word embeddings), learnt in fine-tuning."""
    from common.config import ConfigError
    from common.model import ARCHITECTURES, build_encoder
    if application not in APPLICATIONS:
        raise ConfigError(f"application must be one of {', '.join(APPLICATIONS)}, got {application!r}")
    if ARCHITECTURES[model_cfg.family] == "electra":
        raise ConfigError("model.family = electra: an ELECTRA discriminator has no MLM head to generate with")
    import keras
    import tensorflow as tf
    encoder = build_encoder(model_cfg, load_checkpoint=load_checkpoint, mlm_head_optional=True,
                            application=application, with_mlm="linear")
    token_ids, segment_ids = encoder.inputs[:2]
    positions = keras.Input(shape=(None,), dtype="int32", name="Input-Target-Positions")
    hidden = encoder.get_layer("MLM-Dense").input
    picked = keras.layers.Lambda(lambda x: tf.gather(x[0], x[1], batch_dims=1), name="Target-Gather")(
        [hidden, positions])
    logits = mlm_head(encoder)(picked)
    return keras.Model([token_ids, segment_ids, positions], logits, name=f"seq2seq_{application}")


def mlm_head(encoder):
    """hidden states (..., hidden) -> vocabulary logits, through the encoder's own MLM layers."""
    dense, norm = encoder.get_layer("MLM-Dense"), encoder.get_layer("MLM-Norm")
    embedding, bias = encoder.get_layer("Embedding-Token"), encoder.get_layer("MLM-Bias")

    def head(hidden):
        return bias(embedding(norm(dense(hidden)), mode="dense"))
    return head


def build_loss(train_cfg):
    """target_loss with the [train] switches (flooding; a generator has no class prior)."""
    from common.losses import from_config
    return from_config(target_loss, train_cfg)


# -- decoding settings and constraints ---------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Settings:
    strategy: str = "beam"      # beam | greedy | sample
    beam_size: int = 4
    top_k: int = 0              # sample: keep the k most likely tokens (0 = all)
    top_p: float = 1.0          # sample: keep the smallest set with this much probability
    temperature: float = 1.0    # sample: log-probabilities divided by it
    min_len: int = 1            # tokens before the end token may come
    max_len: int = 64           # tokens at most (the end token not counted)
    no_repeat_ngram: int = 0    # ban a token that repeats an n-gram of the target (0 = off)
    length_penalty: float = 1.0  # a finished beam ranks by score / length ** length_penalty
    seed: int = 0

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if self.beam_size < 1 or self.max_len < 1 or self.min_len < 0 or self.top_k < 0:
            raise ValueError("beam_size and max_len must be >= 1, min_len and top_k >= 0")
        if not 0 < self.top_p <= 1 or self.temperature <= 0:
            raise ValueError("top_p must be in (0, 1] and temperature > 0")

    @property
    def rows(self):
        """Rows per source: its beams (1 for greedy decoding and sampling)."""
        return self.beam_size if self.strategy == "beam" else 1

    @classmethod
    def from_config(cls, section):
        """Settings from a config section that declares (some of) the same keys."""
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**{name: getattr(section, name) for name in names if hasattr(section, name)})


class Constraint:
    """Which tokens may come next, per (source, beam): a grammar, a vocabulary, a forced prefix.

    A state is a value: `advance` returns a new state and never changes the old one, since beams that
    share a parent share its state (so cloning a beam costs nothing). The base class allows anything.
    """

    def start(self, index):
        """The state of source `index` (its position in the `sources` given to `generate`)."""
        return None

    def allowed(self, state):
        """None (any token), or the allowed next token ids (a sequence), or a boolean mask (vocab,)."""
        return None

    def advance(self, state, token):
        """The state after `token`."""
        return state


@dataclasses.dataclass
class Hypothesis:
    tokens: list      # generated token ids, the end token left out (at the length limit it is forced)
    score: float      # sum of log-probabilities, end token included; -inf when no token was allowed


# -- scorers -----------------------------------------------------------------------------------

class Scorer:
    """Next-token log-probabilities of every row.

    `start(sources)` takes the source token ids (each `[CLS] ... [SEP]`); then each
    `step(inputs, parents, prefixes)` gives log-probabilities (len(inputs), rows, vocab), where
    `inputs` are the indices of the sources still decoding (ascending, a subset of the previous
    step's), `prefixes` (len(inputs), rows, t) the target tokens so far and `parents` (len(inputs),
    rows) which row of the previous step (same source) each row continues (None at t = 0).
    """
    vocab_size = 0

    def start(self, sources):
        raise NotImplementedError

    def step(self, inputs, parents, prefixes):
        raise NotImplementedError


def _log_softmax(tf, logits):
    return tf.nn.log_softmax(tf.cast(logits, "float32"), axis=-1)


class FullScorer(Scorer):
    """Re-runs [source + prefix] through the model every step; works for every family."""

    def __init__(self, model):
        import tensorflow as tf
        self.model = model
        self.vocab_size = int(model.output_shape[-1])
        spec = tf.TensorSpec((None, None), tf.int32)

        @tf.function(input_signature=[spec, spec, spec], reduce_retracing=True)
        def logprobs(token_ids, segment_ids, positions):
            return _log_softmax(tf, self.model([token_ids, segment_ids, positions], training=False))
        self._logprobs = logprobs

    def start(self, sources):
        self.sources = [list(s) for s in sources]

    def step(self, inputs, parents, prefixes):
        from common.tokenize import pad
        n, rows, t = prefixes.shape
        tokens, segments, last = [], [], []
        for a, index in enumerate(inputs):
            source = self.sources[index]
            for b in range(rows):
                token_ids, segment_ids = pair_inputs(source, prefixes[a, b].tolist())
                tokens.append(token_ids)
                segments.append(segment_ids)
                last.append([len(token_ids) - 1])
        out = self._logprobs(pad(tokens), pad(segments), np.asarray(last, dtype="int32"))
        return out.numpy().reshape(n, rows, -1)


class CachedScorer(Scorer):
    """Keys and values of every layer cached: the source is encoded once, each step runs the newest
    token of each row only, and the rows of one source share its source cache. bert / roberta only
    (absolute positions, post-LayerNorm blocks, bert4keras layer names)."""

    def __init__(self, model, application="unilm"):
        import tensorflow as tf
        if application not in APPLICATIONS:
            raise ValueError(f"application must be one of {APPLICATIONS}")
        self.application = application
        self.layers = []
        index = 0
        names = {layer.name for layer in model.layers}
        while f"Transformer-{index}-MultiHeadSelfAttention" in names:
            self.layers.append(tuple(model.get_layer(f"Transformer-{index}-{part}") for part in (
                "MultiHeadSelfAttention", "MultiHeadSelfAttention-Norm", "FeedForward", "FeedForward-Norm")))
            index += 1
        if not self.layers:
            raise ValueError("CachedScorer needs a bert4keras BERT (layers Transformer-<i>-MultiHeadSelfAttention)")
        get = model.get_layer
        self.token_embedding, self.segment_embedding = get("Embedding-Token"), get("Embedding-Segment")
        self.position_embedding, self.embedding_norm = get("Embedding-Position"), get("Embedding-Norm")
        self.mapping = get("Embedding-Mapping") if "Embedding-Mapping" in names else None
        self.head = mlm_head(model)
        self.vocab_size = int(self.token_embedding.input_dim)
        attention = self.layers[0][0]
        self.heads, self.key_size, self.head_size = attention.heads, attention.key_size, attention.head_size
        self.scale = 1.0 / np.sqrt(self.key_size) if attention.attention_scale else 1.0
        spec = tf.TensorSpec
        self._prefill = tf.function(self._prefill_graph, reduce_retracing=True, input_signature=[
            spec((None, None), tf.int32), spec((None,), tf.int32)])
        n_layers = len(self.layers)
        cache = [spec((None, None, self.heads, None), tf.float32)] * n_layers
        self._step = tf.function(self._step_graph, reduce_retracing=True, input_signature=[
            spec((None, None), tf.int32), spec((None, None), tf.int32), spec((None,), tf.int32),
            cache, cache, cache, cache])

    # graph pieces ----------------------------------------------------------------------------

    def _embed(self, token_ids, segment_ids, positions):
        import tensorflow as tf
        x = self.token_embedding(token_ids) + self.segment_embedding(segment_ids)
        x = x + tf.gather(self.position_embedding.embeddings, positions)
        x = self.embedding_norm(x)
        return self.mapping(x) if self.mapping is not None else x

    def _split(self, x, size):
        import tensorflow as tf
        shape = tf.shape(x)
        return tf.reshape(x, tf.concat([shape[:-1], [self.heads, size]], 0))

    def _block(self, layer, x, attend):
        """One post-LN transformer block; `attend(q, k, v)` -> attention output (..., heads, head)."""
        import tensorflow as tf
        attention, attention_norm, feed_forward, feed_forward_norm = layer
        q = self._split(attention.q_dense(x), self.key_size)
        k = self._split(attention.k_dense(x), self.key_size)
        v = self._split(attention.v_dense(x), self.head_size)
        o = attend(q, k, v)
        shape = tf.shape(o)
        o = attention.o_dense(tf.reshape(o, tf.concat([shape[:-2], [self.heads * self.head_size]], 0)))
        x = attention_norm(x + o)
        return feed_forward_norm(x + feed_forward(x)), k, v

    def _prefill_graph(self, token_ids, lengths):
        """Sources (A, S) padded, their lengths -> (log-probs of the first target token (A, vocab),
        per-layer source keys and values (A, S, heads, size))."""
        import tensorflow as tf
        size = tf.shape(token_ids)[1]
        valid = tf.sequence_mask(lengths, size)                       # (A, S) keys that exist
        mask = valid[:, None, None, :]
        if self.application == "lm":
            causal = tf.range(size)[None, :] <= tf.range(size)[:, None]   # (query, key)
            mask = tf.logical_and(mask, causal[None, None])
        x = self._embed(token_ids, tf.zeros_like(token_ids), tf.range(size)[None, :])
        keys, values = [], []

        def attend(q, k, v):
            scores = tf.einsum("bqhd,bkhd->bhqk", q, k) * self.scale
            weights = tf.nn.softmax(tf.where(mask, scores, -1e30), axis=-1)
            return tf.einsum("bhqk,bkhd->bqhd", weights, v)

        for layer in self.layers:
            x, k, v = self._block(layer, x, attend)
            keys.append(k)
            values.append(v)
        last = tf.gather(x, lengths - 1, batch_dims=1)               # the source's closing [SEP]
        return _log_softmax(tf, self.head(last)), keys, values

    def _step_graph(self, tokens, positions, lengths, source_keys, source_values, target_keys, target_values):
        """New tokens (A, R) at positions (A, R); caches: source (A, S, h, d), target (A, R, t, h, d)
        flattened to (A * R, t, h, d). -> (log-probs (A, R, vocab), new target keys, values)."""
        import tensorflow as tf
        rows = tf.shape(tokens)[1]
        valid = tf.sequence_mask(lengths, tf.shape(source_keys[0])[1])[:, None, None, :]   # (A, 1, 1, S)
        x = self._embed(tokens, tf.ones_like(tokens), positions)    # (A, R, hidden)
        new_keys, new_values = [], []
        for n, layer in enumerate(self.layers):
            def attend(q, k, v, n=n):
                # q, k, v: (A, R, h, d); the row's own targets so far, then itself
                shape = tf.shape(target_keys[n])
                past_k = tf.reshape(target_keys[n], [-1, rows, shape[1], self.heads, self.key_size])
                past_v = tf.reshape(target_values[n], [-1, rows, shape[1], self.heads, self.head_size])
                all_k = tf.concat([past_k, k[:, :, None]], axis=2)          # (A, R, t+1, h, d)
                all_v = tf.concat([past_v, v[:, :, None]], axis=2)
                new_keys.append(all_k)
                new_values.append(all_v)
                source_scores = tf.einsum("arhd,ashd->arhs", q, source_keys[n]) * self.scale
                source_scores = tf.where(valid, source_scores, -1e30)
                target_scores = tf.einsum("arhd,arthd->arht", q, all_k) * self.scale
                weights = tf.nn.softmax(tf.concat([source_scores, target_scores], axis=-1), axis=-1)
                size = tf.shape(source_scores)[-1]
                return (tf.einsum("arhs,ashd->arhd", weights[..., :size], source_values[n])
                        + tf.einsum("arht,arthd->arhd", weights[..., size:], all_v))
            x, _, _ = self._block(layer, x, attend)
        flat = [tf.reshape(k, tf.concat([[-1], tf.shape(k)[2:]], 0)) for k in new_keys]
        flat_v = [tf.reshape(v, tf.concat([[-1], tf.shape(v)[2:]], 0)) for v in new_values]
        return _log_softmax(tf, self.head(x)), flat, flat_v

    # the scorer interface --------------------------------------------------------------------

    def start(self, sources):
        from common.tokenize import pad
        self.lengths = np.array([len(s) for s in sources], dtype="int32")
        self.first, self.source_keys, self.source_values = self._prefill(pad(sources), self.lengths)
        self.inputs = np.arange(len(sources))
        self.target_keys = self.target_values = None

    def step(self, inputs, parents, prefixes):
        import tensorflow as tf
        inputs = np.asarray(inputs)
        n, rows, t = prefixes.shape
        if not np.array_equal(inputs, self.inputs):   # sources that are done leave the batch
            keep = np.searchsorted(self.inputs, inputs)
            self.source_keys = [tf.gather(k, keep) for k in self.source_keys]
            self.source_values = [tf.gather(v, keep) for v in self.source_values]
            self.first = tf.gather(self.first, keep)
        else:
            keep = None
        lengths = self.lengths[inputs]
        if t == 0:
            self.inputs = inputs
            out = np.repeat(self.first.numpy()[:, None], rows, axis=1)
            self.target_keys = [np.zeros((n * rows, 0, self.heads, self.key_size), "float32")] * len(self.layers)
            self.target_values = [np.zeros((n * rows, 0, self.heads, self.head_size), "float32")] * len(self.layers)
            return out
        # rows of the previous step each new row continues, in the flattened (A * R) layout
        previous = keep if keep is not None else np.arange(n)
        order = (previous[:, None] * rows + parents).reshape(-1)
        target_keys = [tf.gather(k, order) for k in self.target_keys]
        target_values = [tf.gather(v, order) for v in self.target_values]
        positions = (lengths[:, None] + t - 1).repeat(rows, axis=1).astype("int32")
        out, self.target_keys, self.target_values = self._step(
            prefixes[:, :, -1].astype("int32"), positions, lengths, self.source_keys, self.source_values,
            target_keys, target_values)
        self.inputs = inputs
        return out.numpy()


def scorer_for(model, model_cfg, application="unilm", cache=True):
    """The cached scorer when asked for and the family allows it (bert / roberta), else the full one."""
    from common.model import ARCHITECTURES
    if cache and ARCHITECTURES[model_cfg.family] == "bert":
        return CachedScorer(model, application)
    return FullScorer(model)


# -- the batched decoder -----------------------------------------------------------------------

def banned_by_ngrams(prefix, n):
    """Tokens that would complete an n-gram already in `prefix`."""
    if n <= 0 or len(prefix) < n - 1:
        return []
    if n == 1:
        return list(set(prefix))
    tail = tuple(prefix[len(prefix) - n + 1:])
    return [prefix[i + n - 1] for i in range(len(prefix) - n + 1) if tuple(prefix[i:i + n - 1]) == tail]


def _allowed_mask(allowed, vocab_size):
    if allowed is None:
        return None
    allowed = np.asarray(allowed)
    if allowed.dtype == bool:
        if allowed.shape != (vocab_size,):
            raise ValueError(f"a constraint mask must have shape ({vocab_size},), got {allowed.shape}")
        return allowed
    mask = np.zeros(vocab_size, dtype=bool)
    mask[allowed.astype(int)] = True
    return mask


def _filter_sampling(logp, settings):
    """Log-probabilities at the temperature, outside top-k / top-p set to -inf, renormalised."""
    logp = logp / settings.temperature
    if settings.top_k and settings.top_k < logp.size:
        cut = np.partition(logp, -settings.top_k)[-settings.top_k]
        logp = np.where(logp >= cut, logp, NEG_INF)
    if settings.top_p < 1.0:
        order = np.argsort(-logp)
        probs = np.exp(logp[order] - logp[order[0]])
        probs /= probs.sum()
        keep = np.searchsorted(np.cumsum(probs), settings.top_p) + 1   # smallest set reaching top_p
        logp = logp.copy()
        logp[order[keep:]] = NEG_INF
    top = np.max(logp)
    return logp - (top + np.log(np.sum(np.exp(logp - top))))


def source_key(source):
    """A stable number per source: seeds its sampling generator, whatever batch it is in."""
    return zlib.crc32(np.asarray(source, dtype="int64").tobytes())


def generate(scorer, sources, settings, end_id, constraint=None, max_lens=None):
    """One Hypothesis per source, all decoded together.

    `max_lens` (optional, per source) lowers settings.max_len, e.g. to what maxlen leaves of a position
    table after a long source.
    """
    if not sources:
        return []
    constraint = constraint or Constraint()
    rows, count = settings.rows, len(sources)
    limits = np.full(count, settings.max_len) if max_lens is None else np.minimum(settings.max_len, max_lens)
    limits = np.maximum(limits, 0)
    rngs = ([np.random.default_rng([settings.seed, source_key(s)]) for s in sources]
            if settings.strategy == "sample" else [None] * count)
    active = np.arange(count)
    prefixes = np.zeros((count, rows, 0), dtype="int64")
    scores = np.full((count, rows), NEG_INF)
    scores[:, 0] = 0.0                            # at the start only the first row of each source is live
    states = [[constraint.start(i)] * rows for i in range(count)]
    finished = [[] for _ in range(count)]         # (rank, score, tokens) of hypotheses that ended
    results = [None] * count
    parents = None
    scorer.start(sources)
    for t in range(int(limits.max()) + 1):
        logp = np.array(scorer.step(active, parents, prefixes), dtype="float32")
        width = len(active)
        new_prefixes = np.zeros((width, rows, t + 1), dtype="int64")
        new_scores = np.full((width, rows), NEG_INF)
        new_parents = np.zeros((width, rows), dtype="int64")
        done = np.zeros(width, dtype=bool)
        for a, index in enumerate(active):
            for b in range(rows):
                if np.isfinite(scores[a, b]):
                    _restrict(logp[a, b], prefixes[a, b], states[index][b], t, limits[index], settings,
                              end_id, constraint)
        best = _best(logp, scores, rows) if settings.strategy != "sample" else None
        for a, index in enumerate(active):
            chosen = _sample(logp[a], scores[a], rngs[index], settings) if best is None else best[a]
            old_states, new_states, kept = states[index], [None] * rows, 0
            for place, (score, b, token) in enumerate(chosen):
                if token == end_id:
                    if place < rows:              # an end among the best `rows` candidates finishes a beam
                        tokens = prefixes[a, b].tolist()
                        finished[index].append((score / (len(tokens) + 1) ** settings.length_penalty,
                                                score, tokens))
                    continue
                if kept == rows:
                    break
                new_prefixes[a, kept, :t] = prefixes[a, b]
                new_prefixes[a, kept, t] = token
                new_scores[a, kept], new_parents[a, kept] = score, b
                new_states[kept] = constraint.advance(old_states[b], token)
                kept += 1
            for k in range(kept, rows):           # dead rows: a copy of the first, never live again
                new_prefixes[a, k], new_parents[a, k], new_states[k] = new_prefixes[a, 0], new_parents[a, 0], None
            states[index] = new_states
            done[a] = _is_done(finished[index], new_scores[a, :kept], rows, limits[index], settings)
            if done[a]:
                results[index] = _result(finished[index], new_prefixes[a, :kept], new_scores[a, :kept])
        keep = ~done
        if not keep.any():
            break
        active, prefixes, scores, parents = active[keep], new_prefixes[keep], new_scores[keep], new_parents[keep]
    return results


def _restrict(row, prefix, state, t, limit, settings, end_id, constraint):
    """Set to -inf (in place) the next tokens this row may not take."""
    mask = _allowed_mask(constraint.allowed(state), row.size)
    if mask is not None:
        row[~mask] = NEG_INF
    if settings.no_repeat_ngram:
        row[banned_by_ngrams(prefix.tolist(), settings.no_repeat_ngram)] = NEG_INF
    if t < settings.min_len:
        row[end_id] = NEG_INF
    if t >= limit:                                # at the length limit: the end token, whatever it scored
        end = row[end_id]
        row[:] = NEG_INF
        row[end_id] = end if np.isfinite(end) else 0.0


def _best(logp, scores, rows):
    """Per source: its 2 x rows best (score, row, token) continuations, best first (one partition
    over all sources at once)."""
    width, _, vocab = logp.shape
    candidates = (scores[:, :, None] + logp).reshape(width, -1)
    take = min(2 * rows, candidates.shape[1])
    top = np.argpartition(-candidates, take - 1, axis=1)[:, :take]
    chosen = []
    for a in range(width):
        row = top[a][np.argsort(-candidates[a, top[a]], kind="stable")]
        chosen.append([(float(candidates[a, k]), int(k // vocab), int(k % vocab))
                       for k in row if np.isfinite(candidates[a, k])])
    return chosen


def _sample(logp, scores, rng, settings):
    """One (score, 0, token) drawn from the filtered distribution of the source's single row."""
    if not np.isfinite(scores[0]):
        return []
    filtered = _filter_sampling(logp[0], settings)
    if not np.isfinite(filtered).any():
        return []
    probs = np.exp(filtered)
    token = int(rng.choice(probs.size, p=probs / probs.sum()))
    return [(float(scores[0] + logp[0, token]), 0, token)]


def _is_done(finished, live_scores, rows, limit, settings):
    """No live row left, `rows` hypotheses finished, or no live row can still beat the best finished
    one (scores only fall; the most a live row can reach is its score / (limit + 1) ** penalty)."""
    if not live_scores.size or len(finished) >= rows:
        return True
    if not finished:
        return False
    bound = float(np.max(live_scores)) / (limit + 1) ** settings.length_penalty
    return max(rank for rank, _, _ in finished) >= bound


def _result(finished, live_prefixes, live_scores):
    if finished:
        _, score, tokens = max(finished, key=lambda f: f[0])
        return Hypothesis(tokens, score)
    if live_scores.size:
        best = int(np.argmax(live_scores))
        return Hypothesis(live_prefixes[best].tolist(), float(live_scores[best]))
    return Hypothesis([], NEG_INF)
