"""Loading DuReader_robust files (located errors, counted skips), the samples, windows and targets."""
import json
import os

import pytest

from common.io import DataError
from mrc import data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "mrc")


def write(tmp_path, document, name="in.json"):
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document, ensure_ascii=False),
                    encoding="utf-8")
    return str(path)


def squad(*paragraphs):
    return {"data": [{"title": "", "paragraphs": list(paragraphs)}]}


def paragraph(context, qid, question="问题", answers=None):
    qa = {"question": question, "id": qid}
    if answers is not None:
        qa["answers"] = [{"text": text, "answer_start": start} for text, start in answers]
    return {"context": context, "qas": [qa]}


# the samples -------------------------------------------------------------------------------------

def test_samples_have_the_official_shape_and_required_cases():
    train, _ = data.load(os.path.join(SAMPLES, "train.json"))
    dev, _ = data.load(os.path.join(SAMPLES, "dev.json"))
    test, _ = data.load(os.path.join(SAMPLES, "test.json"), with_answers=False)
    assert len(train) >= 60 and len(dev) >= 20 and len(test) >= 20
    raw_dev = json.load(open(os.path.join(SAMPLES, "dev.json"), encoding="utf-8"))
    starts = [a["answer_start"] for p in raw_dev["data"][0]["paragraphs"] for a in p["qas"][0]["answers"]]
    assert set(starts) == {-1}                                      # like the official dev set
    assert sum(len(q.answers) > 1 for q in dev) >= 5                # several gold answers
    answers = [text for q in train + dev for text, _ in q.answers]
    assert any(any(c.isascii() and c.isalpha() for c in a) and any(c.isdigit() for c in a)
               and any(not c.isalnum() for c in a) for a in answers)  # punctuation + English + digits
    raw_test = json.load(open(os.path.join(SAMPLES, "test.json"), encoding="utf-8"))
    assert all("answers" not in p["qas"][0] for p in raw_test["data"][0]["paragraphs"])


def test_answer_start_is_kept_or_located():
    questions, _ = data.load(os.path.join(SAMPLES, "train.json"))
    for q in questions:
        (text, starts), = q.answers
        assert len(starts) == 1 and q.context[starts[0]:starts[0] + len(text)] == text
    for q in data.load(os.path.join(SAMPLES, "dev.json"))[0]:
        for text, starts in q.answers:
            assert starts and all(q.context[s:s + len(text)] == text for s in starts)


# errors ------------------------------------------------------------------------------------------

def test_answer_not_in_context_is_dropped_and_the_question_kept(tmp_path):
    path = write(tmp_path, squad(paragraph("长江全长约6300公里", "q1", answers=[("长江", -1)]),
                                 paragraph("黄河在东营入海", "q2", answers=[("长江", -1)])))
    questions, skips = data.load(path)
    assert [q.qid for q in questions] == ["q1", "q2"]
    q2 = questions[1]
    assert q2.answers == [] and q2.gold == ["长江"]  # scored as given, no training target
    assert "1 answer dropped (field data[0].paragraphs[1].qas[0].answers[0].text: '长江' does not occur " \
        "in its context)" in skips.summary()
    # evaluation only needs the answer text: nothing dropped
    questions, skips = data.load(path, locate=False)
    assert [q.gold for q in questions] == [["长江"], ["长江"]] and not skips.summary()


def test_one_empty_answer_among_three_is_dropped_from_the_targets_only(tmp_path):
    # the official dev file: the third gold answer of one question is {"text": "", "answer_start": -1}
    context = "参加社保的灵活就业人员每月缴费约5-10万元不等"
    path = write(tmp_path, squad(paragraph(context, "q1", answers=[("5-10万元", -1), ("约5-10万元", -1), ("", -1)]),
                                 paragraph("黄河", "q2", answers=[("黄河", -1)])))
    questions, skips = data.load(path)
    q1 = questions[0]
    assert [text for text, _ in q1.answers] == ["5-10万元", "约5-10万元"]
    assert q1.gold == ["5-10万元", "约5-10万元", ""]  # the metric keeps the gold as given
    assert skips.summary() == "1 answer dropped (field data[0].paragraphs[0].qas[0].answers[2].text: empty)"
    assert data.gold_answers(questions) == {"q1": ["5-10万元", "约5-10万元", ""], "q2": ["黄河"]}


def test_an_answer_with_surrounding_spaces_targets_its_text_without_them(tmp_path):
    # 10 official dev answers carry spaces (' 5-10万元'); some contexts hold the spaced text, some not
    path = write(tmp_path, squad(paragraph("每月缴费 5-10万元不等", "q1", answers=[(" 5-10万元", -1)]),
                                 paragraph("每月缴费5-10万元不等", "q2", answers=[("5-10万元 ", -1)]),
                                 paragraph("每月缴费 5-10万元不等", "q3", answers=[(" 5-10万元", 4)])))
    questions, skips = data.load(path)
    context = "每月缴费 5-10万元不等"
    assert [q.answers for q in questions] == [[("5-10万元", [5])], [("5-10万元", [4])], [("5-10万元", [5])]]
    assert [q.gold for q in questions] == [[" 5-10万元"], ["5-10万元 "], [" 5-10万元"]]
    assert context[5:5 + len("5-10万元")] == "5-10万元"
    assert skips.summary().startswith("3 spaced answers (field data[0].paragraphs[0].qas[0].answers[0].text: "
                                      "' 5-10万元': the target is '5-10万元';")


