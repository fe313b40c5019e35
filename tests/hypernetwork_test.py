import json
import math

import numpy as np
import pytest
import tensorflow as tf

from inrv_tf.model import hypernetwork
from inrv_tf.model import inr

SPEC = inr.InrSpec(27, (64, 64), 3)


@pytest.fixture
def layer():
  layer = hypernetwork.HyperNetwork(SPEC.param_shapes, latent_dim=16, width=64, depth=3,
                                    seed=0)
  layer.build((None, 16))
  return layer


def test_output_shapes(layer):
  out = layer(tf.random.normal([5, 16]))
  assert [tuple(o.shape) for o in out] == [(5, *s) for s in SPEC.param_shapes]
  assert layer.heads == 6


def test_initial_spread_matches_he_over_ten(layer):
  """Each head's output variance is E|h|^2 * 2/width * 0.1^2 + bias variance."""
  m = tf.random.normal([64, 16], stddev=0.01, seed=1)    # codes as initialised
  h = layer.hidden(m).numpy()                              # [heads, B, width]
  outputs = layer(m)
  for i, out in enumerate(outputs):
    if np.prod(SPEC.param_shapes[i]) < 1000:
      continue   # biases: too few samples of the shared bias init for a variance
    expected = (np.mean(np.sum(h[i] ** 2, -1)) * 2 / 64 * 0.1 ** 2 + (1 / 64) / 3)
    got = float(np.var(out.numpy()))
    assert got == pytest.approx(expected, rel=0.15), (i, got, expected)


def test_hidden_kernels_he_normal(layer):
  k = layer.hidden_kernels[1].numpy()
  assert np.std(k) == pytest.approx(math.sqrt(2 / 64), rel=0.05)
  bound = 1 / math.sqrt(16)
  b = layer.hidden_biases[0].numpy()
  assert b.min() >= -bound and b.max() <= bound


def test_config_round_trip_and_same_outputs(layer):
  config = json.loads(json.dumps(layer.get_config()))
  clone = hypernetwork.HyperNetwork.from_config(config)
  clone.build((None, 16))
  clone.set_weights(layer.get_weights())
  m = tf.random.normal([2, 16])
  for a, b in zip(layer(m), clone(m)):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_gradients_reach_every_head(layer):
  m = tf.random.normal([3, 16])
  with tf.GradientTape() as tape:
    loss = sum(tf.reduce_sum(tf.square(o)) for o in layer(m))
  grads = tape.gradient(loss, layer.trainable_variables)
  assert len(grads) == 2 * 3 + 2 * 6
  for v, g in zip(layer.trainable_variables, grads):
    assert g is not None and float(tf.reduce_max(tf.abs(g))) > 0, v.path
  assert all(float(tf.reduce_min(tf.reduce_max(tf.abs(g), axis=[1, 2]))) > 0
             for g in grads[:6:2])  # every head's slice of the stacked hidden kernels
