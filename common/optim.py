"""Optimiser from a track's [train] config: AdamW with warm-up then linear decay, EMA of the weights and
gradient accumulation, in one fused update per variable.

bert4keras offers the same features as wrappers (`extend_with_weight_decay`, `_piecewise_linear_lr`,
`_exponential_moving_average`, `_gradient_accumulation`); stacked, every wrapper re-traces the update of
every variable through Python-level `K.update` patches, which costs seconds when a training step is first
traced (about 5 s against 1 s for the tiny model here) and a slower step. This class computes the same
update with TensorFlow's fused Adam kernel:

    u = updates applied before this one, lr_u = learning_rate * schedule(u)
    var <- var - lr_u * weight_decay * var                       (decoupled decay; not LayerNorm or biases)
    m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2
    var <- var - lr_u * m_hat / (sqrt(v_hat) + epsilon)          (bias-corrected, as bert4keras's Adam)
    ema <- momentum * ema + (1 - momentum) * var                 (when EMA is on; zero-initialised)

With gradient accumulation over k batches the gradients of k consecutive batches are averaged and applied
on every k-th batch (after batches k, 2k, ...); the schedule and Adam's bias correction count updates, not
batches. (bert4keras's wrapper applies on batches 0, k, 2k, ..., the first one a zero update, and counts
batches in the bias correction.)
"""

# Weights that take no weight decay, as in BERT: LayerNorm parameters and biases.
NO_DECAY = ("Norm", "bias")
BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-6  # bert4keras's Adam defaults


def schedule(total_steps, warmup_proportion):
    """Piecewise-linear multipliers {step: value}: 0 -> 1 over the warm-up, then 1 -> 0 at the end."""
    total_steps = max(int(total_steps), 1)
    warmup = min(int(round(warmup_proportion * total_steps)), total_steps - 1)
    if warmup <= 0:
        return {0: 1.0, total_steps: 0.0}
    return {warmup: 1.0, total_steps: 0.0}


def multiplier(step, points):
    """The learning-rate multiplier at `step` (a tensor) for schedule `points`: linear from (0, 0) to
    the first point (or flat from step 0 when the first point is at 0), then between points, then flat."""
    import tensorflow as tf
    points = sorted(points.items())
    if points[0][0] != 0:
        points = [(0, 0.0)] + points
    step = tf.cast(step, "float32")
    value = tf.constant(points[-1][1], "float32")
    for (t0, v0), (t1, v1) in reversed(list(zip(points, points[1:]))):
        inside = v0 + (v1 - v0) * (step - t0) / float(t1 - t0)
        value = tf.where(step < t1, inside, value)
    return value


