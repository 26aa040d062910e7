"""HuggingFace-format BERT folders (config.json + vocab.txt + model.safetensors), without PyTorch.

A track's `[model] dir` may point at the folder `save_pretrained` writes for a BERT model
(`BertModel`, `BertForPreTraining`, `BertForMaskedLM`, ...). This module reads it and hands
bert4keras the same thing a Google-BERT checkpoint would give it: a bert_config.json dict and every
variable under its Google-BERT name, in Google's orientation.

- Weights are read from safetensors only. `pytorch_model.bin` is a pickle (loading one runs
  whatever code it holds), so it is refused with the one-line command that converts it.
- The safetensors format is parsed here (8-byte little-endian header length, a JSON header naming
  each tensor's dtype, shape and byte range, then raw little-endian data) rather than through the
  `safetensors` package: it is twenty lines, adds no dependency, and reads BF16 tensors, which
  numpy has no dtype for and `safetensors.numpy` therefore cannot return.
- Names: `bert.encoder.layer.3.attention.self.query.weight` ->
  `bert/encoder/layer_3/attention/self/query/kernel`. PyTorch's Linear stores (out, in), Google's
  dense kernels are (in, out): every Linear weight is transposed except `cls.seq_relationship.weight`,
  which Google also stores as (2, hidden) `output_weights`. LayerNorm `weight`/`bias` (or the older
  `gamma`/`beta`) become `gamma`/`beta`. The MLM decoder weight is the word embedding matrix (tied)
  and is usually absent; plain `BertModel` saves have no `bert.` prefix and no heads.
"""
import json
import logging
import math
import os
import re

import numpy as np

from common.config import ConfigError

log = logging.getLogger(__name__)

CONFIG_FILES = ("config.json", "bert_config.json")  # the first present is read
SAFETENSORS = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PICKLES = ("pytorch_model.bin", "pytorch_model.bin.index.json")
OTHER_WEIGHTS = ("tf_model.h5", "flax_model.msgpack")
GOOGLE_CHECKPOINT_INDEX = "bert_model.ckpt.index"

# model_type values whose checkpoints are Google BERT under another name. Chinese "RoBERTa" models
# (hfl/chinese-roberta-wwm-ext and its kin) declare "bert": they are BERT trained RoBERTa's way.
ACCEPTED_MODEL_TYPES = ("bert",)

# BertConfig's defaults: transformers uses them for keys a config.json leaves out, and so do we.
HF_DEFAULTS = {
    "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
    "intermediate_size": 3072, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
    "initializer_range": 0.02, "layer_norm_eps": 1e-12,
}
# HF activation name -> the name bert4keras resolves ("gelu" is the erf form in both).
ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh",
               "relu": "relu", "silu": "swish", "swish": "swish", "tanh": "tanh"}
BERT4KERAS_LAYER_NORM_EPS = 1e-12  # bert4keras's BERT hard-codes this epsilon

# safetensors dtype -> numpy dtype (little-endian); BF16 is widened to float32 by hand.
DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
          "I8": "i1", "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}
MAX_HEADER_BYTES = 100_000_000  # the format's own limit


# Finding the folder ----------------------------------------------------------------------------

def _has(folder, name):
    return os.path.isfile(os.path.join(folder, name))


def is_hf_folder(folder):
    """True for a folder in HuggingFace layout; a folder with a Google-BERT checkpoint is not one.

    A folder with bert_config.json counts only if it also holds HF weights (the "PyTorch" downloads
    of Chinese-BERT-wwm pair bert_config.json with pytorch_model.bin): a Google folder without its
    checkpoint (architecture only) stays a Google folder.
    """
    if not folder or not os.path.isdir(folder) or _has(folder, GOOGLE_CHECKPOINT_INDEX):
        return False
    weights = any(_has(folder, name) for name in (SAFETENSORS, SAFETENSORS_INDEX, *PICKLES))
    if _has(folder, "bert_config.json"):
        return weights
    return weights or _has(folder, "config.json")


