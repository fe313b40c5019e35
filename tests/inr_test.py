import keras
import numpy as np
import pytest
import tensorflow as tf

from inrv_tf.model import inr


def test_param_counts():
  assert inr.InrSpec(3, (64, 64), 3).num_params == 4611
  paper = inr.InrSpec(63, (256, 256, 256, 256), 3)
  assert paper.num_params == 214_531
  assert paper.macs_per_pixel == 213_504
  assert len(paper.param_shapes) == 10


def _random_params(spec, batch, rng):
  return [tf.constant(rng.normal(0, 0.3, size=(batch, *s)).astype(np.float32))
          for s in spec.param_shapes]


def _reference(params, features):
  """Plain NumPy: one video at a time, one layer at a time."""
  out = []
  for v in range(params[0].shape[0]):
    x = np.asarray(features, np.float64)
    n = len(params) // 2
    for i in range(n):
      x = x @ np.asarray(params[2 * i][v], np.float64) + np.asarray(params[2 * i + 1][v])
      if i < n - 1:
        x = np.maximum(x, 0)
    out.append(x)
  return np.stack(out)


@pytest.mark.parametrize('layout', inr.LAYOUTS)
def test_every_layout_equals_per_video_loop(layout):
  rng = np.random.default_rng(0)
  spec = inr.InrSpec(7, (16, 16, 16), 3)
  params = _random_params(spec, 3, rng)
  features = rng.uniform(-1, 1, size=(40, 7)).astype(np.float32)
  got = inr.apply_inr(params, tf.constant(features), layout=layout).numpy()
  assert got.shape == (3, 40, 3)
  np.testing.assert_allclose(got, _reference(params, features), rtol=1e-5, atol=1e-5)
  batched = np.stack([features + v for v in range(3)])
  got = inr.apply_inr(params, tf.constant(batched), layout=layout).numpy()
  want = np.stack([_reference(params, f)[v] for v, f in enumerate(batched)])
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_layouts_have_the_same_gradients():
  rng = np.random.default_rng(4)
  spec = inr.InrSpec(7, (16, 16), 3)
  params = [tf.Variable(p) for p in _random_params(spec, 2, rng)]
  features = tf.constant(rng.uniform(-1, 1, size=(30, 7)).astype(np.float32))
  grads = {}
  for layout in ('per_video', 'einsum'):
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(tf.abs(inr.apply_inr(params, features, layout=layout) - 0.1))
    grads[layout] = tape.gradient(loss, params)
  for a, b in zip(grads['per_video'], grads['einsum']):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)


def test_auto_layout_takes_einsum_for_a_dynamic_batch():
  spec = inr.InrSpec(5, (8,), 3)
  params = _random_params(spec, 2, np.random.default_rng(5))
  f = tf.random.uniform([6, 5])
  signature = [tf.TensorSpec([None, *s]) for s in spec.param_shapes]
  run = tf.function(lambda *p: inr.apply_inr(list(p), f), input_signature=signature)
  np.testing.assert_allclose(run(*params).numpy(), inr.apply_inr(params, f).numpy(),
                             rtol=1e-5, atol=1e-6)
  with pytest.raises(ValueError, match='static number of videos'):
    tf.function(lambda *p: inr.apply_inr(list(p), f, layout='per_video'),
                input_signature=signature)(*params)
  with pytest.raises(ValueError, match='layout must be one of'):
    inr.apply_inr(params, f, layout='loop')


def test_shared_and_per_video_features_agree():
  rng = np.random.default_rng(1)
  spec = inr.InrSpec(5, (8,), 3)
  params = _random_params(spec, 2, rng)
  f = rng.uniform(-1, 1, size=(10, 5)).astype(np.float32)
  shared = inr.apply_inr(params, tf.constant(f)).numpy()
  batched = inr.apply_inr(params, tf.constant(np.stack([f, f]))).numpy()
  np.testing.assert_allclose(shared, batched, rtol=1e-6, atol=1e-6)


def test_matches_keras_dense_stack():
  spec = inr.InrSpec(6, (12, 12), 3)
  layers = [keras.layers.Dense(12, 'relu'), keras.layers.Dense(12, 'relu'),
            keras.layers.Dense(3)]
  x = tf.random.uniform([9, 6], -1, 1, seed=3)
  y = x
  for layer in layers:
    y = layer(y)
  params = []
  for layer in layers:
    params += [layer.kernel[None], layer.bias[None]]
  assert [tuple(p.shape[1:]) for p in params] == spec.param_shapes
  np.testing.assert_allclose(inr.apply_inr(params, x).numpy()[0], y.numpy(), rtol=1e-5,
                             atol=1e-6)


