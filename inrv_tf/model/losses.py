"""Reconstruction losses. Pure functions: per-video values f32[B].

Predictions and targets are RGB in [-1, 1], shaped [B, P, C] (or any [B, ...]).
"""

from __future__ import annotations

import tensorflow as tf


def _per_video_mean(x):
  return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=-1)


def l1(pred, target):
  """Mean absolute error per video (the release's default)."""
  return _per_video_mean(tf.abs(pred - target))


def l2(pred, target):
  """Mean squared error per video."""
  return _per_video_mean(tf.square(pred - target))


def weighted_l2(pred, target):
  """The release's Moving-MNIST loss: bright (digit) pixels weigh more.

  w = 2 * (0.5 * (target + 1) + 1), so w is 2 on the black background and 4 on
  white strokes; loss = mean(w * (pred - target)^2 + 1e-5).
  """
  w = 2.0 * (0.5 * (target + 1.0) + 1.0)
  return _per_video_mean(w * tf.square(pred - target) + 1e-5)


_LOSSES = {'l1': l1, 'l2': l2, 'weighted_l2': weighted_l2}


def get(name: str):
  """Returns the loss function called `name` ('l1', 'l2', 'weighted_l2')."""
  try:
    return _LOSSES[name]
  except KeyError:
    raise ValueError(f'Unknown loss {name!r}; expected one of {sorted(_LOSSES)}.') from None
