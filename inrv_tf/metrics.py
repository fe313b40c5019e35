"""Video quality metrics as small pure functions.

Videos are f32[B, T, H, W, C] (or [T, H, W, C]) on a range given by `max_val`
explicitly: 2.0 for [-1, 1] videos, 1.0 for [0, 1], 255.0 for [0, 255].
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf



def mse(a, b) -> tf.Tensor:
  """Per-video mean squared error, f32[B] (a scalar for a single video)."""
  a = tf.convert_to_tensor(a, tf.float32)
  b = tf.convert_to_tensor(b, tf.float32)
  axes = list(range(-4, 0)) if a.shape.rank >= 4 else None
  return tf.reduce_mean(tf.square(a - b), axis=axes)


def psnr(a, b, max_val: float) -> tf.Tensor:
  """Per-video PSNR in dB: 10 log10(max_val^2 / mse). psnr(x, x + 0.1, 1) = 20."""
  return 10.0 * tf.math.log(max_val ** 2 / mse(a, b)) / tf.math.log(10.0)


def ssim(a, b, max_val: float) -> tf.Tensor:
  """Per-video SSIM: the mean over frames of tf.image.ssim (11 x 11 Gaussian).

  Frames smaller than 11 x 11 are not defined for this SSIM.
  """
  a = tf.convert_to_tensor(a, tf.float32)
  b = tf.convert_to_tensor(b, tf.float32)
  return tf.reduce_mean(tf.image.ssim(a, b, max_val=max_val), axis=-1)
