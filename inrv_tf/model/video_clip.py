"""Video-CLIP (paper Section 3.2): per-frame CLIP embeddings -> video code g.

Frame embeddings come in precomputed (CLIP is frozen, so they are computed once
and cached; see the CLIP issue). This module holds the trained part: a stacked
bidirectional GRU over time whose last layer's outputs are averaged to g, and
phi, the network that merges g with the auto-decoded code c into m.
"""

from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf


class VideoClipEncoder(keras.layers.Layer):
  """[B, T, clip_dim] frame embeddings -> g f32[B, 2 * units].

  Args:
    units: GRU units each way (256: g has 512 features).
    num_layers: stacked bidirectional GRU layers (3).
    dropout: dropout between stacked layers (0.1, as torch.nn.GRU applies it).
  """

  def __init__(self, units: int = 256, num_layers: int = 3, dropout: float = 0.1,
               **kwargs):
    super().__init__(**kwargs)
    self.units = units
    self.num_layers = num_layers
    self.dropout = dropout
    # Sublayers are attributes (tf.train.Checkpoint follows attributes, not lists).
    for i in range(num_layers):
      setattr(self, f'bigru{i}', keras.layers.Bidirectional(
          keras.layers.GRU(units, return_sequences=True), name=f'bigru{i}'))
    self.drop = keras.layers.Dropout(dropout)

  @property
  def grus(self) -> list:
    return [getattr(self, f'bigru{i}') for i in range(self.num_layers)]

  def build(self, input_shape):
    shape = tuple(input_shape)
    for i, gru in enumerate(self.grus):
      gru.build(shape)
      shape = shape[:-1] + (2 * self.units,)
    super().build(input_shape)

  def call(self, frame_embeddings, training=False):
    x = tf.convert_to_tensor(frame_embeddings, tf.float32)
    for i, gru in enumerate(self.grus):
      if i > 0:
        x = self.drop(x, training=training)
      x = gru(x, training=training)         # [B, T, 2 * units]
    return tf.reduce_mean(x, axis=1)        # [B, 2 * units]

  def get_config(self):
    config = super().get_config()
    config.update(units=self.units, num_layers=self.num_layers, dropout=self.dropout)
    return config


class MergeNetwork(keras.layers.Layer):
  """phi: concat(g, c) -> hidden ReLU layers -> m f32[B, latent_dim]."""

  def __init__(self, latent_dim: int = 128, widths: Sequence[int] = (512,), **kwargs):
    super().__init__(**kwargs)
    self.latent_dim = latent_dim
    self.widths = tuple(widths)
    for i, w in enumerate(self.widths):
      setattr(self, f'hidden{i}', keras.layers.Dense(w, activation='relu', name=f'hidden{i}'))
    self.out = keras.layers.Dense(latent_dim, name='out')

  @property
  def dense(self) -> list:
    return [getattr(self, f'hidden{i}') for i in range(len(self.widths))]

  def build(self, input_shape):
    shape = tuple(input_shape)
    for layer in self.dense + [self.out]:
      layer.build(shape)
      shape = shape[:-1] + (layer.units,)
    super().build(input_shape)

  def call(self, g, c):
    x = tf.concat([g, c], axis=-1)
    for layer in self.dense:
      x = layer(x)
    return self.out(x)

  def get_config(self):
    config = super().get_config()
    config.update(latent_dim=self.latent_dim, widths=list(self.widths))
    return config