def test_a_wrong_answer_start_is_dropped_and_the_answer_located(tmp_path):
    path = write(tmp_path, squad(paragraph("长江全长约6300公里", "q1", answers=[("6300公里", 3)]),
                                 paragraph("长江全长约6300公里", "q2", answers=[("6300公里", "5")])))
    questions, skips = data.load(path)
    assert [q.answers for q in questions] == [[("6300公里", [5])], [("6300公里", [5])]]
    summary = skips.summary()
    assert summary.startswith("2 answer_starts dropped (field data[0].paragraphs[0].qas[0].answers[0].answer_start: "
                              "3 does not point at the answer") and "not an integer: '5'" in summary


def test_a_later_duplicate_qid_counts_as_in_the_official_scorer(tmp_path):
    path = write(tmp_path, squad(paragraph("长江", "q1", answers=[("长江", 0)]),
                                 paragraph("黄河", "q1", answers=[("黄河", 0)])))
    questions, skips = data.load(path)
    assert [q.context for q in questions] == ["长江", "黄河"]  # both train
    assert data.gold_answers(questions) == {"q1": ["黄河"]}    # the later one is scored
    assert skips.summary() == ("1 duplicate qid (field data[0].paragraphs[1].qas[0].id: 'q1' also at "
                               "data[0].paragraphs[0].qas[0].id: the later question counts in the submission "
                               "and the score)")


def test_bad_json_names_the_line(tmp_path):
    path = write(tmp_path, '{"data": [\n{"title": "", "paragraphs": [}\n]}')
    with pytest.raises(DataError, match=r"line 2: not valid JSON"):
        data.load(path)


def test_invalid_questions_raise_or_stay_as_placeholders(tmp_path):
    path = write(tmp_path, squad({"qas": [{"id": "q1", "question": "问"}]}, paragraph("长江", "q2", answers=[("长江", 0)]),
                                 paragraph("黄河", "q3"), {"context": "淮河", "qas": [{"question": "问"}]}))
    with pytest.raises(DataError, match=r"paragraphs\[0\]\.context"):
        data.load(path)
    questions, skips = data.load(path, on_error="skip")
    # no context; no answers; no id (nothing can answer it): a readable qid stays, answered with ""
    assert len(skips.skipped) == 3 and skips.summary() == "3 record(s) skipped"
    assert [(q.qid, q.skipped) for q in questions] == [("q1", True), ("q2", False), ("q3", True)]
    assert data.gold_answers(questions) == {"q2": ["长江"]}
    questions, _ = data.load(path, on_error="skip", with_answers=False)
    assert [(q.qid, q.skipped) for q in questions] == [("q1", True), ("q2", False), ("q3", False)]
    with pytest.raises(DataError, match="SQuAD"):
        data.load(write(tmp_path, [1, 2], "list.json"))


# windows and targets -----------------------------------------------------------------------------

def test_window_step_keeps_every_answer_whole_in_a_window():
    assert data.window_step(445, 128, 40) == 128
    assert data.window_step(50, 128, 20) == 31
    assert data.window_step(10, 128, 40) == 1


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from common.tiny_bert import sample_texts, write_vocab
    from common.tokenize import OffsetTokenizer
    texts = sample_texts(SAMPLES) + ["06月03日"]  # "06" one token, as in the real vocab
    path = tmp_path_factory.mktemp("mrc_vocab") / "vocab.txt"
    write_vocab(path, texts)
    return OffsetTokenizer(str(path))


@pytest.mark.parametrize("maxlen, step, answer_len", [(64, 128, 20), (64, 8, 20), (512, 128, 40)])
def test_windows_cover_the_context_and_targets_point_at_the_answer(tokenizer, maxlen, step, answer_len):
    questions, _ = data.load(os.path.join(SAMPLES, "train.json"))
    for index, q in enumerate(questions):
        windows = data.encode_question(index, q, tokenizer, maxlen, step, 64, answer_len)
        offsets = windows[0].offsets
        covered = set()
        for w in windows:
            assert w.record == index and w.offsets is offsets
            assert len(w.token_ids) == len(w.segment_ids) <= maxlen
            covered.update(range(w.first_token, w.first_token + w.n_tokens))
            if w.target != (0, 0):
                first = w.first_token + w.target[0] - w.context_pos
                last = w.first_token + w.target[1] - w.context_pos
                text, (start,) = q.answers[0]
                assert (offsets[first][0], offsets[last][1]) == (start, start + len(text))
        assert covered == set(range(len(offsets)))
        assert any(w.target != (0, 0) for w in windows)


def test_a_sample_answer_lies_beyond_the_first_demo_window(tokenizer):
    beyond = []
    for name in ("train", "dev"):
        for q in data.load(os.path.join(SAMPLES, f"{name}.json"))[0]:
            windows = data.encode_question(0, q, tokenizer, 64, 128, 64, 20)
            if len(windows[0].offsets) > 64 and windows[0].target == (0, 0):
                beyond.append(q.qid)
    assert len(beyond) >= 3, beyond


def test_answer_prefers_an_occurrence_on_token_boundaries(tokenizer):
    q = data.Question("q", "几号", "06月03日和6月03日", [("6月03日", data.find_all("06月03日和6月03日", "6月03日"))])
    (w,) = data.encode_question(0, q, tokenizer, 64, 128, 64, 20)
    first = w.target[0] - w.context_pos
    assert w.offsets[first][0] == 7  # the second occurrence: "06" is one token

