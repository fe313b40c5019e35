"""Adam with one fused kernel per variable.

Keras 3's Adam updates each variable with about ten separate element-wise ops
(reading and writing the variable, m and v several times over). For the
hypernetwork's 57 million weights that costs more than the hypernetwork's own
forward and backward pass (benchmarks/README.md).
`FusedAdam` runs the same update through TensorFlow's `ResourceApplyAdam`
kernel, one pass over memory: m += (g - m)(1 - b1), v += (g^2 - v)(1 - b2),
var -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps), exactly Keras's
formula, with the same slot variables, so checkpoints are interchangeable.

A `LearningRate` schedule (warmup, cosine decay) is given as `schedule=`: the
optimizer keeps its constant-rate variable, so every checkpoint holds the same
variables whatever the schedule, and a run may resume under another one.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package='inrv_tf')
class FusedAdam(keras.optimizers.Adam):
  """keras.optimizers.Adam whose update is TensorFlow's fused ResourceApplyAdam.

  Falls back to Keras's own update for amsgrad and for non-float32 variables.
  With `schedule` (a LearningRateSchedule of the step), each step's updates use
  schedule(iterations), computed once per step, in place of the `learning_rate`
  variable (which `learning_rate` then reports too).
  """

  def __init__(self, *args, schedule=None, **kwargs):
    super().__init__(*args, **kwargs)
    self.schedule = schedule

  def get_config(self):
    config = super().get_config()
    config['schedule'] = keras.saving.serialize_keras_object(self.schedule)
    return config

  @classmethod
  def from_config(cls, config, custom_objects=None):
    config = dict(config)
    config['schedule'] = keras.saving.deserialize_keras_object(config.get('schedule'))
    return super().from_config(config, custom_objects=custom_objects)

  def _get_current_learning_rate(self):
    # Keras asks once per apply_gradients and hands the rate to every update_step.
    if self.schedule is not None:
      return self.schedule(self.iterations)
    return super()._get_current_learning_rate()

  def update_step(self, gradient, variable, learning_rate):
    if self.amsgrad or variable.dtype != tf.float32:
      return super().update_step(gradient, variable, learning_rate)
    index = self._get_variable_index(variable)
    m, v = self._momentums[index], self._velocities[index]
    step = tf.cast(self.iterations + 1, tf.float32)
    beta_1 = tf.cast(self.beta_1, tf.float32)
    beta_2 = tf.cast(self.beta_2, tf.float32)
    return tf.raw_ops.ResourceApplyAdam(
        var=_handle(variable), m=_handle(m), v=_handle(v),
        beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
        lr=tf.cast(learning_rate, tf.float32), beta1=beta_1, beta2=beta_2,
        epsilon=tf.cast(self.epsilon, tf.float32),
        grad=tf.cast(gradient, tf.float32), use_locking=False)


def _handle(variable) -> tf.Tensor:
  """The resource handle of a Keras or TensorFlow variable (this device's copy)."""
  if isinstance(variable, keras.Variable):
    variable = variable.value
  return variable.handle


@keras.saving.register_keras_serializable(package='inrv_tf')
class LearningRate(keras.optimizers.schedules.LearningRateSchedule):
  """TrainConfig's rate as a function of the optimizer step (0 for the first update).

  Steps 0 .. warmup_steps - 1 ramp linearly, lr * (step + 1) / warmup_steps;
  then 'constant' keeps lr, and 'cosine' decays as lr * (1 + cos(pi * p)) / 2
  with p = (step - warmup_steps) / (total_steps - warmup_steps), clipped to 1,
  so the rate reaches 0 at `total_steps` and stays there.
  """

  def __init__(self, lr: float, schedule: str = 'constant', warmup_steps: int = 0,
               total_steps: int = 0):
    self.lr = float(lr)
    self.schedule = schedule
    self.warmup_steps = int(warmup_steps)
    self.total_steps = int(total_steps)

  def __call__(self, step):
    step = tf.cast(step, tf.float32)
    lr = tf.constant(self.lr, tf.float32)
    if self.schedule == 'cosine':
      span = max(self.total_steps - self.warmup_steps, 1)
      progress = tf.minimum((step - self.warmup_steps) / span, 1.0)
      lr = lr * 0.5 * (1.0 + tf.cos(math.pi * tf.maximum(progress, 0.0)))
    if self.warmup_steps:
      lr = lr * tf.minimum((step + 1.0) / self.warmup_steps, 1.0)
    return lr

  def get_config(self):
    return {'lr': self.lr, 'schedule': self.schedule,
            'warmup_steps': self.warmup_steps, 'total_steps': self.total_steps}


def schedule(train) -> LearningRate | None:
  """A TrainConfig's schedule: None for the paper's constant rate without warmup."""
  if train.lr_schedule == 'constant' and not train.warmup_steps:
    return None
  return LearningRate(train.lr, train.lr_schedule, train.warmup_steps, train.steps)
