"""HuggingFace folders (config.json + vocab.txt + model.safetensors) load through common.model.

The HF files are written here by hand, independently of common/hf.py: the tensors of a tiny random
bert4keras model are renamed and transposed into PyTorch's layout by this file's own table, and
stored by this file's own safetensors writer.
"""
import dataclasses
import json
import os
import re
import struct

import numpy as np
import pytest

from common.io import DataError

CONFIG = dict(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
              hidden_act="gelu", max_position_embeddings=32, type_vocab_size=2)
HEADS = dict(with_mlm=True, with_nsp=True)  # with_nsp brings the pooler too


# An independent writer of HF folders -------------------------------------------------------------

def write_safetensors(path, tensors, dtype="F32"):
    """The safetensors layout: u64 header length, JSON header, then the raw little-endian bytes."""
    header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, array in tensors.items():
        if array.dtype.kind == "i":
            data, code = np.ascontiguousarray(array, "<i8").tobytes(), "I64"
        elif dtype == "F16":
            data, code = np.ascontiguousarray(array, "<f2").tobytes(), "F16"
        else:
            data, code = np.ascontiguousarray(array, "<f4").tobytes(), "F32"
        header[name] = {"dtype": code, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def hf_tensors(bert, prefix="bert.", heads=True, old_layer_norm=False):
    """The model's weights under PyTorch BERT names: Linear weights are (out, in), so every Dense
    kernel is transposed (the NSP classifier's too)."""
    def weights(layer):
        return [w.numpy() for w in bert.model.get_layer(layer).weights]

    gamma, beta = ("gamma", "beta") if old_layer_norm else ("weight", "bias")
    out = {}

    def linear(name, kernel, bias):
        out[name + ".weight"], out[name + ".bias"] = kernel.T, bias

    def norm(name, layer):
        out[f"{name}.{beta}"], out[f"{name}.{gamma}"] = weights(layer)  # Keras order: beta, gamma

    p = prefix
    out[p + "embeddings.word_embeddings.weight"], = weights("Embedding-Token")
    out[p + "embeddings.token_type_embeddings.weight"], = weights("Embedding-Segment")
    out[p + "embeddings.position_embeddings.weight"], = weights("Embedding-Position")
    norm(p + "embeddings.LayerNorm", "Embedding-Norm")
    for i in range(CONFIG["num_hidden_layers"]):
        q, qb, k, kb, v, vb, o, ob = weights(f"Transformer-{i}-MultiHeadSelfAttention")
        layer = f"{p}encoder.layer.{i}."
        linear(layer + "attention.self.query", q, qb)
        linear(layer + "attention.self.key", k, kb)
        linear(layer + "attention.self.value", v, vb)
        linear(layer + "attention.output.dense", o, ob)
        norm(layer + "attention.output.LayerNorm", f"Transformer-{i}-MultiHeadSelfAttention-Norm")
        inner, inner_b, outer, outer_b = weights(f"Transformer-{i}-FeedForward")
        linear(layer + "intermediate.dense", inner, inner_b)
        linear(layer + "output.dense", outer, outer_b)
        norm(layer + "output.LayerNorm", f"Transformer-{i}-FeedForward-Norm")
    if heads:
        linear(p + "pooler.dense", *weights("Pooler-Dense"))
        linear("cls.predictions.transform.dense", *weights("MLM-Dense"))
        norm("cls.predictions.transform.LayerNorm", "MLM-Norm")
        out["cls.predictions.bias"], = weights("MLM-Bias")
        linear("cls.seq_relationship", *weights("NSP-Proba"))
    return out


def write_hf_folder(folder, tensors, config=None, shards=1):
    os.makedirs(folder, exist_ok=True)
    hf_config = {"architectures": ["BertForPreTraining"], "model_type": "bert", "layer_norm_eps": 1e-12,
                 "pad_token_id": 0, "position_embedding_type": "absolute", **CONFIG, **(config or {})}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(hf_config, f)
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                          + [f"t{i}" for i in range(CONFIG["vocab_size"] - 5)]) + "\n")
    if shards == 1:
        write_safetensors(os.path.join(folder, "model.safetensors"), tensors)
        return folder
    names, weight_map = list(tensors), {}
    for s in range(shards):
        file_name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: tensors[n] for n in names[s::shards]}
        write_safetensors(os.path.join(folder, file_name), part)
        weight_map.update(dict.fromkeys(part, file_name))
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)
    return folder


