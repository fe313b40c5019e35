"""VQ-VAE-2: nearest-neighbour codes, the straight-through gradient, the EMA rule."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from inrv_tf.denoiser import vqvae

K, D = 16, 4


@pytest.fixture(autouse=True)
def seed():
  keras.utils.set_random_seed(0)


def _quantizer(codebook=None, **kwargs):
  layer = vqvae.VectorQuantizerEMA(K, D, **kwargs)
  layer.build((None, D))
  if codebook is not None:      # A known codebook, consistent EMA state (m = e, N = 1).
    layer.codebook.assign(codebook)
    layer.code_sum.assign(codebook)
    layer.cluster_size.assign(np.ones(K, np.float32))
  return layer


def test_codes_are_nearest_neighbours():
  layer = _quantizer()
  x = np.random.default_rng(0).normal(size=(2, 5, 5, D)).astype(np.float32)
  quantized, commitment, codes = layer(x)
  codebook = layer.codebook.numpy()
  brute = np.argmin(((x[..., None, :] - codebook) ** 2).sum(-1), axis=-1)   # [2, 5, 5]
  np.testing.assert_array_equal(codes.numpy(), brute)
  np.testing.assert_allclose(quantized.numpy(), codebook[brute], atol=1e-6)
  np.testing.assert_allclose(float(commitment),
                             0.25 * np.mean((x - codebook[brute]) ** 2), rtol=1e-5)


def test_straight_through_gradient_is_the_identity():
  layer = _quantizer()
  x = tf.constant(np.random.default_rng(1).normal(size=(3, D)), tf.float32)
  w = tf.constant(np.random.default_rng(2).normal(size=(3, D)), tf.float32)
  with tf.GradientTape() as tape:
    tape.watch(x)
    quantized, _, _ = layer(x)
    value = tf.reduce_sum(w * quantized)
  np.testing.assert_allclose(tape.gradient(value, x).numpy(), w.numpy(), atol=1e-6)


def test_reconstruction_gradient_reaches_the_encoders():
  """Without the commitment term, only the straight-through path links the
  reconstruction to the encoders: their gradients must be non-zero."""
  model = vqvae.VQVAE2(**vqvae.SIZES['small'])
  frames = tf.random.uniform([2, 32, 32, 3], -1, 1, seed=0)
  model(frames)
  encoders = model.encode_bottom.trainable_variables + model.encode_top.trainable_variables
  with tf.GradientTape() as tape:
    recon, _ = model(frames, training=False)
    loss = tf.reduce_mean(tf.square(recon - frames))
  grads = tape.gradient(loss, encoders)
  kernels = [g for g, v in zip(grads, encoders) if 'kernel' in v.path]
  assert len(kernels) == 9      # 2 down + 1 + 2 residual (bottom), 1 down + 1 + 2 (top).
  for g in kernels:
    assert g is not None and float(tf.reduce_max(tf.abs(g))) > 0.0


def test_one_ema_update_in_closed_form():
  """N = d N + (1 - d) n, m = d m + (1 - d) s, e = m / N~ (Laplace-smoothed)."""
  decay, eps = 0.9, 1e-5
  codebook = np.eye(K, D, dtype=np.float32) * 2.0          # codes 0..3 on the axes, 4.. at 0
  layer = _quantizer(codebook, decay=decay, epsilon=eps, restart_threshold=0.0)
  # Three inputs near code 0, one near code 1, none near codes 2 and 3.
  x = np.array([[1.5, 0.1, 0, 0], [1.7, -0.1, 0, 0], [1.6, 0.3, 0, 0],
                [0.1, 2.4, 0, 0]], np.float32)
  _, _, codes = layer(x, training=True)
  np.testing.assert_array_equal(codes.numpy(), [0, 0, 0, 1])
  counts = np.bincount(codes.numpy(), minlength=K).astype(np.float32)
  sums = np.zeros((K, D), np.float32)
  np.add.at(sums, codes.numpy(), x)
  n = decay * 1.0 + (1 - decay) * counts
  m = decay * codebook + (1 - decay) * sums
  smoothed = (n + eps) / (n.sum() + K * eps) * n.sum()
  np.testing.assert_allclose(layer.cluster_size.numpy(), n, rtol=1e-6)
  np.testing.assert_allclose(layer.codebook.numpy(), m / smoothed[:, None], rtol=1e-5,
                             atol=1e-7)
  # So a used code moves the fraction (1-d) n / (d + (1-d) n) of the way to its
  # inputs' mean: 0.3 / 1.2 = 1/4 for code 0, 0.1 / 1.0 for code 1.
  for code, fraction in ((0, 0.25), (1, 0.1)):
    mean = x[codes.numpy() == code].mean(0)
    before = np.linalg.norm(codebook[code] - mean)
    after = np.linalg.norm(layer.codebook.numpy()[code] - mean)
    assert after == pytest.approx((1 - fraction) * before, rel=1e-3)
  # An unused code stays where it was (to the smoothing's 1e-5).
  np.testing.assert_allclose(layer.codebook.numpy()[2], codebook[2], rtol=1e-4)


def test_inference_leaves_the_codebook_alone():
  layer = _quantizer()
  before = layer.codebook.numpy()
  layer(np.ones((4, D), np.float32), training=False)
  np.testing.assert_array_equal(layer.codebook.numpy(), before)


def test_dead_codes_restart_on_the_inputs():
  codebook = np.full((K, D), 100.0, np.float32)
  codebook[0] = 0.0                                         # Only code 0 is ever nearest.
  layer = _quantizer(codebook, restart_threshold=1.0)
  x = np.random.default_rng(3).normal(size=(64, D)).astype(np.float32)
  layer(x, training=True)
  new = layer.codebook.numpy()
  assert layer.cluster_size.numpy()[0] > 1.0                # Used: kept and updated.
  distances = np.linalg.norm(new[1:, None] - x[None], axis=-1).min(axis=1)
  np.testing.assert_array_less(distances, 1e-3)            # Each dead code is now an input.
  _, _, codes = layer(x)
  assert len(np.unique(codes.numpy())) > 1


def test_checkpoint_restores_every_variable(tmp_path):
  """Into a model initialised otherwise, with the optimizer beside it in the
  checkpoint (whose breadth-first names would hide weights the model's own
  object graph does not reach, e.g. layers kept in Python lists)."""
  model = vqvae.VQVAE2(**vqvae.SIZES['small'])
  frames = tf.random.uniform([2, 32, 32, 3], -1, 1, seed=2)
  model(frames, training=True)                                 # EMA state off its init.
  optimizer = keras.optimizers.Adam()
  optimizer.build(model.trainable_variables)
  path = tf.train.Checkpoint(model=model, optimizer=optimizer).write(str(tmp_path / 'ckpt'))
  keras.utils.set_random_seed(1)
  other = vqvae.VQVAE2(**vqvae.SIZES['small'])
  other(frames)
  tf.train.Checkpoint(model=other).read(path).assert_existing_objects_matched(
  ).expect_partial()
  assert len(other.variables) == 50 == len(model.variables)
  for a, b in zip(model.variables, other.variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
  np.testing.assert_array_equal(other(frames)[0].numpy(), model(frames)[0].numpy())


def test_levels_are_at_a_quarter_and_an_eighth():
  model = vqvae.VQVAE2(**vqvae.SIZES['small'])
  _, _, _, top, bottom = model.encode(tf.zeros([1, 128, 128, 3]))
  assert top.shape == (1, 16, 16) and bottom.shape == (1, 32, 32)
  recon, commitment = model(tf.random.uniform([3, 32, 32, 3], -1, 1))
  assert recon.shape == (3, 32, 32, 3) and commitment.shape == ()
  assert float(tf.reduce_min(recon)) >= -1.0 and float(tf.reduce_max(recon)) <= 1.0


def test_config_round_trip_and_saving(tmp_path):
  model = vqvae.VQVAE2(**vqvae.SIZES['small'], decay=0.95)
  frames = tf.random.uniform([2, 16, 16, 3], -1, 1, seed=1)
  recon, _ = model(frames)
  config = model.get_config()
  assert {k: config[k] for k in vqvae.SIZES['small']} == vqvae.SIZES['small']
  again = vqvae.VQVAE2.from_config(json.loads(json.dumps(config)))
  assert again.get_config() == config
  layer = vqvae.VectorQuantizerEMA(8, 3, decay=0.5, epsilon=0.1, commitment_cost=1.0)
  assert vqvae.VectorQuantizerEMA.from_config(layer.get_config()).get_config() == \
      layer.get_config()
  model.save(tmp_path / 'vqvae.keras')
  loaded = keras.models.load_model(tmp_path / 'vqvae.keras')
  np.testing.assert_allclose(loaded(frames)[0].numpy(), recon.numpy(), atol=1e-6)
