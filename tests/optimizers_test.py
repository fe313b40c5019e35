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


def _reference_rate(step, lr, schedule, warmup, total):
  """The schedule written out in plain Python (TrainConfig's docstring)."""
  rate = lr
  if schedule == 'cosine':
    progress = min(max((step - warmup) / max(total - warmup, 1), 0.0), 1.0)
    rate = lr * 0.5 * (1 + np.cos(np.pi * progress))
  if warmup:
    rate *= min((step + 1) / warmup, 1.0)
  return rate


def test_learning_rate_schedules_match_their_formula():
  for schedule, warmup in (('constant', 4), ('cosine', 0), ('cosine', 4)):
    rate = optimizers.LearningRate(2e-4, schedule, warmup, total_steps=20)
    got = np.array([float(rate(s)) for s in range(25)])
    want = np.array([_reference_rate(s, 2e-4, schedule, warmup, 20) for s in range(25)])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-12)
  cosine = [float(optimizers.LearningRate(1.0, 'cosine', 4, 20)(s)) for s in range(25)]
  assert cosine[0] == 0.25 and cosine[3] == 1.0          # the ramp, then the peak
  assert np.isclose(cosine[12], 0.5) and cosine[20] == cosine[24] == 0.0


def test_scheduled_adam_takes_the_scheduled_steps(tmp_path):
  """Adam's first update moves each weight by about lr: with a warmup of 4, by lr / 4.
  The schedule adds no variable: its checkpoint restores into a constant-rate Adam."""
  rate = optimizers.LearningRate(0.05, 'cosine', warmup_steps=4, total_steps=30)
  variables = [keras.Variable(x) for x in _init()]
  optimizer = optimizers.FusedAdam(learning_rate=0.05, schedule=rate)
  optimizer.build(variables)
  before = variables[0].numpy()
  optimizer.apply_gradients([(2.0 * (v - 1.5), v) for v in variables])
  np.testing.assert_allclose(np.abs(variables[0].numpy() - before), 0.05 / 4, rtol=1e-3)
  optimizer.apply_gradients([(tf.zeros_like(v), v) for v in variables])
  path = tf.train.Checkpoint(v=variables, optimizer=optimizer).write(str(tmp_path / 'ckpt'))
  restored = [keras.Variable(x) for x in _init()]
  constant = optimizers.FusedAdam(learning_rate=0.05)
  constant.build(restored)
  tf.train.Checkpoint(v=restored, optimizer=constant).read(path).assert_consumed()
  assert int(constant.iterations) == 2
  again = optimizers.FusedAdam.from_config(optimizer.get_config())
  assert again.schedule.get_config() == rate.get_config()


def test_schedule_is_none_for_the_paper():
  from inrv_tf import config as config_lib
  assert optimizers.schedule(config_lib.paper().train) is None
  rate = optimizers.schedule(config_lib.TrainConfig(
      steps=100, lr=3e-4, lr_schedule='cosine', warmup_steps=10))
  assert rate.get_config() == {'lr': 3e-4, 'schedule': 'cosine', 'warmup_steps': 10,
                               'total_steps': 100}
  assert optimizers.schedule(config_lib.TrainConfig(warmup_steps=5)).schedule == 'constant'
