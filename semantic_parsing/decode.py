"""SQL tokens as BERT wordpieces: the output side of the seq2seq model, constrained by the grammar.

The model writes a query as the wordpieces of its canonical SQL tokens (`grammar.target_tokens`),
each token spelled as the tokenizer spells it alone: `select` -> [select], `人口(万)` -> [人 口 ( 万 )],
`"2019-01-02"` -> [" 2019 - 01 - 02 "]. Two markers:
  * [SEP] ends the query (allowed only between SQL tokens, where the prefix is a whole query);
  * [MASK] ends a token, written only where the wordpieces so far spell an allowed token *and*
    begin a longer one (`人口` when `人口(万)` is allowed too). Anywhere else a token ends by itself
    when its spelling is complete. (No spelling holds either marker: the tokenizer splits the text
    "[MASK]" into pieces.)
So the wordpiece sequence reads back into SQL tokens without any search.

`SQLState` follows one hypothesis: `allowed_ids()` are the wordpiece ids that keep the prefix a
prefix of a valid query of this database (the grammar's allowed SQL tokens, walked through a trie
of their spellings), `advance(id)` consumes one, `copy()` is cheap (beam search). A decoder that
only ever picks allowed ids writes a query that parses.

`target_ids` spells a gold token sequence (the training target and the oracle), `read_back`
turns any id sequence into a complete query: it replays the ids while they are allowed, then
`finish` completes what is left with the shortest choices the grammar offers (a query cut by the
length limit still parses).

Two tokens may share a spelling (the tokenizer lower-cases and drops spaces: `"ABC"` / `"abc"`,
`"a b"` / `"ab"`); the spelling then reads back as the first of them in sorted order.
"""
import collections

import numpy as np

from semantic_parsing.grammar import Constraint
from semantic_parsing.sql import IUE_OPS

CACHE_SPELLINGS = 200_000   # spelled tokens kept (values of many questions); then the cache restarts
CACHE_TRIES = 4096          # tries of allowed-token sets kept (per database and per question value set)


class NotRepresentable(ValueError):
    """A gold token sequence that the constrained decoder cannot write (the reason says why)."""


