"""The command lines on the official files as they are: quirks of the real dev sets (shapes rebuilt
here), the oracle with only --gold and --out, bad input named in one line, outputs checked first."""
import json
import os
import shutil

import pytest

from conftest import make_track, sample

DEFAULT_MODEL_DIR = os.path.join("pretrained", "chinese_roberta_wwm_ext_L-12_H-768_A-12")  # both config.toml's


@pytest.fixture
def repo_like(tmp_path, monkeypatch, sample_vocab):
    """A working folder laid out as the README says: the checkpoint's vocab where the default config
    looks for it, data files next to each other."""
    os.makedirs(tmp_path / DEFAULT_MODEL_DIR)
    shutil.copy(sample_vocab, tmp_path / DEFAULT_MODEL_DIR / "vocab.txt")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


# -- DuIE: the dev file's quirks -------------------------------------------------------------------

def spo(predicate, subject, value):
    return {"predicate": predicate, "subject": subject, "object": {"@value": value}}


SEVEN = {"text": "《白鹭》的导演是林知远，主演是沈青禾、周慕白、乔安，编剧是林知远，出品公司是青禾影业",
         "spo_list": [spo("导演", "白鹭", "林知远"), spo("主演", "白鹭", "沈青禾"), spo("主演", "白鹭", "周慕白"),
                      spo("编剧", "白鹭", ""), spo("主演", "白鹭", "乔安"), spo("编剧", "白鹭", "林知远"),
                      spo("出品公司", "白鹭", "青禾影业")]}


def duie_dev(folder, rows, bom=False, newline="\n"):
    folder.mkdir(exist_ok=True)
    shutil.copy(sample("ie_relation", "schema.json"), folder / "schema.json")
    text = "".join(json.dumps(r, ensure_ascii=False) + newline for r in rows)
    (folder / "dev.json").write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return str(folder / "dev.json")


def test_ie_relation_oracle_runs_on_the_dev_file_as_it_is_with_only_gold_and_out(repo_like, capsys):
    from ie_relation import oracle
    samples = [json.loads(line) for line in open(sample("ie_relation", "dev.json"), encoding="utf-8")][:5]
    gold = duie_dev(repo_like / "duie", samples[:3] + [SEVEN] + samples[3:] + [samples[0]], bom=True, newline="\r\n")
    result = oracle.main(["--gold", gold, "--out", "oracle.json"])
    out = capsys.readouterr().out
    assert "dev.json: 1 SPO dropped (line 4, field spo_list[3].object.@value: empty)" in out
    rows = [json.loads(line) for line in open("oracle.json", encoding="utf-8")]
    assert [r["text"] for r in rows] == [r["text"] for r in samples[:3] + [SEVEN] + samples[3:] + [samples[0]]]
    assert len(rows[3]["spo_list"]) == 6  # the six good SPOs of the sentence are kept and recovered
    n_gold = sum(len(r["spo_list"]) for r in samples) + 7
    assert result == {"precision": 1.0, "recall": round((n_gold - 1) / n_gold, 4),
                      "f1": round(2 * (n_gold - 1) / (2 * n_gold - 1), 4)}


def test_ie_relation_oracle_answers_a_skipped_line_too(repo_like, capsys):
    from common.io import DataError
    from ie_relation import oracle
    bad = {"text": "《白鹭》的导演是林知远", "spo_list": [spo("导师", "白鹭", "林知远")]}  # not in the schema
    gold = duie_dev(repo_like / "duie", [SEVEN, bad, {"text": "白鹭", "spo_list": []}])
    with pytest.raises(DataError, match="line 2: field 'spo_list\\[0\\].predicate': unknown predicate"):
        oracle.main(["--gold", gold, "--out", "oracle.json"])
    assert not os.path.exists("oracle.json")
    result = oracle.main(["--gold", gold, "--out", "oracle.json", "data.on_error=skip"])
    rows = [json.loads(line) for line in open("oracle.json", encoding="utf-8")]
    assert [(r["text"], len(r["spo_list"])) for r in rows] == [(SEVEN["text"], 6), (bad["text"], 0), ("白鹭", 0)]
    assert "1 record(s) skipped" in capsys.readouterr().out
    # scored against the gold file as it is: the skipped line's SPO and the empty one are missed
    assert result["recall"] == round(6 / 8, 4) and result["precision"] == 1.0


def test_oracle_says_how_to_name_a_missing_vocabulary(tmp_path, monkeypatch):
    from common.config import ConfigError
    from ie_relation import oracle
    monkeypatch.chdir(tmp_path)
    gold = duie_dev(tmp_path / "duie", [SEVEN])
    with pytest.raises(ConfigError, match=r"vocab.txt: no such vocabulary file; set model.dir or model.vocab_path"):
        oracle.main(["--gold", gold, "--out", "oracle.json"])


