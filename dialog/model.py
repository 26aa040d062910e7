"""The dialog model: a UniLM (or left-to-right LM) on the configured checkpoint, and its batched decoder.

Everything generic is common.seq2seq; this module reads the dialog config (the application and
checkpoint from [model], the decoding settings from [predict]) and holds the one constraint every
dialog target obeys: a goal, one [MASK], then the reply. The end token cannot come before the
[MASK] and a second [MASK] cannot come at all, so a line never holds the goal's text instead of a
reply, however little the model was trained.
"""
import numpy as np


def build_model(model_cfg, load_checkpoint=True):
    from common import seq2seq
    return seq2seq.build_model(model_cfg, model_cfg.application, load_checkpoint=load_checkpoint)


def build_loss(train_cfg):
    from common import seq2seq
    return seq2seq.build_loss(train_cfg)


class GoalThenReply:
    """common.seq2seq Constraint: state False while writing the goal, True after its [MASK]."""

    def __init__(self, vocab_size, goal_end_id, end_id):
        self.goal_end_id = goal_end_id
        self.in_goal = np.ones(vocab_size, dtype=bool)
        self.in_goal[end_id] = False
        self.in_reply = np.ones(vocab_size, dtype=bool)
        self.in_reply[goal_end_id] = False

    def start(self, index):
        return False

    def allowed(self, state):
        return self.in_reply if state else self.in_goal

    def advance(self, state, token):
        return state or token == self.goal_end_id


class Generator:
    """examples -> generated token ids, one list per example, all decoded together."""

    def __init__(self, model, cfg, end_id, goal_end_id):
        from common import seq2seq
        self.model, self.end_id, self.maxlen = model, end_id, cfg.model.maxlen
        self.settings = seq2seq.Settings.from_config(cfg.predict)
        self.max_target_len = cfg.model.max_target_len
        self.scorer = seq2seq.scorer_for(model, cfg.model, cfg.model.application, cache=cfg.predict.kv_cache)
        self.constraint = GoalThenReply(self.scorer.vocab_size, goal_end_id, end_id)

    def __call__(self, examples):
        from common import seq2seq
        # as long as a training target, and within maxlen after the source
        room = [min(self.max_target_len, self.maxlen - len(e.source)) - 1 for e in examples]
        hypotheses = seq2seq.generate(self.scorer, [e.source for e in examples], self.settings, self.end_id,
                                      self.constraint, max_lens=room)
        return [h.tokens for h in hypotheses]
