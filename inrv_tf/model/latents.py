"""The auto-decoded latent table: one learned code per training video."""

from __future__ import annotations

import keras
import tensorflow as tf


class LatentTable(keras.layers.Layer):
  """Codes c, one row per video id, normal init with a small std.

  The table is sized for the whole dataset, so a video id means the same row
  in every progressive stage.

  Args:
    num_videos: rows N.
    dim: code size.
    init_std: std of the normal init (0.01 in the release).
    seed: initializer seed.
  Call arguments:
    video_id: int[B] in [0, N).
  Returns:
    f32[B, dim].
  """

  def __init__(self, num_videos: int, dim: int, init_std: float = 0.01,
               seed: int | None = None, **kwargs):
    super().__init__(**kwargs)
    self.num_videos = num_videos
    self.dim = dim
    self.init_std = init_std
    self.seed = seed

  def build(self, input_shape=None):
    self.codes = self.add_weight(
        name='codes', shape=(self.num_videos, self.dim),
        initializer=keras.initializers.RandomNormal(stddev=self.init_std,
                                                    seed=self.seed))
    super().build(input_shape)

  def call(self, video_id):
    return tf.gather(self.codes, tf.cast(video_id, tf.int32))

  def get_config(self):
    config = super().get_config()
    config.update(num_videos=self.num_videos, dim=self.dim,
                  init_std=self.init_std, seed=self.seed)
    return config
