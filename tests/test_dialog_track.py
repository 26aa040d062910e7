"""dialog on the track interface, without a model: records, examples (context + goal [MASK] reply),
the oracle through the real decoder, one line per sample, scores with goal-type accuracy."""
import json
import os

import pytest

from common.io import DataError
from conftest import make_track, sample, write_lines
from dialog import decode
from dialog.encode import GOAL_END, TARGET_CUT

SESSION = sample("dialog", "train.json")


@pytest.fixture(scope="module")
def track(sample_vocab):
    return make_track("dialog", "model.maxlen=160", "model.max_target_len=48", vocab_path=sample_vocab)


def tokens(track, ids):
    token_of = {i: t for t, i in track.tokenizer.vocab.items()}
    return [token_of[i] for i in ids]


def test_records_are_every_bot_turn_of_a_session_file_and_every_test_input(track):
    sessions, _ = track.load_records(SESSION, labelled=True)
    unlabelled, _ = track.load_records(SESSION, labelled=False)       # a session file given to predict
    inputs, _ = track.load_records(sample("dialog", "test.json"), labelled=False)
    assert len(sessions) == len(unlabelled) == 63 and sessions == unlabelled
    assert len(inputs) == 7 and all(s.goal is None for s in inputs)
    with pytest.raises(DataError, match=r"test\.json, line 1: field 'conversation': missing"):
        track.load_records(sample("dialog", "test.json"), labelled=True)


def test_example_is_context_then_goal_mask_reply(track):
    records, _ = track.load_records(SESSION)
    examples = track.encode(records)
    budget = 160 - 48
    for record, example in zip(records, examples):
        assert example.source[0] == track.tokenizer.cls_id and example.source[-1] == track.tokenizer.sep_id
        assert len(example.source) <= budget and example.target[-1] == track.tokenizer.sep_id
        assert len(example.source) + len(example.target) <= 160
        text = tokens(track, example.target[:-1])
        goal = "".join(text[:text.index(GOAL_END)])
        assert goal == "".join(f"{record.goal.type}：{record.goal.topic}".split()).lower()
    # the newest history turn is in the context (its end at least)
    last = records[5].history[-1].replace(" ", "")[-6:]
    assert last in "".join(tokens(track, examples[5].source))


def test_a_test_input_is_encoded_exactly_as_the_same_turn_of_a_session(track, tmp_path):
    with open(SESSION, encoding="utf-8") as f:
        session = json.loads(f.readline())
    turn = 5
    test_input = {"goal": session["goal"], "knowledge": session["knowledge"], "situation": session["situation"],
                  "user_profile": session["user_profile"], "history": session["conversation"][:turn]}
    listed = dict(test_input, goal=[["问答", "", "周迅"], ["电影 推荐", "", "李米的猜想"]])
    path = write_lines(tmp_path / "test.json", [test_input, listed])
    inputs, _ = track.load_records(path, labelled=False)
    sessions, _ = track.load_records(write_lines(tmp_path / "s.json", [session]))
    from_session = next(e for s, e in zip(sessions, track.encode(sessions)) if s.turn == turn)
    for example in track.encode(inputs, with_targets=True):       # no target to give
        assert example.source == from_session.source and example.target == []


def test_oracle_gives_back_the_references(track):
    records, _ = track.load_records(SESSION)
    rows = track.oracle(records)
    # the same characters; the words are jieba's (with the session's names whole), as for a generation
    assert [r.line.replace(" ", "") for r in rows] == [s.response.replace(" ", "") for s in records]
    scores = track.score(records, rows)
    assert scores["f1"] == pytest.approx(100.0) and scores["goal_type_acc"] == 1.0 and scores["bleu2"] > 0.9


def test_slot_tags_go_in_and_come_back(sample_vocab):
    slotted = make_track("dialog", "model.maxlen=160", "model.max_target_len=48", "model.slots=true",
                         vocab_path=sample_vocab)
    records, _ = slotted.load_records(SESSION)
    examples = slotted.encode(records)
    recommending = next(e for r, e in zip(records, examples) if "李米的猜想" in r.response)
    target = "".join(tokens(slotted, recommending.target))
    assert "[电影1]" in target and "李米的猜想" not in target
    assert "李米的猜想" not in "".join(tokens(slotted, recommending.source))
    assert [r.line for r in slotted.oracle(records)] == [r.line for r in make_track(
        "dialog", "model.maxlen=160", "model.max_target_len=48", vocab_path=sample_vocab).oracle(records)]