# Fixtures ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def original(tf, tmp_path_factory):
    """A tiny bert4keras BERT with pooler, MLM and NSP heads, every weight random (LayerNorm too,
    so that a gamma/beta swap shows)."""
    from bert4keras.models import build_transformer_model
    from common import backend
    backend.set_seed(11)
    bert = build_transformer_model(None, None, return_keras_model=False, **CONFIG, **HEADS)
    rng = np.random.default_rng(5)
    bert.model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in bert.model.get_weights()])
    return bert


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    ids = rng.integers(5, CONFIG["vocab_size"], size=(3, 12))
    segments = (np.arange(12)[None, :] >= rng.integers(3, 10, size=(3, 1))).astype("int64")
    return [ids, segments]


@pytest.fixture(scope="module")
def pretraining_dir(original, tmp_path_factory):
    """BertForPreTraining layout: `bert.` prefix, MLM and NSP heads, the tied decoder weight stored
    too (as older saves did) and the position_ids buffer."""
    tensors = hf_tensors(original)
    tensors["cls.predictions.decoder.weight"] = tensors["bert.embeddings.word_embeddings.weight"].copy()
    tensors["bert.embeddings.position_ids"] = np.arange(CONFIG["max_position_embeddings"])[None, :]
    return write_hf_folder(str(tmp_path_factory.mktemp("hf_pretraining")), tensors)


@pytest.fixture(scope="module")
def bertmodel_dir(original, tmp_path_factory):
    """BertModel layout: no prefix, no MLM/NSP heads, old LayerNorm gamma/beta names, two shards."""
    tensors = hf_tensors(original, prefix="", heads=False, old_layer_norm=True)
    return write_hf_folder(str(tmp_path_factory.mktemp("hf_bertmodel")), tensors, shards=2)


def keras_model(bert):
    """The Keras model of a bert4keras Transformer (or the model itself)."""
    return getattr(bert, "model", bert)


def hidden_model(bert):
    import keras
    last = keras_model(bert).get_layer(f"Transformer-{CONFIG['num_hidden_layers'] - 1}-FeedForward-Norm")
    return keras.models.Model(keras_model(bert).inputs, last.output)


def layer_weights(bert):
    return {layer.name: [w.numpy() for w in layer.weights] for layer in keras_model(bert).layers if layer.weights}


def assert_same_weights(loaded, original, layers=None):
    got, want = layer_weights(loaded), layer_weights(original)
    layers = layers or want.keys()
    assert set(layers) <= set(got)
    for name in layers:
        assert len(got[name]) == len(want[name]), name
        for g, w in zip(got[name], want[name]):
            assert g.shape == w.shape and np.array_equal(g, w), name


# Loading ----------------------------------------------------------------------------------------

def test_folder_detection_keeps_google_folders_on_the_old_path(tiny_checkpoint, pretraining_dir, tmp_path):
    from common import hf
    from common.model import checkpoint_config, hf_folder, model_paths
    google_dir = os.path.dirname(tiny_checkpoint["vocab_path"])
    assert not hf.is_hf_folder(google_dir)
    assert model_paths(checkpoint_config(google_dir)) == (tiny_checkpoint["config_path"], tiny_checkpoint["checkpoint_path"],
                                                tiny_checkpoint["vocab_path"])
    assert hf_folder(checkpoint_config(pretraining_dir)) == pretraining_dir
    assert model_paths(checkpoint_config(pretraining_dir)) == (os.path.join(pretraining_dir, "config.json"), pretraining_dir,
                                                     os.path.join(pretraining_dir, "vocab.txt"))
    # explicit Google paths win over an HF dir
    assert hf_folder(dataclasses.replace(checkpoint_config(pretraining_dir), config_path=tiny_checkpoint["config_path"])) is None
    # a Google folder without its checkpoint (architecture only) is not taken for an HF one
    (tmp_path / "bert_config.json").write_text("{}")
    assert not hf.is_hf_folder(str(tmp_path))


