"""DuSQL text-to-SQL (LIC2020 semantic parsing).

The SQL layer (no neural model):

- `schema`: the databases of `db_schema.json` / `db_content.json` (tables, columns, keys,
  foreign-key classes, cell values).
- `sql`: DuSQL's SQL dialect: tokenizer, parser into the dataset's structured `sql` form, and a
  serializer back to canonical SQL text.
- `metric`: the organisers' exact-match accuracy (with and without values), pure Python.
- `execute`: one read-only SQLite database per DuSQL database, a sandboxed runner and the
  (unofficial) execution accuracy.
- `grammar`: canonical SQL token sequences and a constraint state machine for decoding.
- `values`: candidate value literals of a question (cells, numbers, dates).
- `data`: loading the DuSQL question files, serialising a question with its database, the model's
  samples.

The track (README.md): `decode` (SQL tokens as wordpieces, the constrained decoding state, reading
any output back into a whole query), `model` (common.seq2seq's UniLM and its grammar constraint),
`track` (the common.track interface), `config`, and the commands `train`, `predict`, `oracle`,
`evaluate`, `db`.

Importing the package is cheap; TensorFlow is imported only inside the functions that run a model.
"""