def config_file(folder):
    for name in CONFIG_FILES:
        if _has(folder, name):
            return os.path.join(folder, name)
    return os.path.join(folder, CONFIG_FILES[0])


def weight_files(folder):
    """The safetensors files of the folder (one file, or the shards its index names).

    Refuses pickles and folders that hold other formats only, saying how to convert them.
    """
    if _has(folder, SAFETENSORS):
        return [os.path.join(folder, SAFETENSORS)]
    if _has(folder, SAFETENSORS_INDEX):
        index_path = os.path.join(folder, SAFETENSORS_INDEX)
        shards = sorted(set(_weight_map(index_path).values()))
        missing = [name for name in shards if not _has(folder, name)]
        if missing:
            raise FileNotFoundError(f"{index_path} names shard(s) not in the folder: {', '.join(missing)}")
        return [os.path.join(folder, name) for name in shards]
    pickles = [name for name in PICKLES if _has(folder, name)]
    if pickles:
        raise ConfigError(
            f"{os.path.join(folder, pickles[0])} is a PyTorch pickle, which this project does not load "
            "(unpickling runs arbitrary code). Convert it once where torch and transformers are installed: "
            f"python -c \"from transformers import BertForPreTraining as M; M.from_pretrained('{folder}')"
            f".save_pretrained('OUT', safe_serialization=True)\" then copy vocab.txt into OUT "
            "and point [model] dir at OUT")
    found = [name for name in OTHER_WEIGHTS if _has(folder, name)]
    raise FileNotFoundError(
        f"{folder}: no {SAFETENSORS} (nor {SAFETENSORS_INDEX} with shards)"
        + (f"; found only {', '.join(found)}, which is not read here" if found else ""))


def _weight_map(index_path):
    from common.io import read_json
    index = read_json(index_path)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        from common.io import DataError
        raise DataError(index_path, None, "expected an object mapping tensor names to files", field="weight_map")
    return weight_map


def check_folder(folder, vocab, need_checkpoint=True):
    """Raise FileNotFoundError (or ValueError for a pickle) unless the folder can be loaded."""
    missing = [path for path in (config_file(folder), vocab) if not os.path.isfile(path)]
    if missing:
        raise FileNotFoundError("model files not found: " + ", ".join(missing)
                                + " (a HuggingFace folder needs config.json, vocab.txt and model.safetensors)")
    if need_checkpoint:
        weight_files(folder)


# config.json -> bert_config.json ---------------------------------------------------------------

def bert_config(folder):
    """The folder's config as a Google bert_config.json dict that bert4keras builds the same model from."""
    from common.io import DataError, read_json
    path = config_file(folder)
    hf = read_json(path)
    if not isinstance(hf, dict):
        raise DataError(path, None, "expected a JSON object")
    model_type = hf.get("model_type", "bert")  # Google-style configs have none
    if model_type not in ACCEPTED_MODEL_TYPES:
        raise DataError(path, None, (
            f"model_type {model_type!r} is not supported: a HuggingFace folder is loaded as BERT, and only "
            f"model_type {' or '.join(map(repr, ACCEPTED_MODEL_TYPES))} is BERT (Chinese BERT, BERT-wwm and "
            "RoBERTa-wwm-ext declare 'bert'). 'roberta' is fairseq's RoBERTa (offset positions, one token "
            "type, BPE vocabulary); for albert, nezha or electra use a Google-format checkpoint with "
            "[model] family"), field="model_type")
    position = hf.get("position_embedding_type") or "absolute"
    if position != "absolute":
        raise DataError(path, None, f"{position!r} is not supported (bert4keras's BERT has absolute "
                        "position embeddings)", field="position_embedding_type")
    for flag in ("is_decoder", "add_cross_attention"):
        if hf.get(flag):
            raise DataError(path, None, "a decoder is not an encoder checkpoint", field=flag)
    config = {key: hf.get(key, default) for key, default in HF_DEFAULTS.items()}
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "max_position_embeddings", "type_vocab_size"):
        if not isinstance(config[key], int) or isinstance(config[key], bool) or config[key] <= 0:
            raise DataError(path, None, f"expected a positive integer, got {config[key]!r}", field=key)
    if config["hidden_size"] % config["num_attention_heads"]:
        raise DataError(path, None, f"{config['hidden_size']} is not a multiple of num_attention_heads "
                        f"{config['num_attention_heads']}", field="hidden_size")
    if config["hidden_act"] not in ACTIVATIONS:
        raise DataError(path, None, f"{config['hidden_act']!r} is not supported; known: "
                        f"{', '.join(ACTIVATIONS)}", field="hidden_act")
    config["hidden_act"] = ACTIVATIONS[config["hidden_act"]]
    eps = config.pop("layer_norm_eps")
    if not math.isclose(float(eps), BERT4KERAS_LAYER_NORM_EPS, rel_tol=1e-6):
        log.warning("%s: layer_norm_eps %g, but bert4keras's BERT uses %g: outputs differ slightly "
                    "from the original model's", path, eps, BERT4KERAS_LAYER_NORM_EPS)
    return config