def test_pretraining_layout_loads_every_tensor_in_place(original, pretraining_dir, inputs):
    from common.model import build_encoder, checkpoint_config
    loaded = build_encoder(checkpoint_config(pretraining_dir), **HEADS)
    assert_same_weights(loaded, original)
    nsp, mlm = loaded.predict(inputs, verbose=0)
    want_nsp, want_mlm = original.model.predict(inputs, verbose=0)
    np.testing.assert_allclose(mlm, want_mlm, rtol=0, atol=1e-6)
    np.testing.assert_allclose(nsp, want_nsp, rtol=0, atol=1e-6)


def test_bertmodel_layout_with_old_layer_norm_names_and_shards_loads_the_encoder(original, bertmodel_dir, inputs):
    from common.model import build_encoder, checkpoint_config
    encoder = build_encoder(checkpoint_config(bertmodel_dir))
    loaded = {layer.name: [w.numpy() for w in layer.weights] for layer in encoder.layers if layer.weights}
    want = layer_weights(original)
    assert set(loaded) == {name for name in want if name.startswith(("Embedding-", "Transformer-"))}
    for name, values in loaded.items():
        assert all(np.array_equal(g, w) for g, w in zip(values, want[name])), name
    np.testing.assert_allclose(encoder.predict(inputs, verbose=0),
                               hidden_model(original).predict(inputs, verbose=0), rtol=0, atol=1e-6)


def test_head_absent_from_the_folder_is_named(bertmodel_dir):
    from common.model import build_encoder, checkpoint_config
    with pytest.raises(ValueError, match=r"no tensor cls\.predictions\.transform\.dense\.weight .*with_mlm needs"):
        build_encoder(checkpoint_config(bertmodel_dir), with_mlm=True)


def test_architecture_only_needs_no_weights(bertmodel_dir, tmp_path):
    from common.model import build_encoder, checkpoint_config
    folder = tmp_path / "config_only"
    folder.mkdir()
    for name in ("config.json", "vocab.txt"):
        (folder / name).write_text((open(os.path.join(bertmodel_dir, name)).read()))
    encoder = build_encoder(checkpoint_config(str(folder)), load_checkpoint=False)
    assert encoder.output.shape[-1] == CONFIG["hidden_size"]
    with pytest.raises(FileNotFoundError, match="no model.safetensors"):
        build_encoder(checkpoint_config(str(folder)))


# Mapping, checked without TensorFlow ----------------------------------------------------------------

def test_every_tensor_maps_to_its_google_name_and_orientation(original, pretraining_dir):
    from common import hf
    variables = hf.load_variables(pretraining_dir)
    tensors = hf_tensors(original)
    assert len(variables) == len(tensors)  # tied decoder and position_ids add nothing
    q = tensors["bert.encoder.layer.1.attention.self.query.weight"]
    assert np.array_equal(variables["bert/encoder/layer_1/attention/self/query/kernel"], q.T)
    out = tensors["bert.encoder.layer.0.output.dense.weight"]  # (hidden, intermediate) in PyTorch
    assert np.array_equal(variables["bert/encoder/layer_0/output/dense/kernel"], out.T)
    assert variables["bert/encoder/layer_0/output/dense/kernel"].shape == (32, 16)
    nsp = tensors["cls.seq_relationship.weight"]
    assert np.array_equal(variables["cls/seq_relationship/output_weights"], nsp)  # (2, hidden): not transposed
    assert np.array_equal(variables["bert/embeddings/LayerNorm/gamma"], tensors["bert.embeddings.LayerNorm.weight"])
    assert np.array_equal(variables["cls/predictions/output_bias"], tensors["cls.predictions.bias"])
    assert all(v.dtype == np.float32 and v.flags.c_contiguous for v in variables.values())


