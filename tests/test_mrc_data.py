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

def test_answer_not_in_context_names_file_and_field(tmp_path):
    path = write(tmp_path, squad(paragraph("长江全长约6300公里", "q1", answers=[("长江", -1)]),
                                 paragraph("黄河在东营入海", "q2", answers=[("长江", -1)])))
    with pytest.raises(DataError) as error:
        data.load(path)
    message = str(error.value)
    assert path in message and "data[0].paragraphs[1].qas[0].answers[0].text" in message
    assert "does not occur" in message
    # evaluation only needs the answer text
    assert len(data.load(path, locate=False)[0]) == 2


def test_wrong_answer_start_is_an_error(tmp_path):
    path = write(tmp_path, squad(paragraph("长江全长约6300公里", "q1", answers=[("6300公里", 3)])))
    with pytest.raises(DataError, match=r"answers\[0\]\.answer_start.*does not point"):
        data.load(path)


def test_duplicate_qid_raises_or_is_counted_and_skipped(tmp_path):
    path = write(tmp_path, squad(paragraph("长江", "q1", answers=[("长江", 0)]),
                                 paragraph("黄河", "q1", answers=[("黄河", 0)])))
    with pytest.raises(DataError, match="duplicate question id 'q1'"):
        data.load(path)
    questions, skips = data.load(path, on_error="skip")
    assert [q.context for q in questions] == ["长江"] and len(skips.skipped) == 1


def test_bad_json_names_the_line(tmp_path):
    path = write(tmp_path, '{"data": [\n{"title": "", "paragraphs": [}\n]}')
    with pytest.raises(DataError, match=r"line 2: not valid JSON"):
        data.load(path)


def test_missing_fields_and_answers(tmp_path):
    path = write(tmp_path, squad({"qas": []}, paragraph("长江", "q2", answers=[("长江", 0)]),
                                 paragraph("黄河", "q3")))
    with pytest.raises(DataError, match=r"paragraphs\[0\]\.context"):
        data.load(path)
    questions, skips = data.load(path, on_error="skip")
    assert [q.qid for q in questions] == ["q2"] and len(skips.skipped) == 2  # no context; no answers
    questions, _ = data.load(path, on_error="skip", with_answers=False)
    assert [q.qid for q in questions] == ["q2", "q3"]
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