# Names ------------------------------------------------------------------------------------------

def name_table(config):
    """{HF name without the `bert.` prefix: (Google name, transpose, Google shape)} for this config.

    Encoder tensors first (all required), then the optional heads (pooler, MLM, NSP).
    """
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    table = {}

    def tensor(hf, google, shape, transpose=False):
        table[hf] = (google, transpose, shape)

    def linear(hf, google, n_in, n_out):
        tensor(hf + ".weight", google + "/kernel", (n_in, n_out), transpose=True)
        tensor(hf + ".bias", google + "/bias", (n_out,))

    def layer_norm(hf, google):
        tensor(hf + ".weight", google + "/gamma", (hidden,))
        tensor(hf + ".bias", google + "/beta", (hidden,))

    for kind, rows in (("word", config["vocab_size"]), ("position", config["max_position_embeddings"]),
                       ("token_type", config["type_vocab_size"])):
        tensor(f"embeddings.{kind}_embeddings.weight", f"bert/embeddings/{kind}_embeddings", (rows, hidden))
    layer_norm("embeddings.LayerNorm", "bert/embeddings/LayerNorm")
    for i in range(config["num_hidden_layers"]):
        hf, google = f"encoder.layer.{i}.", f"bert/encoder/layer_{i}/"
        for part in ("query", "key", "value"):
            linear(hf + f"attention.self.{part}", google + f"attention/self/{part}", hidden, hidden)
        linear(hf + "attention.output.dense", google + "attention/output/dense", hidden, hidden)
        layer_norm(hf + "attention.output.LayerNorm", google + "attention/output/LayerNorm")
        linear(hf + "intermediate.dense", google + "intermediate/dense", hidden, inner)
        linear(hf + "output.dense", google + "output/dense", inner, hidden)
        layer_norm(hf + "output.LayerNorm", google + "output/LayerNorm")
    linear("pooler.dense", "bert/pooler/dense", hidden, hidden)
    linear("cls.predictions.transform.dense", "cls/predictions/transform/dense", hidden, hidden)
    layer_norm("cls.predictions.transform.LayerNorm", "cls/predictions/transform/LayerNorm")
    tensor("cls.predictions.bias", "cls/predictions/output_bias", (config["vocab_size"],))
    # Google keeps the NSP weight as (2, hidden) like PyTorch does; bert4keras transposes it on load.
    tensor("cls.seq_relationship.weight", "cls/seq_relationship/output_weights", (2, hidden))
    tensor("cls.seq_relationship.bias", "cls/seq_relationship/output_bias", (2,))
    return table


