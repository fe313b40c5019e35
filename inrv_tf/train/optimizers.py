"""Adam with one fused kernel per variable.

Keras 3's Adam updates each variable with about ten separate element-wise ops
(reading and writing the variable, m and v several times over). For the
hypernetwork's 57 million weights that costs more than the hypernetwork's own
forward and backward pass (benchmarks/README.md).
`FusedAdam` runs the same update through TensorFlow's `ResourceApplyAdam`
kernel, one pass over memory: m += (g - m)(1 - b1), v += (g^2 - v)(1 - b2),
var -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps), exactly Keras's
formula, with the same slot variables, so checkpoints are interchangeable.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package='inrv_tf')
class FusedAdam(keras.optimizers.Adam):
  """keras.optimizers.Adam whose update is TensorFlow's fused ResourceApplyAdam.

  Falls back to Keras's own update for amsgrad and for non-float32 variables.
  """

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
