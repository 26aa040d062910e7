"""The benchmark's results: one row per (track, measure), written as JSON Lines and shown as a table.

Pure Python (no TensorFlow): the ratio and target logic, medians of alternated runs, the facts of the
machine, the results file and the table are tested on hand-made numbers (tests/test_bench_report.py).

A row's `ratio` is ours / reference (higher is better for every measure: rates, never times), `met`
says whether ratio >= target (None when the measure has no target or could not be measured).
"""
import datetime
import json
import os
import platform
import statistics
import subprocess

COLUMNS = ("track", "measure", "ours", "reference", "ratio", "target", "met")


def median(values):
    """Median of the alternated runs' rates (None if there is none)."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(ours, reference):
    if ours is None or not reference:
        return None
    return ours / reference


def met(value, target):
    """ratio >= target; None when there is no target or no ratio."""
    if target is None or value is None:
        return None
    return value >= target


def row(track, measure, ours, reference, target=None, unit="", note="", **extra):
    """One result: `ours` and `reference` are rates (e.g. examples/s), medians of the runs."""
    value = ratio(ours, reference)
    return {"track": track, "measure": measure, "ours": ours, "reference": reference,
            "ratio": value, "target": target, "met": met(value, target), "unit": unit, "note": note, **extra}


def alternate(runs, repeats):
    """Run each callable of `runs` ({name: callable -> rate}) `repeats` times, taking turns (ours,
    reference, ours, reference, ...: a burst of load on a shared machine hits both); returns
    {name: [rates]}."""
    rates = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            rates[name].append(run())
    return rates


def machine_facts(root=None):
    """CPU model, cores, AVX-512 or not, the load average over the last minute (before the run: on a
    busy machine the ratios swing), the commit measured and the date (UTC)."""
    model, flags = platform.processor() or "", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and not model:
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", ""
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    return {"cpu": model, "cores": os.cpu_count(), "avx512": "avx512f" in flags, "load": load,
            "commit": commit + ("+changes" if dirty else ""),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def append_results(path, rows, machine, settings):
    """Append one JSON object per row to `path` (JSON Lines: earlier runs stay), each with the machine
    facts and the run's settings."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        for result in rows:
            f.write(json.dumps({**result, **machine, "settings": settings}, ensure_ascii=False) + "\n")


def _number(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def _met(value):
    return {True: "yes", False: "NO", None: "-"}[value]


def busy_warning(machine):
    """A line when other processes were keeping at least one core busy as the run began, else ""."""
    if machine.get("load") is None or machine["load"] < 1:
        return ""
    return (f"WARNING: load average {machine['load']} on {machine['cores']} cores before the run: other processes "
            "compete for the CPU and the ratios swing (the PyTorch peer most: its OpenMP threads slow down "
            "many-fold when a core is taken); measure on a quiet machine")


def summary(result):
    """One line of a row, as it is measured."""
    unit = f" {result['unit']}" if result.get("unit") else ""
    target = f" (target >= {result['target']}: {_met(result['met'])})" if result["target"] is not None else ""
    return (f"{result['track']} / {result['measure']}: ours {_number(result['ours'])}{unit}, reference "
            f"{_number(result['reference'])}{unit}, ratio {_number(result['ratio'])}{target}")


def table(rows):
    """The rows as a fixed-width text table: track, measure, ours, reference, ratio, target, met."""
    cells = [["track", "measure", "ours", "reference", "ratio", "target", "met"]]
    for r in rows:
        unit = f" {r['unit']}" if r.get("unit") else ""
        cells.append([r["track"], r["measure"] + unit, _number(r["ours"]), _number(r["reference"]),
                      _number(r["ratio"]), f">= {r['target']}" if r["target"] is not None else "-", _met(r["met"])])
    widths = [max(len(line[k]) for line in cells) for k in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) if k < 2 else c.rjust(w) for k, (c, w) in enumerate(zip(line, widths))).rstrip()
             for line in cells]
    lines.insert(1, "-" * len(lines[0]))
    notes = [f"  {r['track']} / {r['measure']}: {r['note']}" for r in rows if r.get("note")]
    return "\n".join(lines + (["notes:"] + notes if notes else []))
