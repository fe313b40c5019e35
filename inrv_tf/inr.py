"""The INR: a ReLU MLP whose weights are a batch of per-video tensors.

`apply_inr` owns no variables. Every video of a batch has its own weights
(from the hypernetwork, or fitted directly for the Single-INR baseline); they
are applied with `tf.einsum` over a leading video axis, never a Python loop.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class InrSpec:
  """Layer sizes of the INR: in_features -> widths... -> out_features.

  Parameters are ordered [W0, b0, W1, b1, ...] with W_i of shape [in, out].
  """
  in_features: int
  widths: tuple[int, ...]
  out_features: int = 3

  @property
  def layer_sizes(self) -> list[tuple[int, int]]:
    dims = (self.in_features,) + tuple(self.widths) + (self.out_features,)
    return list(zip(dims[:-1], dims[1:]))

  @property
  def param_shapes(self) -> list[tuple[int, ...]]:
    shapes = []
    for fan_in, fan_out in self.layer_sizes:
      shapes += [(fan_in, fan_out), (fan_out,)]
    return shapes

  @property
  def param_names(self) -> list[str]:
    return [f'{kind}{i}' for i in range(len(self.layer_sizes)) for kind in 'wb']

  @property
  def param_sizes(self) -> list[int]:
    return [_prod(shape) for shape in self.param_shapes]

  @property
  def num_params(self) -> int:
    return sum(self.param_sizes)

  @property
  def macs_per_pixel(self) -> int:
    """Multiply-adds of one forward pass for one pixel."""
    return sum(i * o for i, o in self.layer_sizes)

  def split(self, flat: tf.Tensor) -> list[tf.Tensor]:
    """f32[B, num_params] -> [W0 [B, in, out], b0 [B, out], ...]."""
    pieces = tf.split(flat, self.param_sizes, axis=-1)
    return [tf.reshape(p, [-1, *shape]) for p, shape in zip(pieces, self.param_shapes)]

  def flatten(self, params: Sequence[tf.Tensor]) -> tf.Tensor:
    """[W0 [B, in, out], b0 [B, out], ...] -> f32[B, num_params]."""
    batch = tf.shape(params[0])[0]
    return tf.concat([tf.reshape(p, [batch, -1]) for p in params], axis=-1)


def _prod(shape) -> int:
  out = 1
  for s in shape:
    out *= s
  return out


def _per_video_matmul(x, w, shared: bool) -> tf.Tensor:
  """x [P, in] (shared) or [B, P, in] times w [B, in, out] -> [B, P, out].

  tf.einsum in float32. In bfloat16, TensorFlow's CPU einsum kernel is an order
  of magnitude slower than BatchMatMul on the same operands (3.4 against 33
  GFLOP/s at [1, 32768, 256] x [1, 256, 256]; benchmarks/README.md), so the
  same product goes through tf.linalg.matmul, broadcasting a shared input.
  """
  if x.dtype == tf.bfloat16:
    return tf.linalg.matmul(x[None] if shared else x, w)
  return tf.einsum('pi,bio->bpo' if shared else 'bpi,bio->bpo', x, w)


def apply_inr(params: Sequence[tf.Tensor], features: tf.Tensor,
              compute_dtype: tf.DType = tf.float32) -> tf.Tensor:
  """Runs every video's INR on encoded coordinates.

  Args:
    params: [W0, b0, W1, b1, ...], W_i f32[B, in, out], b_i f32[B, out].
    features: encoded coordinates, either f32[P, in] shared by every video (one
      grid for the whole batch: the first layer is 'pi,bio->bpo') or f32[B, P, in].
    compute_dtype: dtype of the matmuls (bfloat16 on AMX / tensor cores); biases,
      activations between layers and the output stay float32.
  Returns:
    f32[B, P, out_features]; for RGB, values meant to lie in [-1, 1] (not clipped).
  """
  num_layers = len(params) // 2
  x = tf.cast(features, compute_dtype)
  shared = features.shape.rank == 2
  for i in range(num_layers):
    w, b = params[2 * i], params[2 * i + 1]
    # [B or -, P, in] x [B, in, out] -> [B, P, out]
    y = _per_video_matmul(x, tf.cast(w, compute_dtype), shared)
    y = tf.cast(y, tf.float32) + b[:, None, :]
    shared = False
    if i < num_layers - 1:
      x = tf.cast(tf.nn.relu(y), compute_dtype)
    else:
      x = y
  return x


def chunked_inr_grads(params, features, target, loss_fn, chunk: int,
                      dtype=tf.float32):
  """Per-video loss and its gradient w.r.t. the INR parameters, chunk by chunk.

  Memory is bounded by the chunk: each chunk's activations are freed before
  the next, and only the (small) per-video parameter gradients accumulate.
  Every loss here is a mean over pixels, so chunk means weighted by their
  share of the pixels add up to the whole video's.

  Args:
    params: [W0 f32[b, in, out], b0 f32[b, out], ...].
    features: f32[P, F]; target: f32[b, P, 3].
    loss_fn: (pred f32[b, n, 3], target f32[b, n, 3]) -> f32[b], a mean over pixels.
  Returns:
    (loss f32[b], mse f32[b], [dloss_sum/dW0, dloss_sum/db0, ...]) where
    loss_sum = sum over videos of the per-video loss.
  """
  num_pixels = tf.shape(features)[0]
  num_chunks = (num_pixels + chunk - 1) // chunk
  batch = tf.shape(target)[0]
  loss = tf.zeros([batch])
  mse = tf.zeros([batch])
  grads = [tf.zeros_like(p) for p in params]
  for i in tf.range(num_chunks):
    start = i * chunk
    stop = tf.minimum(start + chunk, num_pixels)
    share = tf.cast(stop - start, tf.float32) / tf.cast(num_pixels, tf.float32)
    # Inside the loop body the captured params are other tensors than outside:
    # differentiate with respect to copies made here.
    local = [tf.identity(p) for p in params]
    with tf.GradientTape() as tape:
      tape.watch(local)
      pred = apply_inr(local, features[start:stop], dtype)
      chunk_loss = loss_fn(pred, target[:, start:stop]) * share       # [b]
      total = tf.reduce_sum(chunk_loss)
    chunk_grads = tape.gradient(total, local)
    loss += chunk_loss
    mse += tf.reduce_mean(tf.square(pred - target[:, start:stop]), axis=[1, 2]) * share
    grads = [g + c for g, c in zip(grads, chunk_grads)]
  return loss, mse, grads
