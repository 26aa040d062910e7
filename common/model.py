"""Build a pretrained encoder from a track's [model] config section.

A real checkpoint and the tiny demo checkpoint go through exactly this code. Families:
bert and roberta (RoBERTa-wwm-ext ships in BERT format), albert, nezha, electra.
"""
import os

FAMILIES = {"bert": "bert", "roberta": "bert", "albert": "albert", "nezha": "nezha", "electra": "electra"}

_DEFAULT_FILES = {"config_path": "bert_config.json", "checkpoint_path": "bert_model.ckpt",
                  "vocab_path": "vocab.txt"}


def model_paths(model_cfg):
    """(config_path, checkpoint_path, vocab_path): explicit keys win, else the standard names in `dir`."""
    paths = []
    for key, default in _DEFAULT_FILES.items():
        path = model_cfg.get(key) or ""
        if not path:
            if not model_cfg.get("dir"):
                raise ValueError(f"config [model] needs 'dir' or '{key}'")
            path = os.path.join(model_cfg["dir"], default)
        paths.append(path)
    return tuple(paths)


def vocab_path(model_cfg):
    return model_paths(model_cfg)[2]


def check_files(model_cfg, need_checkpoint=True):
    config_path, checkpoint_path, vocab = model_paths(model_cfg)
    missing = [p for p in (config_path, vocab) if not os.path.isfile(p)]
    if need_checkpoint and not os.path.isfile(checkpoint_path + ".index"):
        missing.append(checkpoint_path + ".index")
    if missing:
        raise FileNotFoundError(
            "model files not found: " + ", ".join(missing)
            + " (set model.dir or model.config_path/checkpoint_path/vocab_path in the track config)")


def build_encoder(model_cfg, load_checkpoint=True, return_transformer=False):
    """Keras model [token_ids, segment_ids] -> last hidden states (batch, seq, hidden).

    `load_checkpoint=False` builds the architecture only (predict then loads the trained weights).
    """
    from common import backend
    backend.setup()
    from bert4keras.models import build_transformer_model

    family = model_cfg.get("family", "bert")
    if family not in FAMILIES:
        raise ValueError(f"model.family must be one of {sorted(FAMILIES)}, got {family!r}")
    check_files(model_cfg, need_checkpoint=load_checkpoint)
    config_path, checkpoint_path, _ = model_paths(model_cfg)
    overrides = {}
    if model_cfg.get("dropout") is not None:
        overrides["dropout_rate"] = float(model_cfg["dropout"])
    if model_cfg.get("attention_dropout") is not None:
        overrides["attention_dropout_rate"] = float(model_cfg["attention_dropout"])
    transformer = build_transformer_model(
        config_path=config_path,
        checkpoint_path=checkpoint_path if load_checkpoint else None,
        model=FAMILIES[family],
        return_keras_model=False,
        **overrides,
    )
    if model_cfg.get("recompute", False):
        from common import recompute
        recompute.enable(transformer.model)
    return transformer if return_transformer else transformer.model


def max_tokens(encoder):
    """Tokens of one text the encoder takes besides [CLS] and [SEP] (absolute position embeddings
    limit it; NEZHA's relative positions do not, 510 as for BERT then)."""
    names = {layer.name for layer in encoder.layers}
    if "Embedding-Position" not in names:
        return 510
    return int(encoder.get_layer("Embedding-Position").input_dim) - 2