def test_long_targets_are_cut_and_counted(sample_vocab):
    short = make_track("dialog", "model.maxlen=160", "model.max_target_len=12", vocab_path=sample_vocab)
    records, _ = short.load_records(SESSION)
    examples = short.encode(records)
    assert max(len(e.target) for e in examples) == 12 and short.lost[TARGET_CUT] > 0
    assert all(r.line.strip() for r in short.oracle(records))


def test_decoding_a_generation():
    from dialog.encode import Example
    from dialog.postprocess import FALLBACK_REPLY, Segmenter
    example = Example(0, [2, 3], names=["NBA", "李米的猜想"])
    segment = Segmenter()
    reply = decode.decode_reply(example, ["电", "影", "推", "荐", "：", "李", "[MASK]", "看", "\"", "李", "米", "的",
                                          "猜", "想", "\"", "和", "nba", "##x"], segment, decode.spellings(["NBA"]))
    assert reply.goal_type == "电影推荐" and reply.goal_topic == "李"
    assert reply.line == "看 “ 李米的猜想 ” 和 nbax"          # "nbax" is not a word the sample writes
    assert decode.decode_reply(example, ["[MASK]", "看", "nba"], segment, decode.spellings(["NBA"])).line == "看 NBA"
    assert decode.decode_reply(example, ["好", "的"], segment).line == "好 的"        # no goal: all reply
    assert decode.decode_reply(example, ["[MASK]", "[UNK]"], segment).line == FALLBACK_REPLY
    assert decode.tokens_text(["hello", "world", "##s", "2", "个"]) == "hello worlds 2个"
    assert decode.curly_quotes('说"回家了"，还说"站起来"。又说：好。"后来') == "说“回家了”，还说“站起来”。又说：好。”后来"
    assert decode.restore_case("看 nba 和 nba2k", decode.spellings(["NBA", "Nba2K"])) == "看 NBA 和 Nba2K"


def test_submission_is_one_line_per_row_and_atomic(track, tmp_path):
    out = tmp_path / "pred.txt"
    rows = [decode.Reply("好 的", "", ""), decode.Reply("再见 ！", "再见", "再见")]
    track.write_submission(out, rows)
    assert out.read_text(encoding="utf-8") == "好 的\n再见 ！\n"
    with pytest.raises(ValueError, match="multi-line"):
        track.write_submission(out, [decode.Reply("a\nb", "", "")])
    assert out.read_text(encoding="utf-8") == "好 的\n再见 ！\n" and os.listdir(tmp_path) == ["pred.txt"]


def test_evaluate_takes_references_as_lines_or_as_a_session_file(track, tmp_path):
    from dialog.track import Dialog
    records, _ = track.load_records(SESSION)
    refs = write_lines(tmp_path / "refs.txt", [s.response for s in records])
    pred = write_lines(tmp_path / "pred.txt", ["好 的"] * len(records))
    from_lines, from_sessions = Dialog.evaluate_files(refs, pred), Dialog.evaluate_files(SESSION, pred)
    assert from_lines == from_sessions and 0 < from_lines["F1"] < 30
    with pytest.raises(DataError, match="62 responses"):
        Dialog.evaluate_files(SESSION, write_lines(tmp_path / "short.txt", ["好 的"] * 62))


def test_decoding_writes_a_goal_then_one_mask_then_the_reply():
    import numpy as np
    from common import seq2seq
    from dialog.model import GoalThenReply
    end, mask, vocab = 3, 4, 10

    class EagerToEnd(seq2seq.Scorer):         # wants to end at once, then to write [MASK] again and again
        def start(self, sources):
            pass

        def step(self, inputs, parents, prefixes):
            probs = np.full(vocab, 0.01)
            probs[end], probs[mask], probs[7] = 0.6, 0.3, 0.05
            return np.log(np.broadcast_to(probs / probs.sum(), prefixes.shape[:2] + (vocab,)))

    constraint = GoalThenReply(vocab, mask, end)
    for strategy in ("greedy", "beam"):
        out = seq2seq.generate(EagerToEnd(), [[2, 3]], seq2seq.Settings(strategy=strategy, max_len=5), end, constraint)
        assert out[0].tokens == [mask]
    assert constraint.advance(constraint.advance(False, 7), mask) is True and constraint.advance(True, 7) is True