def test_config_translates_to_bert_config(tmp_path):
    from common import hf
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_act": "gelu_new",
                                                    "hidden_size": 32, "num_attention_heads": 4}))
    config = hf.bert_config(str(folder))
    assert config["hidden_act"] == "gelu_tanh"  # HF's tanh approximation, under bert4keras's name
    assert config["hidden_size"] == 32 and config["num_attention_heads"] == 4
    assert config["num_hidden_layers"] == 12 and config["vocab_size"] == 30522  # BertConfig's defaults
    assert "layer_norm_eps" not in config and "model_type" not in config


@pytest.mark.parametrize("change, message", [
    ({"model_type": "roberta"}, r"model_type 'roberta' is not supported.*'bert'"),
    ({"model_type": "albert"}, "use a Google-format checkpoint"),
    ({"position_embedding_type": "relative_key"}, "position_embedding_type"),
    ({"hidden_act": "mish"}, "field 'hidden_act'"),
    ({"hidden_size": 15}, "not a multiple of num_attention_heads"),
    ({"num_hidden_layers": "2"}, "positive integer"),
])
def test_unsupported_configs_are_refused(tmp_path, change, message):
    from common import hf
    (tmp_path / "config.json").write_text(json.dumps({**CONFIG, "model_type": "bert", **change}))
    with pytest.raises(DataError, match=message):
        hf.bert_config(str(tmp_path))


def test_pickle_is_refused_with_the_conversion_command(tmp_path):
    from common.model import check_files, checkpoint_config
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    (tmp_path / "vocab.txt").write_text("[PAD]\n")
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(ValueError, match=r"pytorch_model\.bin is a PyTorch pickle.*save_pretrained\('OUT', "
                                         r"safe_serialization=True\)"):
        check_files(checkpoint_config(str(tmp_path)))


@pytest.fixture()
def tensors_of(original):
    return lambda: hf_tensors(original)


def load_changed(tmp_path, tensors):
    from common import hf
    return hf.load_variables(write_hf_folder(str(tmp_path / "m"), tensors))


def test_missing_encoder_tensor_is_named(tmp_path, tensors_of):
    tensors = tensors_of()
    del tensors["bert.encoder.layer.1.output.dense.weight"]
    with pytest.raises(DataError, match=r"1 encoder tensor\(s\) missing: "
                                        r"bert\.encoder\.layer\.1\.output\.dense\.weight$"):
        load_changed(tmp_path, tensors)


def test_unknown_tensor_is_named(tmp_path, tensors_of):
    tensors = tensors_of()
    tensors["classifier.weight"] = np.zeros((3, 16), "float32")
    tensors["bert.cls.predictions.bias"] = np.zeros(40, "float32")
    with pytest.raises(DataError, match=r"2 tensor\(s\) that are not part of .*bert\.cls\.predictions\.bias, "
                                        r"classifier\.weight"):
        load_changed(tmp_path, tensors)


def test_wrong_shape_is_named_with_the_expected_one(tmp_path, tensors_of):
    tensors = tensors_of()
    name = "bert.encoder.layer.0.intermediate.dense.weight"
    tensors[name] = tensors[name].T  # stored (in, out) instead of PyTorch's (out, in)
    with pytest.raises(DataError, match=re.escape(f"{name} (16, 32) (expected (32, 16))")):
        load_changed(tmp_path, tensors)


def test_untied_decoder_weight_is_refused(tmp_path, tensors_of):
    tensors = tensors_of()
    tensors["cls.predictions.decoder.weight"] = np.ones((40, 16), "float32")
    with pytest.raises(DataError, match=r"'cls\.predictions\.decoder\.weight': not equal to "
                                        r"bert\.embeddings\.word_embeddings\.weight"):
        load_changed(tmp_path, tensors)


