"""Looking inside a run of every track, on tiny untrained models (the weights do not matter here):
integrated gradients of each track's predictions complete to within 1% at the default steps, the
explanation page shows every token of the input with a colour, `<track>.explain` writes it, and
`--run` gives common.similarity, common.perturbed_masking and dialog.evaluate the run's own encoder."""
import html
import json
import os
import re

import numpy as np
import pytest

from conftest import make_track, sample

TRACKS = ["ie_relation", "ie_event", "mrc", "dialog", "semantic_parsing"]
FAST = {"dialog": ["predict.max_len=4", "predict.kv_cache=false"]}   # an untrained generator runs to its length limit


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_bert):
    """`runs(track)`: (track, model, run folder) of an untrained run (the tiny checkpoint, its
    [demo] settings at maxlen 64, or the demo's own maxlen), its token embeddings moved off the
    checkpoint's so that reading the run's weights can be told from reading the checkpoint's."""
    from common import run
    from common.config import load_config
    from common.track import track_class
    made = {}

    def get(name):
        if name not in made:
            folder = str(tmp_path_factory.mktemp(f"{name}_run"))
            demo = load_config(track_class(name).config_class).demo
            track = make_track(name, f"model.dir={tiny_bert(name)}", "model.maxlen=64", f"train.out_dir={folder}",
                               f"data.dir={os.path.dirname(demo.train)}", *demo.overrides, *FAST.get(name, ()))
            run.describe(track, folder)
            model = track.build_model(load_checkpoint=True)
            embeddings = model.get_layer("Embedding-Token")
            embeddings.set_weights([w * 1.5 for w in embeddings.get_weights()])
            model.save_weights(os.path.join(folder, run.WEIGHTS))
            made[name] = (track, model, folder)
        return made[name]

    return get


def page_blocks(page):
    """[(block label, [(token text, background colour, classes)])] of an explanation page."""
    blocks = []
    for label, tokens in re.findall(r'<div class="block"><span class="label">(.*?)</span>.*?'
                                    r'<div class="tokens">(.*?)</div></div>', page, re.S):
        spans = re.findall(r'<span class="(tok[^"]*)" style="background:(#[0-9a-f]{6});color:#[0-9a-f]{6}" '
                           r'title="[^"]*">(.*?)</span>', tokens, re.S)
        blocks.append((html.unescape(label), [(html.unescape(text), colour, kind) for kind, colour, text in spans]))
    return blocks


def covered_text(subject):
    """The characters of the text the shown tokens run over (spaces aside), one string per stretch
    between special tokens: what the page must show, character for character."""
    stretches, current = [], None
    for offset in list(subject.offsets) + [None]:
        if offset is None:
            if current:
                stretches.append(re.sub(r"\s", "", subject.text[current[0]:current[1]]))
            current = None
        else:
            current = (current[0] if current else offset[0], offset[1])
    return stretches


@pytest.mark.parametrize("name", TRACKS)
def test_every_prediction_is_explained_completely_and_every_input_token_is_drawn(runs, name):
    from common.explain import explain_subject
    from common.pages import explanation_page
    track, model, _ = runs(name)
    records = track.load_records(sample(name, "dev.json"), labelled=False)[0][:1]
    subjects = track.explanation_subjects(model, records, max_targets=3)
    assert subjects and all(1 <= len(s.targets) <= 3 for s in subjects)
    items = []
    for subject in subjects:
        item, results = explain_subject(model, subject)   # the default steps
        assert [r.completeness_error for r in results] == pytest.approx([0] * len(results), abs=0.01)
        assert all(r.value != pytest.approx(r.baseline_value, abs=1e-6) for r in results)
        if subject.shown is not None:   # a generator: explained on its source, the generated prefix held
            n_source, n_generated = len(subject.shown), len(subject.targets)
            assert subject.shown == list(range(n_source)) and len(subject.token_ids) == n_source + n_generated
            assert subject.segment_ids == [0] * n_source + [1] * n_generated
            assert all(not r.attributions[n_source:].any() for r in results)
        for target, block in zip(subject.targets, item.blocks):   # a predicted span is underlined
            pieces = [subject.text[slice(*subject.offsets[i])] for i in block.marked]
            assert len(block.marked) == len(set(target.marked)) and all(piece in target.label for piece in pieces)
            if name in ("ie_event", "mrc"):   # one span: the end of the label
                assert pieces and target.label.endswith(": " + "".join(pieces))
        items.append(item)
    page = explanation_page(name, items)
    blocks = page_blocks(page)
    assert [label for label, _ in blocks] == [t.label for s in subjects for t in s.targets]
    drawn = iter(blocks)
    for subject in subjects:
        for _ in subject.targets:
            _, spans = next(drawn)
            assert len(spans) == len(subject.tokens)     # every shown token, each with its colour
            texts = [text for text, _, kind in spans if "special" not in kind]
            assert "".join(texts) == "".join(covered_text(subject))
            assert all(text.strip() for text in texts)


