"""The model: common.seq2seq's UniLM on the pretrained encoder, writing SQL wordpieces with its MLM head.

Input `[CLS] question [SEP] database [SEP]` (segment 0), target the SQL's wordpieces (segment 1,
decode.py): the source attends to itself both ways, each target token to the source and the target
before it. Training is teacher-forced cross-entropy over the target tokens only. Decoding is
common.seq2seq.generate with a `GrammarConstraint`: per question and per beam, a decode.SQLState says
which wordpieces may come next, so every finished hypothesis is a query of that database.
"""


def build_model(model_cfg, load_checkpoint=True):
    from common import seq2seq
    return seq2seq.build_model(model_cfg, "unilm", load_checkpoint=load_checkpoint)


def build_loss(train_cfg):
    from common import seq2seq
    return seq2seq.build_loss(train_cfg)


def collate(samples):
    from common import seq2seq
    return seq2seq.collate([(s.source, s.target) for s in samples])


def settings(predict_cfg, max_sql_len):
    """Decoding settings of the [predict] section; the end marker is not counted in max_len."""
    from common import seq2seq
    return seq2seq.Settings(strategy=predict_cfg.strategy, beam_size=predict_cfg.beam_size, min_len=1,
                            max_len=max_sql_len - 1, length_penalty=predict_cfg.length_penalty)


def grammar_constraint(starts):
    """common.seq2seq's Constraint over decode.SQLState: `starts[i]` is the start state of source i.
    A state is never changed: `advance` works on a copy (beams share their parent's state)."""
    from common import seq2seq

    class GrammarConstraint(seq2seq.Constraint):
        def start(self, index):
            return starts[index]

        def allowed(self, state):
            return state.allowed_ids()

        def advance(self, state, token):
            state = state.copy()
            state.advance(token)
            return state

    return GrammarConstraint()


def generate(scorer, samples, starts, settings, end_id):
    """Generated wordpiece ids (end marker left out) of each sample; `starts` None = unconstrained."""
    from common import seq2seq
    constraint = None if starts is None else grammar_constraint(starts)
    hypotheses = seq2seq.generate(scorer, [s.source for s in samples], settings, end_id, constraint=constraint)
    return [h.tokens for h in hypotheses]