def build_optimizer(train_cfg, total_steps):
    """The optimiser a [train] section (common.config.TrainConfig) describes; `total_steps` counts
    batches, so with gradient accumulation the schedule spans total_steps / grad_accum_steps updates."""
    from common import backend
    backend.setup()
    accum = train_cfg.grad_accum_steps
    updates = -(-int(total_steps) // accum)
    return _adamw_class()(learning_rate=train_cfg.learning_rate,
                          lr_schedule=schedule(updates, train_cfg.warmup_proportion),
                          weight_decay=train_cfg.weight_decay, ema_momentum=train_cfg.ema_momentum,
                          grad_accum_steps=accum)


_CLASS = []


def _adamw_class():
    """The AdamW class (defined once, after TensorFlow is set up)."""
    if _CLASS:
        return _CLASS[0]
    import keras
    import tensorflow as tf

    class AdamW(keras.optimizers.legacy.Optimizer):
        _HAS_AGGREGATE_GRAD = True

        def __init__(self, learning_rate, lr_schedule=None, weight_decay=0.0, ema_momentum=0.0,
                     grad_accum_steps=1, exclude_from_weight_decay=NO_DECAY, name="AdamW", **kwargs):
            super().__init__(name, **kwargs)
            self._set_hyper("learning_rate", learning_rate)
            self.lr_schedule = {int(k): float(v) for k, v in (lr_schedule or {0: 1.0}).items()}
            self.weight_decay = float(weight_decay)
            self.ema_momentum = float(ema_momentum)
            self.grad_accum_steps = int(grad_accum_steps)
            self.exclude_from_weight_decay = tuple(exclude_from_weight_decay)
            self.model_weights, self.ema_weights = [], []

        def _create_slots(self, var_list):
            for var in var_list:
                self.add_slot(var, "m")
                self.add_slot(var, "v")
            if self.grad_accum_steps > 1:
                for var in var_list:
                    self.add_slot(var, "accumulated")
            if self.ema_momentum:
                self.model_weights = list(var_list)
                self.ema_weights = [self.add_slot(var, "ema") for var in var_list]

        def _decays(self, var):
            return self.weight_decay > 0 and not any(part in var.name for part in self.exclude_from_weight_decay)

        def _prepare_local(self, var_device, var_dtype, apply_state):
            super()._prepare_local(var_device, var_dtype, apply_state)
            done = self.iterations // self.grad_accum_steps  # updates applied before this one
            lr = apply_state[(var_device, var_dtype)]["lr_t"] * tf.cast(multiplier(done, self.lr_schedule), var_dtype)
            t = tf.cast(done + 1, var_dtype)
            beta_2_power = tf.pow(tf.constant(BETA_2, var_dtype), t)
            apply_state[(var_device, var_dtype)].update(
                lr=lr, decay=lr * self.weight_decay,
                beta_1_power=tf.pow(tf.constant(BETA_1, var_dtype), t), beta_2_power=beta_2_power,
                # the fused kernel divides by sqrt(v) + eps, bert4keras by sqrt(v_hat) + eps: same update
                epsilon=EPSILON * tf.sqrt(1.0 - beta_2_power),
                apply=tf.equal((self.iterations + 1) % self.grad_accum_steps, 0))

        def _update(self, grad, var, c):
            steps = []
            if self._decays(var):
                steps.append(var.assign_sub(c["decay"] * var, read_value=False))
            with tf.control_dependencies(steps):
                adam = tf.raw_ops.ResourceApplyAdam(
                    var=var.handle, m=self.get_slot(var, "m").handle, v=self.get_slot(var, "v").handle,
                    beta1_power=c["beta_1_power"], beta2_power=c["beta_2_power"], lr=c["lr"],
                    beta1=tf.constant(BETA_1, var.dtype), beta2=tf.constant(BETA_2, var.dtype),
                    epsilon=c["epsilon"], grad=grad, use_locking=self._use_locking)
            if not self.ema_momentum:
                return adam
            with tf.control_dependencies([adam]):
                ema = self.get_slot(var, "ema")
                return ema.assign(ema * self.ema_momentum + var.read_value() * (1.0 - self.ema_momentum),
                                  read_value=False)

        def _resource_apply_dense(self, grad, var, apply_state=None):
            c = (apply_state or {}).get((var.device, var.dtype.base_dtype)) \
                or self._fallback_apply_state(var.device, var.dtype.base_dtype)
            if self.grad_accum_steps == 1:
                return self._update(grad, var, c)
            accumulated = self.get_slot(var, "accumulated")
            total = accumulated.read_value() + grad

            def apply():
                with tf.control_dependencies([self._update(total / self.grad_accum_steps, var, c)]):
                    return accumulated.assign(tf.zeros_like(total), read_value=False)

            def keep():
                return accumulated.assign(total, read_value=False)

            return tf.cond(c["apply"], apply, keep)

        def _resource_apply_sparse(self, grad, var, indices, apply_state=None):
            dense = tf.convert_to_tensor(tf.IndexedSlices(grad, indices, tf.shape(var, out_type=indices.dtype)))
            return self._resource_apply_dense(dense, var, apply_state)

        def get_config(self):
            config = super().get_config()
            config.update(learning_rate=self._serialize_hyperparameter("learning_rate"),
                          lr_schedule=self.lr_schedule, weight_decay=self.weight_decay,
                          ema_momentum=self.ema_momentum, grad_accum_steps=self.grad_accum_steps,
                          exclude_from_weight_decay=list(self.exclude_from_weight_decay))
            return config

    _CLASS.append(AdamW)
    return AdamW
