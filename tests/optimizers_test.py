import keras
import numpy as np
import tensorflow as tf

from inrv_tf.train import optimizers


def _run(optimizer_cls, init, steps, **kwargs):
  variables = [keras.Variable(x) for x in init]
  optimizer = optimizer_cls(learning_rate=0.05, **kwargs)
  optimizer.build(variables)

  @tf.function
  def step():
    grads = [2.0 * (v - 1.5) for v in variables]   # d/dv of (v - 1.5)^2
    optimizer.apply_gradients(zip(grads, variables))

  for _ in range(steps):
    step()
  return variables, optimizer


def _init():
  rng = np.random.default_rng(0)
  return [rng.normal(size=s).astype(np.float32) for s in [(6, 5), (5,)]]


def test_fused_adam_matches_keras_adam():
  # MirroredStrategy (each replica's copy updated by the fused kernel) is
  # covered by tests/distribute_test.py, which trains through FusedAdam.
  want, keras_opt = _run(keras.optimizers.Adam, _init(), 30)
  got, fused_opt = _run(optimizers.FusedAdam, _init(), 30)
  # The same formula in another order of float32 operations: equal to rounding.
  for a, b in zip(got, want):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-5, atol=2e-5)
  for a, b in zip(fused_opt._momentums + fused_opt._velocities,
                  keras_opt._momentums + keras_opt._velocities):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-5, atol=2e-5)
  assert int(fused_opt.iterations) == 30
  # The loss went down: 30 steps of lr 0.05 move every weight towards 1.5.
  assert np.abs(got[0].numpy() - 1.5).mean() < np.abs(_init()[0] - 1.5).mean() - 0.5


def test_fused_adam_amsgrad_falls_back_to_keras():
  want, _ = _run(keras.optimizers.Adam, _init(), 5, amsgrad=True)
  got, _ = _run(optimizers.FusedAdam, _init(), 5, amsgrad=True)
  for a, b in zip(got, want):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_checkpoints_interchange_with_keras_adam(tmp_path):
  variables, keras_opt = _run(keras.optimizers.Adam, _init(), 7)
  path = tf.train.Checkpoint(v=variables, optimizer=keras_opt).write(str(tmp_path / 'ckpt'))
  restored = [keras.Variable(np.zeros_like(x)) for x in _init()]
  fused = optimizers.FusedAdam(learning_rate=0.05)
  fused.build(restored)
  tf.train.Checkpoint(v=restored, optimizer=fused).read(path).assert_consumed()
  assert int(fused.iterations) == 7
  np.testing.assert_array_equal(fused._momentums[0].numpy(), keras_opt._momentums[0].numpy())
  np.testing.assert_array_equal(restored[0].numpy(), variables[0].numpy())
