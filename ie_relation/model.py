"""Encoder + three global pointers whose scores are stacked into one (batch, channels, L, L) output:
entity spans (2 channels, RoPE, upper triangle), head-head links and tail-tail links (one channel
per link type each, no RoPE: a link joins two different entities anywhere in the window, and no
triangle mask: a subject may come after its object). One output keeps common.training's single loss.
"""
from ie_relation.data import N_ENTITY_CHANNELS


def build_model(model_cfg, schema, load_checkpoint=True):
    """Keras model [token_ids, segment_ids] -> scores (batch, schema.n_channels, L, L)."""
    from common.model import build_encoder
    encoder = build_encoder(model_cfg, load_checkpoint=load_checkpoint)
    import keras
    from bert4keras.layers import EfficientGlobalPointer, GlobalPointer

    head_size = model_cfg.head_size
    links = EfficientGlobalPointer if model_cfg.efficient_links else GlobalPointer
    hidden = encoder.output
    entities = GlobalPointer(N_ENTITY_CHANNELS, head_size, name="entity_pointer")(hidden)
    heads = links(schema.n_links, head_size, RoPE=False, tril_mask=False, name="head_links")(hidden)
    tails = links(schema.n_links, head_size, RoPE=False, tril_mask=False, name="tail_links")(hidden)
    scores = keras.layers.Concatenate(axis=1, name="scores")([entities, heads, tails])
    return keras.models.Model(encoder.inputs, scores)


def build_loss(train_cfg, windows, n_channels):
    """The sparse pointer loss with the [train] switches; logit adjustment uses each channel's
    positive rate over all (L - 2)^2 cells of the training windows (links have no triangle mask)."""
    from common.losses import from_config
    from common.pointer import head_log_odds, sparse_pointer_loss
    offsets = None
    if train_cfg.logit_adjust_tau:
        cells = sum((len(w) - 2) ** 2 for w in windows)
        offsets = head_log_odds([w.targets for w in windows], cells, n_channels)
    return from_config(sparse_pointer_loss, train_cfg, offsets)
