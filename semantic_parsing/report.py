"""Error analysis of a DuSQL submission: P/R/F1 per SQL component and the questions scored worst.

Queries are compared in the official scorer's form (semantic_parsing/metric.py: names lower-cased,
foreign keys mapped, values normalised). Per component of the outer query, the items of prediction and
gold are matched as multisets: tp = items in both, fp = predicted items not in the gold, fn = gold
items not predicted:
  select: (aggregate, expression) items;  where / having: conditions;  group by: grouped column names;
  order by: the whole clause with its limit (one item);  and/or: the connectors of where;
  intersect/union/except: one item per operator, right when the two sub-queries match exactly;
  keywords: the scorer's keyword set;  from: the table units.
The first row, "whole query", counts exact matches: its recall is the official exact match. A
prediction that is missing or does not parse has no items. This is a breakdown for reading errors
(the scorer compares some components whole, e.g. having in order); the official metric is the
exact match. An example scores 1 when it matches exactly, else the mean F1 of the components that
either query has. Pure Python.
"""
from collections import Counter

from common.track import ReportRows
from semantic_parsing import metric
from semantic_parsing import sql as sqlmod

WHOLE = "whole query"
IUE = "intersect/union/except"
COMPONENTS = ("select", "where", "group by", "having", "order by", "and/or", IUE, "keywords", "from")


def component_items(sql):
    """{component: Counter of items} of the outer query of `sql` in comparison form (IUE aside)."""
    order = [metric._freeze((sql["orderBy"], sql["limit"]))] if sql["orderBy"] else []
    return {
        "select": metric._multiset(sql["select"]),
        "where": metric._multiset(sql["where"][::2]),
        "group by": metric._group_names(sql),
        "having": metric._multiset(sql["having"][::2]),
        "order by": Counter(order),
        "and/or": Counter(set(sql["where"][1::2])),
        "keywords": Counter(metric.keywords(sql)),
        "from": metric._multiset(sql["from"]["table_units"]),
    }


def component_counts(pred, gold):
    """{component: (tp, fp, fn)} of two queries in comparison form (pred None: nothing predicted)."""
    gold_items = component_items(gold)
    pred_items = component_items(pred) if pred is not None else {name: Counter() for name in gold_items}
    counts = {}
    for name, gold_counter in gold_items.items():
        both = sum((pred_items[name] & gold_counter).values())
        counts[name] = (both, sum(pred_items[name].values()) - both, sum(gold_counter.values()) - both)
    tp = fp = fn = 0
    for op in sqlmod.IUE_OPS:
        has_pred, has_gold = pred is not None and pred[op] is not None, gold[op] is not None
        right = has_pred and has_gold and metric._exact(pred[op], gold[op])
        tp, fp, fn = tp + right, fp + (has_pred and not right), fn + (has_gold and not right)
    counts[IUE] = (tp, fp, fn)
    return counts


def rows(gold, pred, databases, questions=None):
    """ReportRows of {qid: (SQL, db_id)} gold (metric.read_gold), {qid: SQL} predictions and the
    databases; `questions`: {qid: question text}."""
    totals = {name: [0, 0, 0] for name in (WHOLE, *COMPONENTS)}
    examples = []
    for qid, (gold_text, db_id) in gold.items():
        db = databases[db_id]
        names = metric.Names(db)
        gold_form = metric.comparison_form(sqlmod.parse(gold_text, db), db, names)
        text = pred.get(qid)
        try:
            pred_form = metric.comparison_form(sqlmod.parse(text, db), db, names) if text is not None else None
        except sqlmod.SQLParseError:
            pred_form = None
        exact = pred_form is not None and metric._exact(pred_form, gold_form)
        counts = component_counts(pred_form, gold_form)
        counts[WHOLE] = (int(exact), int(pred_form is not None and not exact), int(not exact))
        for name, values in counts.items():
            for k, value in enumerate(values):
                totals[name][k] += value
        present = [(tp, fp, fn) for name, (tp, fp, fn) in counts.items() if name != WHOLE and tp + fp + fn]
        partial = sum(2 * tp / (2 * tp + fp + fn) for tp, fp, fn in present) / len(present) if present else 0.0
        shown = text if text is not None else ""
        if text is not None and pred_form is None:
            shown += "   (does not parse)"
        examples.append((qid, f"{db_id}: {(questions or {}).get(qid, '')}", gold_text, shown, 1.0 if exact else partial))
    classes = [(name, *totals[name]) for name in (WHOLE, *COMPONENTS)]
    note = ("Whole query: tp = exact matches (its recall is the official exact match), fp = parsed predictions "
            "that do not match. Components of the outer query, as multisets of items in the scorer's comparison "
            "form (a missing or unparsable prediction has none); see semantic_parsing/report.py. Examples: "
            "scored 1 when the whole query matches, else by the mean F1 of the components either query has.")
    return ReportRows(classes, examples, note, class_title="SQL component")


def report_rows(gold_path, pred_path, schema_path):
    from semantic_parsing.schema import load_databases
    databases = load_databases(schema_path)
    gold = metric.read_gold(gold_path, databases)
    questions = {}
    with open(gold_path, encoding="utf-8-sig") as f:
        is_json = f.read(64).lstrip().startswith("[")
    if is_json:
        from semantic_parsing.data import load_records
        questions = {record.question_id: record.question for record in load_records(gold_path)[0]}
    return rows(gold, metric.read_predictions(pred_path), databases, questions)
