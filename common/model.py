"""Build a pretrained encoder from a track's [model] config section.

A real checkpoint and the tiny demo checkpoint go through exactly this code. Families:
bert and roberta (RoBERTa-wwm-ext ships in BERT format), albert, nezha, electra. `dir` may also be a
HuggingFace folder (config.json, vocab.txt, model.safetensors) of a BERT: see common/hf.py.
"""
import os

from common import hf

FAMILIES = {"bert": "bert", "roberta": "bert", "albert": "albert", "nezha": "nezha", "electra": "electra"}

_DEFAULT_FILES = {"config_path": "bert_config.json", "checkpoint_path": "bert_model.ckpt",
                  "vocab_path": "vocab.txt"}


def model_paths(model_cfg):
    """(config_path, checkpoint_path, vocab_path): explicit keys win, else the standard names in `dir`.

    For a HuggingFace folder the checkpoint path is the folder itself."""
    folder = hf_folder(model_cfg)
    if folder:
        return hf.config_file(folder), folder, model_cfg.get("vocab_path") or os.path.join(folder, "vocab.txt")
    paths = []
    for key, default in _DEFAULT_FILES.items():
        path = model_cfg.get(key) or ""
        if not path:
            if not model_cfg.get("dir"):
                raise ValueError(f"config [model] needs 'dir' or '{key}'")
            path = os.path.join(model_cfg["dir"], default)
        paths.append(path)
    return tuple(paths)


def hf_folder(model_cfg):
    """`dir` when it is a HuggingFace folder and no explicit config or checkpoint path overrides it."""
    folder = model_cfg.get("dir")
    explicit = model_cfg.get("config_path") or model_cfg.get("checkpoint_path")
    return folder if not explicit and hf.is_hf_folder(folder) else None


def vocab_path(model_cfg):
    return model_paths(model_cfg)[2]


def check_files(model_cfg, need_checkpoint=True):
    config_path, checkpoint_path, vocab = model_paths(model_cfg)
    if hf_folder(model_cfg):
        return hf.check_folder(checkpoint_path, vocab, need_checkpoint)
    missing = [p for p in (config_path, vocab) if not os.path.isfile(p)]
    if need_checkpoint and not os.path.isfile(checkpoint_path + ".index"):
        missing.append(checkpoint_path + ".index")
    if missing:
        raise FileNotFoundError(
            "model files not found: " + ", ".join(missing)
            + " (set model.dir or model.config_path/checkpoint_path/vocab_path in the track config)")


def build_encoder(model_cfg, load_checkpoint=True, return_transformer=False, **options):
    """Keras model [token_ids, segment_ids] -> last hidden states (batch, seq, hidden).

    `load_checkpoint=False` builds the architecture only (predict then loads the trained weights).
    `options` go to bert4keras's build_transformer_model (e.g. with_mlm=True).
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
    if hf_folder(model_cfg):
        sources = hf.transformer_sources(checkpoint_path, FAMILIES[family], load_checkpoint)
    else:
        sources = {"config_path": config_path, "checkpoint_path": checkpoint_path if load_checkpoint else None}
    transformer = build_transformer_model(
        **sources,
        model=FAMILIES[family],
        return_keras_model=False,
        **overrides,
        **options,
    )
    if model_cfg.get("recompute", False):
        from common import recompute
        recompute.enable(transformer.model)
    return transformer if return_transformer else transformer.model