def test_explain_command_writes_one_page_for_the_first_n_records(runs, tmp_path, capsys):
    from mrc import explain
    _, _, folder = runs("mrc")
    out = tmp_path / "pages" / "mrc.html"
    summary = explain.main(["--run", folder, "--input", sample("mrc", "dev.json"), "--n", "2", "--out", str(out)])
    assert summary["inputs"] == summary["predictions"] == 2 and summary["max_completeness_error"] < 0.01
    page = out.read_text(encoding="utf-8")
    assert page.count('<div class="item">') == 2 and "completeness error" in page
    assert capsys.readouterr().out.strip().endswith(f"-> {out}")


def test_perturbed_masking_reads_the_encoder_of_a_run_under_the_checkpoints_mlm_head(runs, tiny_bert, tf):
    import keras
    from common import perturbed_masking
    from common.run_encoder import load_run_encoder
    track, model, folder = runs("ie_relation")
    text = "《三体》的作者是刘慈欣"
    inputs = [np.array([ids]) for ids in track.tokenizer.wrap(track.tokenizer.encode(text).ids)]
    expected = keras.Model(model.inputs, model.get_layer("entity_pointer").input).predict_on_batch(inputs)
    # ie_relation trains no MLM head: "prob" puts the run's encoder under the checkpoint's head
    encoder, vocab, how = load_run_encoder(folder, with_mlm=True)
    hidden = keras.Model(encoder.inputs, encoder.get_layer("MLM-Dense").input)
    assert hidden.predict_on_batch(inputs) == pytest.approx(expected, abs=1e-5)   # 1.5 x embeddings: the run's
    kernel = tf.train.load_variable(os.path.join(tiny_bert("ie_relation"), "bert_model.ckpt"),
                                    "cls/predictions/transform/dense/kernel")
    assert encoder.get_layer("MLM-Dense").get_weights()[0] == pytest.approx(kernel)
    assert "pretrained checkpoint" in how
    probe = perturbed_masking.from_model(encoder, vocab, representation="prob")
    assert "".join(probe.parse(text, threshold=0.0, tree=False)["words"]) == text


def test_dialog_evaluate_prints_an_unofficial_similarity_line_before_the_official_one(runs, tmp_path, capsys):
    from dialog import evaluate
    _, _, folder = runs("dialog")
    references = sample("dialog", "test_ref.txt")
    capsys.readouterr()
    result = evaluate.main([references, references, "--run", folder])
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[-1]) == result and result["F1"] == 100.0
    assert lines[-2].startswith("unofficial similarity: ")
    similarity = json.loads(lines[-2].split(": ", 1)[1])
    assert similarity["WMD"] == pytest.approx(0, abs=1e-4) and similarity["WRD"] == pytest.approx(0, abs=1e-4)
    with open(references, encoding="utf-8") as f:
        assert similarity["pairs"] == sum(1 for line in f if line.strip()) > 0