HEAD_PREFIXES = ("pooler.", "cls.")
_OLD_LAYER_NORM = re.compile(r"LayerNorm\.(gamma|beta)$")
# Tensors save_pretrained may write that carry no weights of their own.
_BUFFERS = re.compile(r"^(bert\.)?embeddings\.(position_ids|token_type_ids)$")
# The MLM decoder is tied to the word embeddings, its bias to cls.predictions.bias; older saves store
# copies. HF name -> the Google name whose value it must equal.
_TIED = {"cls.predictions.decoder.weight": "bert/embeddings/word_embeddings",
         "cls.predictions.decoder.bias": "cls/predictions/output_bias"}


def _canonical(name):
    """(table key, had the `bert.` prefix): the HF name with the prefix off and old LayerNorm names new."""
    name = _OLD_LAYER_NORM.sub(lambda m: "LayerNorm." + ("weight" if m.group(1) == "gamma" else "bias"), name)
    if name.startswith("bert."):
        return name[len("bert."):], True
    return name, False


class GoogleVariables(dict):
    """{Google-BERT name: float32 array}, fed to bert4keras as its `checkpoint_path`.

    bert4keras-specific: `Transformer.load_variable` reads `checkpoint[name]` when the checkpoint is
    a dict, so `build_transformer_model(..., checkpoint_path=<this>)` loads these arrays through its
    own mapping and orientation rules (it transposes `cls/seq_relationship/output_weights` itself).
    A head the model asks for but the folder lacks raises here, naming the HF tensor.
    """

    def __init__(self, values, hf_names, source):
        super().__init__(values)
        self.hf_names, self.source = hf_names, source

    def __missing__(self, name):
        hf = self.hf_names.get(name, "?")
        raise ConfigError(f"{self.source} has no tensor {hf} (Google name {name}), which the model being "
                         "built needs (with_mlm needs cls.predictions.*, with_nsp cls.seq_relationship.*, "
                         "with_pool the pooler)")


def load_variables(folder, config=None):
    """Every tensor of the folder under its Google-BERT name, as float32 in Google's orientation.

    Errors name the tensors: unknown ones (not part of BERT), missing encoder ones, wrong shapes.
    """
    from common.io import DataError
    config = config or bert_config(folder)
    table = name_table(config)
    files = weight_files(folder)
    source = files[0] if len(files) == 1 else os.path.join(folder, SAFETENSORS_INDEX)
    tensors = {}
    for path in files:
        for name, array in read_safetensors(path).items():
            if name in tensors:
                raise DataError(path, None, "tensor stored in two files", field=name)
            tensors[name] = array

    values, hf_names, unknown, wrong = {}, {}, [], []
    tied = {}
    for name, array in tensors.items():
        key, prefixed = _canonical(name)
        if _BUFFERS.match(name):
            continue
        if name in _TIED:
            tied[name] = array
            continue
        if key not in table or (prefixed and key.startswith("cls.")):
            unknown.append(name)
            continue
        google, transpose, shape = table[key]
        if google in values:
            raise DataError(source, None, f"two tensors map to {google} ({hf_names[google]} and {name})",
                            field=name)
        if array.ndim and transpose:
            array = array.T
        if tuple(array.shape) != shape:
            expected = shape[::-1] if transpose else shape
            wrong.append(f"{name} {tuple(tensors[name].shape)} (expected {expected})")
            continue
        if not np.issubdtype(array.dtype, np.floating):
            wrong.append(f"{name} has dtype {array.dtype}, not a float")
            continue
        values[google] = np.array(array, dtype=np.float32, order="C")  # a copy: the file may change later
        hf_names[google] = name
    if unknown:
        raise DataError(source, None, f"{len(unknown)} tensor(s) that are not part of a BERT encoder, pooler, "
                        f"MLM or NSP head: {', '.join(sorted(unknown)[:20])}"
                        + (" ..." if len(unknown) > 20 else ""))
    if wrong:
        raise DataError(source, None, "wrong shape for the config: " + "; ".join(wrong[:20]))
    prefix = "bert." if any(n.startswith("bert.") for n in hf_names.values()) else ""
    missing = [prefix + key for key, (google, _, _) in table.items()
               if google not in values and not key.startswith(HEAD_PREFIXES)]
    if missing:
        raise DataError(source, None, f"{len(missing)} encoder tensor(s) missing: "
                        f"{', '.join(missing[:20])}" + (" ..." if len(missing) > 20 else ""))
    _check_tied(tied, values, hf_names, source)
    for key, (google, _, _) in table.items():
        hf_names.setdefault(google, (prefix if not key.startswith("cls.") else "") + key)
    return GoogleVariables(values, hf_names, source)


