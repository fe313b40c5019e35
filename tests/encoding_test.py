import json

import numpy as np
import tensorflow as tf

from inrv_tf.model import encoding


def test_feature_count_is_63_for_paper():
  assert encoding.num_features(10) == 63
  assert encoding.encode_position(tf.zeros([4, 3]), 10).shape == (4, 63)


def test_values_at_known_points():
  # x = (0, 0.5, -1): raw coords, then (k, axis) pairs of sin, cos.
  out = encoding.encode_position(tf.constant([[0.0, 0.5, -1.0]]), 2).numpy()[0]
  expected = [
      0.0, 0.5, -1.0,
      0.0, 1.0,   1.0, 0.0,   0.0, -1.0,    # k=0: sin/cos(pi x)
      0.0, 1.0,   0.0, -1.0,  0.0, 1.0,     # k=1: sin/cos(2 pi x)
  ]
  np.testing.assert_allclose(out, expected, atol=1e-6)


def _numpy_encoding(coords, num_frequencies):
  """A plain float64 reference: [x, sin(2^k pi x_j), cos(2^k pi x_j) for k, j]."""
  coords = np.asarray(coords, np.float64)
  angles = coords[..., None, :] * (2.0 ** np.arange(num_frequencies) * np.pi)[:, None]
  pairs = np.stack([np.sin(angles), np.cos(angles)], axis=-1)
  return np.concatenate([coords, pairs.reshape(coords.shape[:-1] + (-1,))], axis=-1)


def test_matches_float64_reference_and_cache():
  coords = np.random.default_rng(0).uniform(-1, 1, size=(50, 3)).astype(np.float32)
  np.testing.assert_allclose(encoding.encode_position(coords, 10).numpy(),
                             _numpy_encoding(coords, 10), atol=2e-5)
  a = encoding.encoded_grid(2, 3, 4, 10)
  assert a is encoding.encoded_grid(2, 3, 4, 10)   # computed once per shape
  assert a.shape == (24, 63) and not a.flags.writeable


def test_layer_round_trip():
  layer = encoding.PositionalEncoding(num_frequencies=4)
  config = json.loads(json.dumps(layer.get_config()))
  clone = encoding.PositionalEncoding.from_config(config)
  x = tf.random.uniform([5, 3], -1, 1)
  np.testing.assert_array_equal(layer(x).numpy(), clone(x).numpy())
  assert layer.compute_output_shape((5, 3)) == (5, 27)


def test_same_in_tf_data_and_eager():
  x = tf.random.uniform([7, 3], -1, 1, seed=1)
  eager = encoding.encode_position(x, 3).numpy()
  ds = tf.data.Dataset.from_tensors(x).map(lambda c: encoding.encode_position(c, 3))
  np.testing.assert_allclose(next(iter(ds)).numpy(), eager, atol=1e-6)
