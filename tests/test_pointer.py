import math

import numpy as np
import pytest

from common.pointer import head_log_odds, sparse_targets


def test_sparse_targets_groups_cells_by_head_and_pads_with_cls_cell():
    out = sparse_targets([[(1, 2, 3), (0, 1, 1), (1, 4, 5)], []], n_heads=3)
    assert out.shape == (2, 3, 2, 2) and out.dtype == np.int32
    assert out[0, 0].tolist() == [[1, 1], [0, 0]]
    assert out[0, 1].tolist() == [[2, 3], [4, 5]]
    assert not out[0, 2].any() and not out[1].any()
    assert sparse_targets([[], []], n_heads=2).shape == (2, 2, 1, 2)


def test_head_log_odds_counts_positives_per_head():
    offsets = head_log_odds([[(0, 1, 1), (0, 2, 2)], [(1, 1, 2)]], decisions=10, n_heads=3)
    assert offsets.shape == (3, 1, 1)
    # Laplace smoothing: (positive + 1) / (decisions - positive + 1)
    assert offsets[:, 0, 0] == pytest.approx([math.log(3 / 9), math.log(2 / 10), math.log(1 / 11)], rel=1e-6)


def _dense_multilabel_ce(labels, logits):
    """log(1 + sum_neg e^s) + log(1 + sum_pos e^-s), per row, in float64."""
    pos = np.log1p(np.sum(np.where(labels, np.exp(-logits), 0.0)))
    neg = np.log1p(np.sum(np.where(labels, 0.0, np.exp(logits))))
    return pos + neg


def test_sparse_loss_equals_dense_multilabel_cross_entropy_without_the_padding_cell():
    from common import backend
    backend.setup()
    from common.pointer import sparse_pointer_loss
    rng = np.random.default_rng(0)
    cells = [[(0, 1, 2), (0, 3, 3), (1, 2, 1)], [(1, 0, 3)]]
    logits = rng.normal(size=(2, 2, 4, 4)).astype("float32")
    loss = sparse_pointer_loss(sparse_targets(cells, 2), logits).numpy()
    expected = np.zeros(2)
    for b, example in enumerate(cells):
        for head in range(2):
            labels = np.zeros((4, 4), dtype=bool)
            for h, i, j in example:
                labels[i, j] |= h == head
            keep = np.ones((4, 4), dtype=bool)
            keep[0, 0] = labels[0, 0]  # the padding cell counts only where it is a real positive
            expected[b] += _dense_multilabel_ce(labels[keep], logits[b, head][keep].astype("float64"))
    # (0, 3) in example 1 is a real positive: only the exact (0, 0) cell is the pad
    assert loss == pytest.approx(expected, rel=1e-4)
