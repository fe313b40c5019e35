import numpy as np
import pytest
import tensorflow as tf

from inrv_tf.model import losses
from inrv_tf.model import metrics


def test_values():
  pred = tf.constant([[[0.5, 0.5, 0.5]], [[1.0, -1.0, 0.0]]])
  target = tf.constant([[[0.0, 0.0, 0.0]], [[1.0, 1.0, 1.0]]])
  np.testing.assert_allclose(losses.l1(pred, target).numpy(), [0.5, 1.0])
  np.testing.assert_allclose(losses.l2(pred, target).numpy(), [0.25, 5 / 3])
  # w = 2 * (0.5 * (gt + 1) + 1): 3 at gt = 0, 4 at gt = 1.
  np.testing.assert_allclose(losses.weighted_l2(pred, target).numpy(),
                             [3 * 0.25 + 1e-5, (0 + 4 * 4 + 4 * 1) / 3 + 1e-5], rtol=1e-6)


def test_weighted_l2_weights_background_and_strokes():
  pred = tf.zeros([1, 2, 1])
  target = tf.constant([[[-1.0], [1.0]]])
  # background (gt=-1): w=2, err 1 -> 2; stroke (gt=1): w=4, err 1 -> 4.
  assert losses.weighted_l2(pred, target).numpy()[0] == pytest.approx(3 + 1e-5)


def test_unknown_loss():
  with pytest.raises(ValueError, match='Unknown loss'):
    losses.get('huber')


def test_psnr_and_ssim():
  x = tf.random.uniform([2, 3, 16, 16, 3], seed=0)
  np.testing.assert_allclose(metrics.psnr(x, x + 0.1, 1.0).numpy(), [20.0, 20.0], rtol=1e-4)
  np.testing.assert_allclose(metrics.ssim(x, x, 1.0).numpy(), [1.0, 1.0], rtol=1e-6)
  assert float(metrics.ssim(x, 1 - x, 1.0)[0]) < 0.1
