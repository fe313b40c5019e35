"""NeRF positional encoding of (t, h, w) coordinates.

Features are ordered as the authors' release orders them: the raw coordinates,
then for each octave k = 0..K-1 and each axis j, sin(2^k pi x_j) and
cos(2^k pi x_j). With K = 10 and 3 axes that is 3 + 3 * 2 * 10 = 63 features.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import tensorflow as tf

from inrv_tf.model import grid as grid_lib


def num_features(num_frequencies: int, num_axes: int = 3) -> int:
  return num_axes + num_axes * 2 * num_frequencies


def encode_position(coords: tf.Tensor, num_frequencies: int) -> tf.Tensor:
  """NeRF encoding.

  Args:
    coords: f32[..., A] in [-1, 1].
    num_frequencies: K octaves.
  Returns:
    f32[..., A + 2 * A * K]: [x, sin(pi x_0), cos(pi x_0), sin(pi x_1), ...].
  """
  coords = tf.convert_to_tensor(coords, tf.float32)
  scales = tf.constant(2.0 ** np.arange(num_frequencies), tf.float32)[:, None]  # [K, 1]
  # 2^k x is exact in float32; reducing it mod 2 before multiplying by pi keeps
  # the angle small, so sin/cos stay accurate at k = 9 (plain float32
  # 2^9 pi x is off by ~1e-4 from the float64 value).
  half_turns = tf.math.floormod(coords[..., None, :] * scales + 1.0, 2.0) - 1.0
  angles = half_turns * np.pi                                            # [..., K, A]
  # [..., K, A, 2] (sin, cos) -> [..., K * A * 2] in (k, axis, sin/cos) order.
  pairs = tf.stack([tf.sin(angles), tf.cos(angles)], axis=-1)
  flat = tf.reshape(pairs, tf.concat([tf.shape(coords)[:-1], [-1]], 0))
  return tf.concat([coords, flat], axis=-1)


@functools.lru_cache(maxsize=16)
def encoded_grid(frames: int, height: int, width: int,
                 num_frequencies: int) -> np.ndarray:
  """The encoded grid of one video shape, computed once and shared.

  The same features, bit for bit, as a render computes chunk by chunk
  (`render.render_range`): training and rendering see one function.

  Returns:
    f32[frames * height * width, 3 + 6 * num_frequencies], read-only.
  """
  out = encode_position(grid_lib.make_grid(frames, height, width), num_frequencies).numpy()
  out.setflags(write=False)
  return out


class PositionalEncoding(keras.layers.Layer):
  """Keras form of `encode_position`.

  Args:
    num_frequencies: octaves per axis.
  Call arguments:
    coords: f32[..., A] in [-1, 1].
  Returns:
    f32[..., A + 2 * A * num_frequencies].
  """

  def __init__(self, num_frequencies: int = 10, **kwargs):
    super().__init__(**kwargs)
    self.num_frequencies = num_frequencies

  def call(self, coords):
    return encode_position(coords, self.num_frequencies)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (
        num_features(self.num_frequencies, input_shape[-1]),)

  def get_config(self):
    config = super().get_config()
    config.update(num_frequencies=self.num_frequencies)
    return config
