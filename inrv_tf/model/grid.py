"""The (t, h, w) coordinate grid a video is rendered on."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def axis_coords(n: int) -> tf.Tensor:
  """`n` points linearly spaced over [-1, 1], endpoints included.

  A single sample maps to -1 (INR-V's `max(n - 1, 1)` guard), so a one-frame
  video sits where the first frame of a longer one does.

  Args:
    n: int or scalar int tensor, number of samples (>= 1).
  Returns:
    f32[n] in [-1, 1].
  """
  n = tf.convert_to_tensor(n, tf.int32)
  steps = tf.cast(tf.range(n), tf.float32)
  denom = tf.cast(tf.maximum(n - 1, 1), tf.float32)
  return steps / denom * 2.0 - 1.0


def make_grid(frames, height, width) -> tf.Tensor:
  """Coordinates of every pixel of a frames x height x width video.

  Args:
    frames, height, width: ints or scalar int tensors (>= 1).
  Returns:
    f32[frames * height * width, 3] in [-1, 1], rows (t, h, w) in row-major
    (t slowest, w fastest) order, so `reshape(rgb, [T, H, W, 3])` restores a video.
  """
  t, h, w = tf.meshgrid(axis_coords(frames), axis_coords(height),
                        axis_coords(width), indexing='ij')
  # [T, H, W] x 3 -> [T*H*W, 3]
  return tf.reshape(tf.stack([t, h, w], axis=-1), [-1, 3])


def make_grid_np(frames: int, height: int, width: int) -> np.ndarray:
  """NumPy twin of `make_grid` (used where no TF op should run, e.g. caches)."""
  axes = [np.arange(n, dtype=np.float64) / max(n - 1, 1) * 2.0 - 1.0
          for n in (frames, height, width)]
  t, h, w = np.meshgrid(*axes, indexing='ij')
  return np.stack([t, h, w], axis=-1).reshape(-1, 3).astype(np.float32)