def test_decoder_bias_stands_in_for_a_missing_mlm_bias(tmp_path, tensors_of):
    tensors = tensors_of()
    tensors["cls.predictions.decoder.bias"] = tensors.pop("cls.predictions.bias")
    variables = load_changed(tmp_path, tensors)
    assert np.array_equal(variables["cls/predictions/output_bias"], tensors["cls.predictions.decoder.bias"])


# The safetensors reader ---------------------------------------------------------------------------

def test_reader_widens_bf16_and_reads_f16(tmp_path):
    from common.hf import read_safetensors
    values = np.array([[1.5, -2.0], [0.15625, 2.0 ** 100]], np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype("<u2").tobytes()  # exact: these values fit in bf16
    f16 = np.array([0.5, -1.25], "<f2").tobytes()
    header = json.dumps({"a": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]},
                         "b": {"dtype": "F16", "shape": [2], "data_offsets": [8, 12]}}).encode()
    path = tmp_path / "x.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bf16 + f16)
    tensors = read_safetensors(str(path))
    assert tensors["a"].dtype == np.float32 and np.array_equal(tensors["a"], values)
    assert tensors["b"].dtype == np.float16 and tensors["b"].tolist() == [0.5, -1.25]


def safetensors_bytes(header, data):
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


@pytest.mark.parametrize("body, message", [
    (b"\x01\x02", "shorter than its 8-byte header"),
    (struct.pack("<Q", 10 ** 6) + b"{}", "header length"),
    (struct.pack("<Q", 3) + b"{x}", "header is not JSON"),
    (safetensors_bytes({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}, b"\0" * 8),
     "field 'w': byte range"),
    (safetensors_bytes({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4),
     "field 'w': byte range"),
    (safetensors_bytes({"w": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}}, b"\0"),
     "field 'w': dtype F8_E4M3 is not supported"),
    (safetensors_bytes({"w": {"dtype": "F32", "shape": [1]}}, b"\0" * 4), "needs dtype, shape and data_offsets"),
])
def test_reader_names_file_and_tensor_of_a_damaged_file(tmp_path, body, message):
    from common.hf import read_safetensors
    path = tmp_path / "bad.safetensors"
    path.write_bytes(body)
    with pytest.raises(DataError, match=message) as info:
        read_safetensors(str(path))
    assert str(path) in str(info.value)


# Conversion to Google format ------------------------------------------------------------------------

def test_convert_writes_a_google_checkpoint_with_identical_weights(tf, original, pretraining_dir, tmp_path, capsys):
    from bert4keras.models import build_transformer_model
    from common import convert
    out = tmp_path / "google"
    convert.main([pretraining_dir, str(out)])
    printed = capsys.readouterr().out
    assert "heads: pooler, MLM, NSP" in printed and f"wrote {out / 'bert_model.ckpt.index'}" in printed
    assert sorted(os.listdir(out)) == ["bert_config.json", "bert_model.ckpt.data-00000-of-00001",
                                       "bert_model.ckpt.index", "checkpoint", "vocab.txt"]
    assert not [p for p in os.listdir(tmp_path) if "partial" in p]
    names = {n for n, _ in tf.train.list_variables(str(out / "bert_model.ckpt"))}
    assert "bert/encoder/layer_1/attention/self/query/kernel" in names and "cls/predictions/output_bias" in names
    reloaded = build_transformer_model(str(out / "bert_config.json"), str(out / "bert_model.ckpt"),
                                       return_keras_model=False, **HEADS)
    assert_same_weights(reloaded, original)
    with pytest.raises(ValueError, match="not an empty folder"):
        convert.convert(pretraining_dir, str(out))


def test_convert_errors_are_one_line(tmp_path, capsys):
    from common import cli, convert
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    (tmp_path / "vocab.txt").write_text("[PAD]\n")
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(SystemExit) as info:
        cli.run(convert.main, [str(tmp_path), str(tmp_path / "out")])
    assert str(info.value).startswith("error: ") and "pickle" in str(info.value)
    assert "\n" not in str(info.value) and not (tmp_path / "out").exists()
