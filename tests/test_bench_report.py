"""bench/report.py and the pure parts of the benchmark, on hand-made numbers (no TensorFlow)."""
import json

import pytest

from bench import report
from bench.run import FULL, QUICK, parse_args
from bench.workload import replicate


def test_ratio_is_ours_over_reference_and_met_compares_with_the_target():
    row = report.row("mrc", "predict", 8.0, 10.0, 0.8, unit="rec/s")
    assert row["ratio"] == pytest.approx(0.8) and row["met"] is True
    below = report.row("mrc", "predict", 7.9, 10.0, 0.8)
    assert below["ratio"] == pytest.approx(0.79) and below["met"] is False


def test_no_target_or_no_measurement_gives_no_verdict():
    assert report.row("encoder", "recompute", 5.0, 6.0)["met"] is None
    failed = report.row("mrc", "all", None, None, 0.9, note="failed")
    assert failed["ratio"] is None and failed["met"] is None
    assert report.row("mrc", "x", 3.0, 0.0, 1.0)["ratio"] is None   # a zero reference gives no ratio


def test_median_of_alternated_runs_ignores_missing_runs():
    assert report.median([3.0, 1.0, 2.0]) == 2.0
    assert report.median([4.0, None, 1.0]) == 2.5
    assert report.median([]) is None


def test_alternate_takes_turns():
    calls = []
    runs = {"ours": lambda: calls.append("ours") or 1.0, "reference": lambda: calls.append("reference") or 2.0}
    assert report.alternate(runs, 2) == {"ours": [1.0, 1.0], "reference": [2.0, 2.0]}
    assert calls == ["ours", "reference", "ours", "reference"]


def test_results_are_appended_one_json_object_per_row(tmp_path):
    path = tmp_path / "bench" / "results.jsonl"
    machine = {"cpu": "test cpu", "cores": 2, "avx512": False, "commit": "abc", "date": "2026-01-01T00:00:00Z"}
    rows = [report.row("mrc", "train", 9.0, 10.0, 0.9), report.row("dialog", "decode", 40.0, 8.0, 4.0)]
    report.append_results(str(path), rows[:1], machine, {"batch": 32})
    report.append_results(str(path), rows[1:], machine, {"batch": 32})
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["track"] for line in lines] == ["mrc", "dialog"]
    assert lines[0]["met"] is True and lines[1]["ratio"] == 5.0
    assert lines[0]["cpu"] == "test cpu" and lines[0]["settings"] == {"batch": 32}
    assert set(report.COLUMNS) <= set(lines[0])


def test_table_has_a_line_per_row_with_the_verdict():
    rows = [report.row("ie_relation", "train", 9.5, 10.0, 0.9, unit="ex/s"),
            report.row("dialog", "decode", 12.0, 4.0, 4.0, note="16 inputs"),
            report.row("encoder", "recompute", 1.0, 2.0)]
    lines = report.table(rows).splitlines()
    assert lines[0].split() == ["track", "measure", "ours", "reference", "ratio", "target", "met"]
    assert lines[2].split() == ["ie_relation", "train", "ex/s", "9.5", "10", "0.95", ">=", "0.9", "yes"]
    assert lines[3].split()[-4:] == ["3", ">=", "4.0", "NO"]      # 12 / 4 = 3 < 4
    assert lines[4].split()[-2:] == ["-", "-"]                    # no target, no verdict
    assert "dialog / decode: 16 inputs" in lines[-1]


def test_summary_is_one_line_with_the_verdict():
    line = report.summary(report.row("mrc", "predict", 7.0, 10.0, 0.8, unit="rec/s"))
    assert line == "mrc / predict: ours 7 rec/s, reference 10 rec/s, ratio 0.7 (target >= 0.8: NO)"


def test_machine_facts_name_the_cpu_cores_and_avx512():
    facts = report.machine_facts()
    assert set(facts) == {"cpu", "cores", "avx512", "load", "commit", "date"}
    assert isinstance(facts["avx512"], bool) and facts["cores"] >= 1


def test_a_busy_machine_is_warned_about():
    assert "load average 1.5 on 2 cores" in report.busy_warning({"load": 1.5, "cores": 2})
    assert report.busy_warning({"load": 0.2, "cores": 2}) == ""
    assert report.busy_warning({"load": None, "cores": 2}) == ""


def test_quick_is_smaller_and_flags_override_the_settings():
    _, tracks, settings = parse_args(["--quick", "--tracks", "mrc,encoder", "--batch", "8"])
    assert tracks == ["mrc", "encoder"] and settings["batch"] == 8
    assert settings["layers"] < FULL["layers"] and settings["steps"] <= FULL["steps"]
    assert parse_args([])[2] == FULL and QUICK["repeats"] >= 2


def test_an_unknown_track_or_a_bad_size_is_refused(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--tracks", "mrc,nope"])
    assert "nope" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--hidden", "250", "--heads", "4"])


def test_replicate_keeps_the_format_and_makes_ids_unique():
    lines = replicate('{"text": "a", "id": "q1"}\n{"text": "b"}\n', 2).splitlines()
    assert [json.loads(line) for line in lines] == [{"text": "a", "id": "q1"}, {"text": "b"},
                                                    {"text": "a", "id": "q1-1"}, {"text": "b"}]
    listed = json.loads(replicate('[{"question_id": "x", "question": "q"}]', 3))
    assert [r["question_id"] for r in listed] == ["x", "x-1", "x-2"]
    squad = json.loads(replicate(json.dumps({"data": [{"paragraphs": [{"qas": [{"id": "7"}]}]}]}), 2))
    assert [d["paragraphs"][0]["qas"][0]["id"] for d in squad["data"]] == ["7", "7-1"]
