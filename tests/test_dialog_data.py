"""DuRecDial files: loading with located errors, kept good parts, and samples built as test inputs."""
import dataclasses
import json
import logging
import os

import pytest

from common.io import DataError
from dialog.data import (Sample, build_samples, input_sample, load_records, load_sessions, load_test_inputs,
                         session_samples, split_target, target_text)
from dialog.goals import Goal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, "data", "samples", "dialog")

GOAL = ("[1] 问答 ( User 主动 问   『 周迅 』   的 星座 ， Bot 回答 ) --> "
        "[2] 关于 明星 的 聊天 ( Bot 主动 ， 聊   『 周迅 』   相关 内容 ) --> "
        "[3] 电影 推荐 ( Bot 主动 ， Bot 推荐   『 画皮 』 ， User 拒绝 ； Bot 推荐   『 李米的猜想 』 ， User 接受 ) --> [4] 再见")
SESSION = {
    "situation": "聊天 时间 : 晚上 20 : 00 ， 在 家里",
    "goal": GOAL,
    "user_profile": {"姓名": "王芳", "喜欢 的 明星": ["周迅"], "同意 的 美食": " 烤鱼"},
    "knowledge": [["周迅", "星座", "天秤座"], ["周迅", "主演", "画皮"], ["周迅", "主演", "李米的猜想"]],
    "conversation": ["[1] 周迅 的 星座 是 什么 ？", "天秤座 。", "谢谢 。", "[2] 她 很 有 灵气 。", "是 啊 。",
                     "[3] 推荐 你 看 《 画皮 》 。", "看过 了 。", "那 《 李米的猜想 》 呢 ？", "好 的 。",
                     "[4] 再见 ！", "再见 。"],
}


