"""The hypernetwork: latent m -> every parameter tensor of one INR per video.

One MLP head per INR parameter tensor (10 heads for the paper's 5-layer INR),
as in the authors' release: latent_dim -> width, then depth - 1 layers of
width -> width with ReLU, then a linear layer to that tensor's size.

The heads' hidden layers all have the same shape, so they are stored stacked,
[heads, in, out], and run as one einsum per depth instead of ten matmuls; only
the last layer (a different size per head) runs head by head.

Initialisation (DESIGN.md): hidden weights He-normal (fan_in, ReLU); the last
layer of each head He-normal times `last_scale` (0.1); biases uniform in
+-1/sqrt(fan_in) (PyTorch's nn.Linear default, which the release keeps).
"""

from __future__ import annotations

import math
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf


def _uniform_bias(fan_in: int, seed: int | None):
  bound = 1.0 / math.sqrt(fan_in)
  return keras.initializers.RandomUniform(-bound, bound, seed=seed)


class HyperNetwork(keras.layers.Layer):
  """Maps latent codes to per-video INR parameters.

  Args:
    param_shapes: shapes of the INR's parameter tensors, e.g. [(63, 256), (256,), ...].
    latent_dim: size of the input code m.
    width: hidden width of every head.
    depth: hidden layers per head (>= 1).
    last_scale: multiplier of the He-normal init of each head's last layer.
    seed: int seed of the initializers (None: Keras's global seed).
  Call arguments:
    m: f32[B, latent_dim].
  Returns:
    list of f32[B, *shape], one per entry of param_shapes.
  """

  def __init__(self, param_shapes: Sequence[Sequence[int]], latent_dim: int = 128,
               width: int = 256, depth: int = 4, last_scale: float = 0.1,
               seed: int | None = None, **kwargs):
    super().__init__(**kwargs)
    if depth < 1:
      raise ValueError(f'depth must be >= 1, got {depth}.')
    self.param_shapes = [tuple(int(d) for d in s) for s in param_shapes]
    self.latent_dim = latent_dim
    self.width = width
    self.depth = depth
    self.last_scale = last_scale
    self.seed = seed
    self.heads = len(self.param_shapes)

  def _seed(self, offset: int):
    return None if self.seed is None else self.seed * 1000 + offset

  def build(self, input_shape=None):
    # Variables are attributes, not list items: tf.train.Checkpoint follows
    # attributes of a Keras 3 layer, not Python lists of variables.
    he = lambda fan_in, k: keras.initializers.RandomNormal(
        stddev=math.sqrt(2.0 / fan_in), seed=self._seed(k))
    fan_in = self.latent_dim
    for i in range(self.depth):
      setattr(self, f'hidden{i}_kernel', self.add_weight(
          name=f'hidden{i}_kernel', shape=(self.heads, fan_in, self.width),
          initializer=he(fan_in, i)))
      setattr(self, f'hidden{i}_bias', self.add_weight(
          name=f'hidden{i}_bias', shape=(self.heads, self.width),
          initializer=_uniform_bias(fan_in, self._seed(50 + i))))
      fan_in = self.width
    for h, shape in enumerate(self.param_shapes):
      size = int(np.prod(shape))
      setattr(self, f'head{h}_out_kernel', self.add_weight(
          name=f'head{h}_out_kernel', shape=(self.width, size),
          initializer=_ScaledNormal(math.sqrt(2.0 / self.width) * self.last_scale,
                                    seed=self._seed(100 + h))))
      setattr(self, f'head{h}_out_bias', self.add_weight(
          name=f'head{h}_out_bias', shape=(size,),
          initializer=_uniform_bias(self.width, self._seed(500 + h))))
    super().build(input_shape)

  @property
  def hidden_kernels(self) -> list:
    return [getattr(self, f'hidden{i}_kernel') for i in range(self.depth)]

  @property
  def hidden_biases(self) -> list:
    return [getattr(self, f'hidden{i}_bias') for i in range(self.depth)]

  @property
  def out_kernels(self) -> list:
    return [getattr(self, f'head{h}_out_kernel') for h in range(self.heads)]

  @property
  def out_biases(self) -> list:
    return [getattr(self, f'head{h}_out_bias') for h in range(self.heads)]

  def hidden(self, m):
    """f32[B, latent_dim] -> f32[heads, B, width], the last hidden activations."""
    x = tf.tile(tf.convert_to_tensor(m)[None], [self.heads, 1, 1])  # [heads, B, D]
    for kernel, bias in zip(self.hidden_kernels, self.hidden_biases):
      x = tf.nn.relu(tf.einsum('hbi,hio->hbo', x, kernel) + bias[:, None, :])
    return x

  def call(self, m):
    h = self.hidden(m)
    outputs = []
    for i, shape in enumerate(self.param_shapes):
      flat = tf.matmul(h[i], self.out_kernels[i]) + self.out_biases[i]  # [B, size]
      outputs.append(tf.reshape(flat, [-1, *shape]))                   # [B, *shape]
    return outputs

  def get_config(self):
    config = super().get_config()
    config.update(param_shapes=[list(s) for s in self.param_shapes],
                  latent_dim=self.latent_dim, width=self.width, depth=self.depth,
                  last_scale=self.last_scale, seed=self.seed)
    return config


class _ScaledNormal(keras.initializers.Initializer):
  """Normal(0, stddev): He-normal already scaled by `last_scale`."""

  def __init__(self, stddev: float, seed=None):
    self.stddev = stddev
    self.seed = seed

  def __call__(self, shape, dtype=None):
    return keras.initializers.RandomNormal(stddev=self.stddev, seed=self.seed)(
        shape, dtype=dtype)

  def get_config(self):
    return {'stddev': self.stddev, 'seed': self.seed}