def _check_tied(tied, values, hf_names, source):
    """A stored copy of a tied tensor must equal its partner: bert4keras has no separate decoder."""
    from common.io import DataError
    for name, array in tied.items():
        google = _TIED[name]
        if google not in values and name.endswith(".bias"):  # the bias stored under this name only
            values[google], hf_names[google] = np.array(array, dtype=np.float32), name
        elif google not in values or not np.array_equal(values[google], array):  # shapes too
            partner = hf_names.get(google, google)
            raise DataError(source, None, f"not equal to {partner}, to which bert4keras ties the MLM decoder",
                            field=name)


# Safetensors ------------------------------------------------------------------------------------

def read_safetensors(path):
    """{name: numpy array} of a .safetensors file (memory-mapped; BF16 comes back as float32)."""
    from common.io import DataError
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise DataError(path, None, "not a safetensors file (shorter than its 8-byte header length)")
        header_len = int.from_bytes(head, "little")
        if header_len > min(MAX_HEADER_BYTES, size - 8):
            raise DataError(path, None, f"not a safetensors file (header length {header_len} for a "
                            f"{size}-byte file)")
        try:
            header = json.loads(f.read(header_len))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(path, None, f"not a safetensors file (header is not JSON: {e})") from None
    if not isinstance(header, dict):
        raise DataError(path, None, "not a safetensors file (header is not a JSON object)")
    start, data_len = 8 + header_len, size - 8 - header_len
    raw = np.memmap(path, dtype=np.uint8, mode="r", offset=start, shape=(data_len,)) if data_len else \
        np.zeros(0, np.uint8)
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], [int(n) for n in info["shape"]], info["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise DataError(path, None, "entry needs dtype, shape and data_offsets", field=name) from None
        itemsize = 2 if dtype == "BF16" else np.dtype(DTYPES[dtype]).itemsize if dtype in DTYPES else None
        if itemsize is None:
            raise DataError(path, None, f"dtype {dtype} is not supported", field=name)
        count = math.prod(shape)
        if not (0 <= begin <= end <= data_len) or end - begin != count * itemsize:
            raise DataError(path, None, f"byte range [{begin}, {end}) does not hold {dtype}{shape} within "
                            f"the {data_len} data bytes", field=name)
        chunk = raw[begin:end]
        if dtype == "BF16":  # the upper half of a float32: widen exactly
            array = (chunk.view("<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            array = chunk.view(DTYPES[dtype])
        tensors[name] = array.reshape(shape)
    return tensors


# What build_encoder needs ------------------------------------------------------------------------

def transformer_sources(folder, model, load_checkpoint=True):
    """Keyword arguments of bert4keras's `build_transformer_model` for a HF folder: no config file
    (the translated config goes in as keywords, which bert4keras merges the same way) and the
    weights as a `GoogleVariables` dict in place of a checkpoint path."""
    if model != "bert":
        raise ConfigError(f"{folder}: a HuggingFace folder holds a BERT; model.family must be bert or roberta")
    config = bert_config(folder)
    checkpoint = load_variables(folder, config) if load_checkpoint else None
    return dict(config, config_path=None, checkpoint_path=checkpoint)
