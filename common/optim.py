"""Optimiser from a track's [train] config: Adam(W), warm-up then linear decay, EMA, gradient accumulation.

All built from bert4keras's optimiser extensions (on the legacy base, see common.compat). Schedules
count optimiser iterations, i.e. micro-batches when gradients are accumulated.
"""

# Weights that take no weight decay, as in BERT: LayerNorm parameters and biases.
NO_DECAY = ["Norm", "bias"]


def schedule(total_steps, warmup_proportion):
    """bert4keras piecewise-linear multipliers: 0 -> 1 over the warm-up, then 1 -> 0 at the end."""
    total_steps = max(int(total_steps), 1)
    warmup = min(int(round(warmup_proportion * total_steps)), total_steps - 1)
    if warmup <= 0:
        return {0: 1.0, total_steps: 0.0}
    return {warmup: 1.0, total_steps: 0.0}


def build_optimizer(train_cfg, total_steps):
    """The optimiser a [train] section (common.config.TrainConfig) describes."""
    from common import backend
    backend.setup()
    from bert4keras import optimizers as o

    cls, kwargs, name = o.Adam, {"learning_rate": train_cfg.learning_rate}, "Adam"
    weight_decay = train_cfg.weight_decay
    if weight_decay > 0:
        name += "W"
        cls = o.extend_with_weight_decay(cls, name)
        kwargs.update(weight_decay_rate=weight_decay, exclude_from_weight_decay=NO_DECAY)
    name += "LR"
    cls = o.extend_with_piecewise_linear_lr(cls, name)
    kwargs["lr_schedule"] = schedule(total_steps, train_cfg.warmup_proportion)
    ema = train_cfg.ema_momentum
    if ema > 0:
        # Inside the accumulation wrapper: the average then moves only on real updates.
        name += "EMA"
        cls = o.extend_with_exponential_moving_average(cls, name)
        kwargs["ema_momentum"] = ema
    accum = train_cfg.grad_accum_steps
    if accum > 1:
        name += "GA"
        cls = o.extend_with_gradient_accumulation(cls, name)
        kwargs["grad_accum_steps"] = accum
    return cls(name=name, **kwargs)