class Spelling:
    """SQL token -> wordpiece ids (memoised), and tries of allowed-token sets (memoised)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        if "[MASK]" not in tokenizer.vocab:
            raise ValueError("the vocabulary has no [MASK] token (the decoder's token end marker)")
        self.end_id = tokenizer.sep_id                  # ends the query
        self.token_end_id = tokenizer.vocab["[MASK]"]   # ends a token that a longer one extends
        self._ids = {}
        self._tries = collections.OrderedDict()

    def ids(self, token):
        """The wordpiece ids of one SQL token (a tuple; empty when it has no visible character)."""
        found = self._ids.get(token)
        if found is None:
            if len(self._ids) >= CACHE_SPELLINGS:
                self._ids.clear()
            found = self._ids[token] = tuple(self.tokenizer.encode(token).ids)
        return found

    def trie(self, tokens):
        """The trie of the spellings of a (frozen) set of SQL tokens."""
        found = self._tries.get(tokens)
        if found is None:
            if len(self._tries) >= CACHE_TRIES:
                self._tries.popitem(last=False)
            found = self._tries[tokens] = Trie(tokens, self)
        return found

    def text(self, ids):
        """The wordpieces of ids, for messages."""
        inverse = getattr(self, "_inverse", None)
        if inverse is None:
            inverse = self._inverse = {i: t for t, i in self.tokenizer.vocab.items()}
        return " ".join(inverse.get(i, f"#{i}") for i in ids)


class _Node:
    __slots__ = ("children", "token", "_ids")

    def __init__(self):
        self.children, self.token, self._ids = {}, None, None

    def ids(self, token_end_id):
        """Allowed next ids inside a token: its continuations, and the token end marker when the
        spelling so far is a whole token that a longer one extends."""
        if self._ids is None:
            ids = sorted(self.children)
            if self.token is not None and self.children:
                ids.append(token_end_id)
            self._ids = np.asarray(ids, dtype="int32")
        return self._ids


class Trie:
    """Spellings of a set of SQL tokens; a spelling shared by several tokens reads as the first."""

    def __init__(self, tokens, spelling):
        self.root, self.end_id, self.token_end_id = _Node(), spelling.end_id, spelling.token_end_id
        self.unspellable = []
        for token in sorted(tokens):
            ids = spelling.ids(token)
            if not ids or self.end_id in ids or self.token_end_id in ids:
                self.unspellable.append(token)
                continue
            node = self.root
            for i in ids:
                node = node.children.get(i) or node.children.setdefault(i, _Node())
            if node.token is None:
                node.token = token
        self._with_end = None

    def start_ids(self, may_end):
        """Allowed ids at a token boundary; with `may_end`, the end marker (end of the query) too."""
        if not may_end:
            return self.root.ids(self.token_end_id)
        if self._with_end is None:
            self._with_end = np.append(self.root.ids(self.token_end_id), np.int32(self.end_id)).astype("int32")
        return self._with_end


class SQLState:
    """One decoding hypothesis: the grammar state plus the position inside the token being spelled."""
    __slots__ = ("constraint", "spelling", "node", "done")

    def __init__(self, constraint, spelling):
        self.constraint, self.spelling = constraint, spelling
        self.node = None      # trie node of the token being spelled; None at a token boundary
        self.done = False     # the end marker closed the query

    def copy(self):
        new = SQLState.__new__(SQLState)
        new.constraint, new.spelling, new.node, new.done = self.constraint.copy(), self.spelling, self.node, self.done
        return new

    @property
    def tokens(self):
        """The SQL tokens written so far."""
        return self.constraint.tokens

    def _trie(self):
        return self.spelling.trie(self.constraint.allowed())

    def allowed_ids(self):
        """Wordpiece ids that may come next (an int32 array; empty once the query is closed)."""
        if self.done:
            return np.zeros(0, dtype="int32")
        if self.node is None:
            return self._trie().start_ids(self.constraint.complete())
        return self.node.ids(self.spelling.token_end_id)

    def advance(self, token_id):
        """Consume one wordpiece id (ValueError when it is not allowed)."""
        end = self.spelling.end_id
        if self.done:
            raise ValueError("the query is closed")
        if self.node is None:
            if token_id == end:
                if not self.constraint.complete():
                    raise ValueError(f"the query cannot end after {' '.join(self.tokens[-8:])!r}")
                self.done = True
                return
            node = self._trie().root.children.get(token_id)
        elif token_id == self.spelling.token_end_id:
            if self.node.token is None or not self.node.children:
                raise ValueError("no token ends here")
            self._commit(self.node.token)
            return
        else:
            node = self.node.children.get(token_id)
        if node is None:
            raise ValueError(f"wordpiece {self.spelling.text([token_id])!r} not allowed after "
                             f"{' '.join(self.tokens[-8:])!r}")
        if node.token is not None and not node.children:
            self._commit(node.token)
        else:
            self.node = node

    def _commit(self, token):
        self.constraint.advance(token)
        self.node = None


def new_state(db, values, spelling, vocabulary=None, limit_values=("1",)):
    """The start state of a question on database `db` with the value literals `values`."""
    return SQLState(Constraint(db, values, limit_values=limit_values, vocabulary=vocabulary), spelling)


def target_ids(tokens, state):
    """Wordpiece ids (end marker included) that make `state` write exactly the SQL `tokens`;
    raises NotRepresentable naming the first token it cannot write. Advances `state`."""
    end, token_end, out = state.spelling.end_id, state.spelling.token_end_id, []
    for k, token in enumerate(tokens):
        if token not in state.constraint.allowed():
            raise NotRepresentable(f"token {k} {token!r} is not allowed after {' '.join(tokens[max(0, k - 6):k])!r}")
        ids = state.spelling.ids(token)
        if not ids or end in ids or token_end in ids:
            raise NotRepresentable(f"token {k} {token!r} has no spelling")
        before = len(state.tokens)
        for i in ids:
            state.advance(i)
        out += ids
        if state.node is not None:  # a whole token that a longer one extends
            state.advance(token_end)
            out.append(token_end)
        if len(state.tokens) != before + 1 or state.tokens[-1] != token:
            raise NotRepresentable(f"token {k} {token!r} is spelled like {state.tokens[-1]!r}, which reads first")
    if not state.constraint.complete():
        raise NotRepresentable("the tokens are not a whole query")
    state.advance(end)
    out.append(end)
    return out


# reading back -------------------------------------------------------------------------------------

# How `finish` chooses: first what closes a bracket, a clause or a condition; then a plain name or
# value (an unqualified one first, in sorted order); what opens more (a connector, another item, a
# calculation, a clause, a compound query, a sub-query, a row calculation) only when nothing else is
# allowed, and then a join before another join condition.
_CLOSERS = (")", "from", "desc", "==")
_OPENERS = frozenset(("(", "select", "and", "or", ",", "join", "on", "where", "group", "having", "order", "limit",
                      "not", "in", "between", "like", "asc", "-", "+", "*", "/", "max", "min", "count", "sum", "avg",
                      "TIME_NOW") + IUE_OPS)
_OPENERS_ORDER = ("join", "*", "in", "and", "(", "select")


def _finishing_choice(allowed):
    for token in _CLOSERS:
        if token in allowed:
            return token
    plain = [t for t in allowed if t not in _OPENERS]
    if plain:
        return min(plain, key=lambda t: ("." in t, t))
    for token in _OPENERS_ORDER:
        if token in allowed:
            return token
    return min(allowed)


def finish(constraint, max_steps=200):
    """Complete a constraint's prefix into a whole query with short choices (in place); returns
    True when it is complete."""
    for _ in range(max_steps):
        if constraint.complete():
            return True
        constraint.advance(_finishing_choice(constraint.allowed()))
    return constraint.complete()


def read_back(ids, state):
    """The SQL tokens of an id sequence, always a whole query: the ids are replayed while they are
    allowed (up to the end marker, if any), then what is missing is completed by `finish`.
    Returns (tokens, whole): `whole` when the ids alone made a whole query."""
    for i in ids:
        if state.done:
            break
        try:
            state.advance(int(i))
        except ValueError:
            break
    whole = state.done or (state.node is None and state.constraint.complete())
    if not whole and not finish(state.constraint):
        raise RuntimeError(f"cannot complete {' '.join(state.tokens)!r}")
    return list(state.tokens), whole