def write_lines(path, rows, bom=False, newline="\n"):
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        for row in rows:
            f.write((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + newline)
    return str(path)


def with_fields(record, **fields):
    return {**record, **fields}


def test_session_samples_are_every_bot_turn_with_its_goal_and_reply(tmp_path):
    sessions, report = load_sessions(write_lines(tmp_path / "train.json", [SESSION]))
    assert report.summary() == "" and sessions[0].bot_first is False
    samples = session_samples(sessions[0])
    assert [s.turn for s in samples] == [1, 3, 5, 7, 9]
    assert [(s.goal.type, s.goal.topic) for s in samples] == [
        ("问答", "周迅"), ("关于 明星 的 聊天", "周迅"), ("电影 推荐", "画皮"), ("电影 推荐", "李米的猜想"), ("再见", "再见")]
    assert [s.response for s in samples] == ["天秤座 。", "她 很 有 灵气 。", "推荐 你 看 《 画皮 》 。",
                                             "那 《 李米的猜想 》 呢 ？", "再见 ！"]
    # only what a test input shows: first and second-to-last goal, no descriptions; history with markers
    assert samples[2].goals == [Goal("问答", "周迅"), Goal("电影 推荐", "画皮")]
    assert samples[2].history == SESSION["conversation"][:5]


def test_bot_first_session_starts_with_an_empty_history(tmp_path):
    bot_first = with_fields(SESSION, goal=GOAL.replace("User 主动", "Bot 主动"))
    samples = build_samples(load_sessions(write_lines(tmp_path / "s.json", [bot_first]))[0])
    assert [s.turn for s in samples] == [0, 2, 4, 6, 8, 10] and samples[0].history == []


def test_session_turn_and_test_input_give_the_same_sample(tmp_path):
    turn = 7
    test_input = {"goal": [["问答", "", "周迅"], ["电影 推荐", "", "画皮"]], "knowledge": SESSION["knowledge"],
                  "situation": SESSION["situation"], "user_profile": SESSION["user_profile"],
                  "history": SESSION["conversation"][:turn], "response": ""}
    raw_goal_input = with_fields(test_input, goal=GOAL)     # the raw goal string is reduced the same way
    sessions, _ = load_sessions(write_lines(tmp_path / "train.json", [SESSION]))
    inputs, _ = load_test_inputs(write_lines(tmp_path / "test.json", [test_input, raw_goal_input]))
    from_session = next(s for s in session_samples(sessions[0]) if s.turn == turn)
    for from_test in (input_sample(inputs[0]), input_sample(inputs[1])):
        assert isinstance(from_test, Sample) and from_test.goal is None and from_test.response == ""
        same = dataclasses.replace(from_session, line=from_test.line, goal=None, response="")
        assert from_test == same


def test_bom_crlf_and_blank_lines(tmp_path):
    path = write_lines(tmp_path / "train.json", [SESSION, "", SESSION], bom=True, newline="\r\n")
    sessions, _ = load_records(path, labelled=True)
    assert [s.line for s in sessions] == [1, 3] and sessions[1].conversation == SESSION["conversation"]


@pytest.mark.parametrize("record, field, message", [
    ({k: v for k, v in SESSION.items() if k != "conversation"}, "conversation", "missing"),
    (with_fields(SESSION, conversation="[1] 你好"), "conversation", "expected a list"),
    (with_fields(SESSION, conversation=["[1] 你好", 3]), "conversation[1]", "expected a string"),
    (with_fields(SESSION, knowledge=[["周迅", "星座", "天秤座"], ["周迅", "星座"]]), "knowledge[1]", "got 2 items"),
    (with_fields(SESSION, knowledge=[["周迅", "星座", 7]]), "knowledge[0]", "strings"),
    (with_fields(SESSION, user_profile={"姓名": "王芳", "年龄": 25}), "user_profile.年龄", "got int"),
    (with_fields(SESSION, user_profile={"喜欢 的 明星": ["周迅", None]}), "user_profile.喜欢 的 明星", "strings"),
    (with_fields(SESSION, goal="[1] 问答 ( 问 星座 ) --> [2] 再见"), "goal", "who speaks first"),
    (with_fields(SESSION, goal="没有 目标"), "goal", "no '\\[k\\] type'"),
])
def test_session_errors_name_file_line_and_field(tmp_path, record, field, message):
    path = write_lines(tmp_path / "dev.json", [SESSION, record])
    with pytest.raises(DataError, match=message) as error:
        load_sessions(path)
    assert (error.value.path, error.value.line, error.value.field) == (path, 2, field)
    assert str(error.value).startswith(f"{path}, line 2: field '{field}'")


def test_test_input_errors(tmp_path):
    good = {"goal": [["寒暄", "", "寒暄"], ["电影 推荐", "", "画皮"]], "knowledge": [], "situation": "",
            "user_profile": {}, "history": []}
    for record, field in ((with_fields(good, history="你好"), "history"),
                          ({k: v for k, v in good.items() if k != "history"}, "history"),
                          (with_fields(good, goal=[["寒暄", ""], "电影 推荐"]), "goal")):
        path = write_lines(tmp_path / "test.json", [good, record])
        with pytest.raises(DataError) as error:
            load_test_inputs(path)
        assert (error.value.line, error.value.field) == (2, field)
    path = write_lines(tmp_path / "test.json", [good, "{not json"])
    with pytest.raises(DataError, match="line 2: not valid JSON"):
        load_test_inputs(path)


def test_skip_mode_keeps_every_good_part_and_counts_the_rest(tmp_path, caplog):
    dirty = with_fields(SESSION, knowledge=[["周迅", "星座", "天秤座"], ["周迅", "主演"], "画皮", ["周迅", "主演", "画皮"]],
                        user_profile={"姓名": "王芳", "年龄": 25, "喜欢 的 明星": ["周迅", 3]})
    path = write_lines(tmp_path / "train.json", [dirty, with_fields(SESSION, conversation={}), "[1, 2]", SESSION])
    with caplog.at_level(logging.WARNING):
        sessions, report = load_sessions(path, on_error="skip")
    assert [s.line for s in sessions] == [1, 4]
    assert sessions[0].knowledge == [("周迅", "星座", "天秤座"), ("周迅", "主演", "画皮")]
    assert sessions[0].user_profile == {"姓名": "王芳", "喜欢 的 明星": ["周迅"]}
    assert len(session_samples(sessions[0])) == 5                # the session itself is kept whole
    assert report.dropped == {"knowledge triple": 2, "profile value": 2} and len(report.skipped) == 2
    assert "2 record(s) skipped" in report.summary() and "2 bad knowledge triple dropped" in report.summary()
    assert f"{path}, line 1: field 'knowledge[1]'" in caplog.text


def test_a_bad_test_input_stays_as_an_empty_input_in_skip_mode(tmp_path):
    good = {"goal": [["寒暄", "", "寒暄"], ["电影 推荐", "", "画皮"]], "knowledge": [], "situation": "",
            "user_profile": {}, "history": ["[1] 你好"]}
    path = write_lines(tmp_path / "test.json", [good, "{oops", with_fields(good, history=5), good])
    inputs, report = load_test_inputs(path, on_error="skip")
    assert [(i.line, i.history) for i in inputs] == [(1, ["[1] 你好"]), (2, []), (3, []), (4, ["[1] 你好"])]
    assert len(report.skipped) == 2 and len(build_samples(inputs)) == 4    # one output line per input


def test_split_triples_are_mended_and_empty_ones_left_out_without_error(tmp_path):
    knowledge = [["晴,", "北风, 最高气温:26℃, 最低气温:14℃ 适合吃", "麻辣小龙虾"], ["家人", "(Live) 评论", "好听"],
                 ["周迅", "喜欢 的 新闻", "周迅 的新闻"], ["李米的猜想", "评论", ""], ["  ", "评论", "好"]]
    sessions, report = load_sessions(write_lines(tmp_path / "s.json", [with_fields(SESSION, knowledge=knowledge)]))
    assert sessions[0].knowledge == [("晴, 北风, 最高气温:26℃, 最低气温:14℃", "适合吃", "麻辣小龙虾"),
                                     ("家人 (Live)", "评论", "好听"), ("周迅", "喜欢 的 新闻", "周迅 的新闻")]
    assert report.mended == 2 and report.empty_triples == 2 and not report.dropped


def test_target_text_round_trip():
    sample = Sample(1, 1, [], "", {}, [], [], Goal("关于 明星 的 聊天", "周迅"), "周迅 很 有 灵气 。")
    text = target_text(sample)
    assert text == "关于 明星 的 聊天 ： 周迅 | 周迅 很 有 灵气 。"
    assert split_target(text) == ("关于 明星 的 聊天", "周迅", "周迅 很 有 灵气 。")
    assert split_target("关于明星的聊天：周迅|周迅很有灵气。") == ("关于明星的聊天", "周迅", "周迅很有灵气。")
    assert split_target("只有 回复") == ("", "", "只有 回复")


def test_sample_files_cover_what_the_demo_needs():
    train, _ = load_sessions(os.path.join(SAMPLES, "train.json"))
    dev, _ = load_sessions(os.path.join(SAMPLES, "dev.json"))
    tests, report = load_test_inputs(os.path.join(SAMPLES, "test.json"))
    assert report.summary() == "" and 10 <= len(train) <= 14 and 4 <= len(dev) <= 6
    assert {s.bot_first for s in train} == {True, False} and {s.bot_first for s in dev} == {True, False}
    assert len({g.type for s in train for g in s.goals}) == 21          # every goal type
    assert any(p.isdigit() or "-" in p for s in train for _, p, _ in s.knowledge)   # weather triples
    values = [v for s in train for v in s.user_profile.values()]
    assert any(isinstance(v, list) for v in values) and any(isinstance(v, str) for v in values)
    with open(os.path.join(SAMPLES, "test.json"), encoding="utf-8") as f:
        goal_forms = {type(json.loads(line)["goal"]).__name__ for line in f}
    assert goal_forms == {"list", "str"}
    with open(os.path.join(SAMPLES, "test_ref.txt"), encoding="utf-8") as f:
        assert len(f.read().splitlines()) == len(tests)
    assert all(len(s.conversation) <= 16 for s in train)
