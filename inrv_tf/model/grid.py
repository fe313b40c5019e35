"""The (t, h, w) coordinate grid a video is rendered on.

Every axis is linearly spaced over [-1, 1] with both ends included; a single
sample maps to -1 (INR-V's `max(n - 1, 1)` guard), so a one-frame video sits
where the first frame of a longer one does. Pixels are numbered row-major
(t slowest, w fastest), so `reshape(rgb, [T, H, W, 3])` restores a video.
"""

from __future__ import annotations

import tensorflow as tf


def axis_coords(n) -> tf.Tensor:
  """`n` points linearly spaced over [-1, 1], endpoints included.

  Args:
    n: int or scalar int tensor, number of samples (>= 1).
  Returns:
    f32[n] in [-1, 1].
  """
  return coords_of(tf.range(n), n)


def coords_of(index, n) -> tf.Tensor:
  """The coordinate of positions `index` on an axis of `n` samples: f32, in [-1, 1]."""
  n = tf.convert_to_tensor(n, tf.int32)
  denom = tf.cast(tf.maximum(n - 1, 1), tf.float32)
  return tf.cast(index, tf.float32) / denom * 2.0 - 1.0


def grid_from_index(index, frames, height, width) -> tf.Tensor:
  """Coordinates of flat pixel indices of a frames x height x width video.

  Graph-safe: the sizes may be scalar tensors, so a render can compute any
  chunk's coordinates on the fly.

  Args:
    index: int32[n] in [0, frames * height * width).
  Returns:
    f32[n, 3] in [-1, 1], rows (t, h, w).
  """
  hw = height * width
  return tf.stack([coords_of(index // hw, frames),
                   coords_of((index // width) % height, height),
                   coords_of(index % width, width)], axis=-1)


def make_grid(frames, height, width) -> tf.Tensor:
  """Coordinates of every pixel of a frames x height x width video.

  Args:
    frames, height, width: ints or scalar int tensors (>= 1).
  Returns:
    f32[frames * height * width, 3] in [-1, 1], rows (t, h, w) in row-major order.
  """
  return grid_from_index(tf.range(frames * height * width), frames, height, width)