# -- DuReader_robust: the dev file's quirks --------------------------------------------------------

def squad(*questions):
    return {"data": [{"title": "", "paragraphs": [{"context": c, "qas": [q]} for c, q in questions]}]}


def qa(qid, question, *answers):
    return {"id": qid, "question": question, "answers": [{"text": a, "answer_start": -1} for a in answers]}


def test_mrc_oracle_runs_on_the_dev_file_as_it_is_with_only_gold_and_out(repo_like, capsys):
    from mrc import oracle
    document = squad(("参加社保的灵活就业人员每月缴费约5-10万元不等", qa("q1", "缴费多少", "5-10万元", "约5-10万元", "")),
                     ("灵活就业人员每月缴费 5-10万元不等", qa("q2", "缴费多少", " 5-10万元")))
    gold = repo_like / "dev.json"
    gold.write_bytes(b"\xef\xbb\xbf" + json.dumps(document, ensure_ascii=False).encode("utf-8"))
    result = oracle.main(["--gold", str(gold), "--out", "oracle.json"])
    out = capsys.readouterr().out
    assert "dev.json: 1 answer dropped (field data[0].paragraphs[0].qas[0].answers[2].text: empty)" in out
    assert json.load(open("oracle.json", encoding="utf-8")) == {"q1": "5-10万元", "q2": "5-10万元"}
    # the metric keeps the gold ' 5-10万元' as given: tokens [' 5-10', '万', '元'] share 2 of 3 with the answer
    assert result == {"F1": f"{(100 + 200 / 3) / 2:.3f}", "EM": "50.000", "TOTAL": 2, "SKIP": 0}


def test_mrc_oracle_answers_every_question_with_a_readable_id(repo_like):
    from mrc import oracle
    no_question = {"id": "q2", "answers": [{"text": "长江", "answer_start": 0}]}
    document = squad(("长江全长约6300公里", qa("q1", "多长", "6300公里")), ("长江", no_question),
                     ("黄河", qa("q1", "哪条河", "黄河")))
    (repo_like / "dev.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    result = oracle.main(["--gold", "dev.json", "--out", "oracle.json", "data.on_error=skip"])
    # q2 is not a valid record: answered "" (not missing); q1 twice: the later one counts, as in the scorer
    assert json.load(open("oracle.json", encoding="utf-8")) == {"q1": "黄河", "q2": ""}
    assert result == {"F1": "50.000", "EM": "50.000", "TOTAL": 2, "SKIP": 0}


# -- train and predict refuse bad set-ups before the work ------------------------------------------

def test_train_refuses_an_empty_train_or_dev_file_naming_it(tmp_path, sample_vocab, tf):
    from common import commands
    from common.io import DataError
    for name in ("train.json", "dev.json"):
        shutil.copy(sample("mrc", name), tmp_path / name)
    track = make_track("mrc", f"data.dir={tmp_path}", f"model.vocab_path={sample_vocab}", "data.dev_file=empty.json",
                       f"train.out_dir={tmp_path / 'run'}")
    (tmp_path / "empty.json").write_text('{"data": []}', encoding="utf-8")
    with pytest.raises(DataError, match=r"empty\.json: no records"):
        commands.train(track, progress=False, tensorboard=False)
    # questions, but none whose answer occurs in its context: nothing to train on
    (tmp_path / "unusable.json").write_text(json.dumps(squad(("长江", qa("q1", "问", "黄河"))), ensure_ascii=False),
                                            encoding="utf-8")
    track = make_track("mrc", f"data.dir={tmp_path}", f"model.vocab_path={sample_vocab}",
                       "data.train_file=unusable.json", f"train.out_dir={tmp_path / 'run'}")
    with pytest.raises(DataError, match=r"unusable\.json: no training examples \(1 records, 0 examples; not "
                                        r"representable: questions without a usable answer"):
        commands.train(track, progress=False, tensorboard=False)
    assert not os.path.exists(tmp_path / "run")


def test_predict_checks_the_output_before_loading_the_run(tmp_path, sample_vocab):
    from common import cli
    from common.config import to_toml
    from ie_relation import predict
    run = tmp_path / "run"
    run.mkdir()
    track = make_track("ie_relation", f"model.vocab_path={sample_vocab}")
    (run / "config.toml").write_text(to_toml(track.cfg), encoding="utf-8")  # no weights: loading would fail
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(SystemExit) as exit_:
        cli.run(predict.main, ["--run", str(run), "--input", sample("ie_relation", "test.json"),
                               "--out", str(tmp_path / "taken" / "pred.json")])
    message = str(exit_.value)
    assert message.startswith("error: cannot write ") and "taken/pred.json" in message and "\n" not in message
    with pytest.raises(OSError, match="it is a folder"):
        predict.main(["--run", str(run), "--input", sample("ie_relation", "test.json"), "--out", str(tmp_path)])