def test_split_and_flatten_round_trip():
  spec = inr.InrSpec(4, (5,), 3)
  flat = tf.random.normal([2, spec.num_params])
  pieces = spec.split(flat)
  assert [tuple(p.shape[1:]) for p in pieces] == spec.param_shapes
  np.testing.assert_array_equal(spec.flatten(pieces).numpy(), flat.numpy())


def test_bfloat16_close_to_float32():
  rng = np.random.default_rng(2)
  spec = inr.InrSpec(63, (64, 64), 3)
  params = _random_params(spec, 2, rng)
  f = tf.constant(rng.uniform(-1, 1, size=(100, 63)).astype(np.float32))
  a = inr.apply_inr(params, f).numpy()
  b = inr.apply_inr(params, f, tf.bfloat16).numpy()
  assert b.dtype == np.float32
  assert np.abs(a - b).max() / np.abs(a).max() < 0.05


def test_float16_grad_scale_is_a_power_of_two_that_ranges_each_video():
  grad = np.zeros([4, 1000, 3], np.float32)
  grad[0, 5, 1] = 3e-7            # tiny: scaled up
  grad[1, 7, 0] = -5e3            # large: scaled down
  grad[3, 0, 0] = np.inf          # all zero (video 2) or not finite (video 3): left alone
  scale = inr.float16_grad_scale(tf.constant(grad)).numpy()
  assert scale[2] == scale[3] == 1.0
  mantissa, _ = np.frexp(scale)
  np.testing.assert_array_equal(mantissa, 0.5)                   # exact powers of two
  # 1,000 pixels: k = min(0, 11 - ceil(log2 1000)) = 0, the peak lands in [1, 2).
  peaks = np.abs(grad[:2] * scale[:2, None, None]).max(axis=(1, 2))
  assert np.all((peaks >= 1.0) & (peaks < 2.0)), peaks
  # 100,000 pixels: k = 11 - 17 = -6.
  many = np.zeros([1, 100_000, 3], np.float32)
  many[0, 0, 0] = 1e-6
  peak = 1e-6 * inr.float16_grad_scale(tf.constant(many)).numpy()[0]
  assert 2.0 ** -6 <= peak < 2.0 ** -5


def test_float16_gradients_are_scaled_out_of_the_subnormals():
  """A mean L1 over 120,000 pixels gives each output 1 / 360,000 of gradient: in
  float16's subnormals. Scaled by powers of two per chunk, the float16 INR's gradients
  stay within 0.5% of float32's; backpropagated as they are, they lose far more."""
  rng = np.random.default_rng(0)
  spec = inr.InrSpec(63, (64, 64, 64), 3)
  params = []
  for fan_in, fan_out in spec.layer_sizes:      # He initialisation, small biases
    params += [tf.constant(rng.normal(0, (2 / fan_in) ** 0.5, (2, fan_in, fan_out)),
                           tf.float32),
               tf.constant(rng.normal(0, 0.01, (2, fan_out)), tf.float32)]
  pixels = 120_000
  features = tf.constant(rng.uniform(-1, 1, (pixels, 63)), tf.float32)
  target = tf.constant(rng.uniform(-1, 1, (2, pixels, 3)), tf.float32)
  l1 = lambda pred, truth: tf.reduce_mean(tf.abs(pred - truth), axis=[1, 2])

  def grads(dtype):
    return inr.chunked_inr_grads(params, features, target, l1, 32768, dtype)[2]

  def worst_error(grads):
    return max(float(tf.norm(g - r) / tf.norm(r)) for g, r in zip(grads, reference))

  reference = grads(tf.float32)
  scaled = worst_error(grads(tf.float16))
  with tf.GradientTape() as tape:
    tape.watch(params)
    total = tf.reduce_sum(l1(inr.apply_inr(params, features, tf.float16), target))
  unscaled = worst_error(tape.gradient(total, params))
  assert scaled < 0.005, scaled
  assert unscaled > 4 * scaled, (unscaled, scaled)
