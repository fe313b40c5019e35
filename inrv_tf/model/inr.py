"""The INR: a ReLU MLP whose weights are a batch of per-video tensors.

`apply_inr` owns no variables. Every video of a batch has its own weights
(from the hypernetwork, or fitted directly for the Single-INR baseline). Two
layouts compute the same function: 2-D matmuls per video (a static batch,
unrolled) and `tf.einsum` over a leading video axis (any batch).
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


# Up to this many videos (a static batch), `apply_inr` uses the per-video layout.
MAX_UNROLLED_VIDEOS = 8

LAYOUTS = ('auto', 'per_video', 'einsum')


def layer_dtypes(num_layers: int, compute_dtype: tf.DType) -> list[tf.DType]:
  """The matmul dtype of each layer: compute_dtype, but float32 first and last.

  The first layer reads the positional encoding, whose high octaves need more
  than bfloat16's 8 bits of mantissa to tell neighbouring pixels apart, and the
  last writes the colours; together they are 8% of the INR's multiply-adds.
  """
  dtypes = [compute_dtype] * num_layers
  dtypes[0] = dtypes[-1] = tf.float32
  return dtypes


def _dense(x, w, b, dtype) -> tf.Tensor:
  """x [n, in] @ w [in, out] + b [out] -> f32[n, out], the matmul in dtype."""
  y = tf.matmul(tf.cast(x, dtype), tf.cast(w, dtype))
  return tf.nn.bias_add(tf.cast(y, tf.float32), b)


def _apply_per_video(params, features, compute_dtype) -> tf.Tensor:
  """The 'per_video' layout: every video's layers as 2-D tf.matmul + bias_add.

  On a shared grid the first layer is one wide matmul for the whole batch,
  [P, in] x [in, B * out] (every video's W0 side by side); after it each video
  runs its own chain of 2-D matmuls, which grappler fuses with their BiasAdd
  into one oneDNN kernel. Unrolled over the (static, small) batch.
  """
  num_layers = len(params) // 2
  dtypes = layer_dtypes(num_layers, compute_dtype)
  batch = params[0].shape[0]
  if features.shape.rank == 2:
    w0 = tf.concat(tf.unstack(params[0]), axis=1)                      # [in, B*out]
    first = tf.split(_dense(features, w0, tf.reshape(params[1], [-1]), dtypes[0]),
                     batch, axis=1)
  else:
    first = [_dense(features[v], params[0][v], params[1][v], dtypes[0])
             for v in range(batch)]
  outputs = []
  for v in range(batch):
    y = first[v]
    for i in range(1, num_layers):
      y = _dense(tf.nn.relu(y), params[2 * i][v], params[2 * i + 1][v], dtypes[i])
    outputs.append(y)
  return tf.stack(outputs)


def _apply_einsum(params, features, compute_dtype) -> tf.Tensor:
  """The 'einsum' layout: one batched product per layer over a leading video axis.

  tf.einsum in float32. In bfloat16, TensorFlow's CPU einsum kernel is an order
  of magnitude slower than BatchMatMul on the same operands (benchmarks/README.md),
  so the same product goes through tf.linalg.matmul, broadcasting a shared input
  (and so does float16).
  """
  num_layers = len(params) // 2
  x = features
  shared = features.shape.rank == 2
  for i, dtype in enumerate(layer_dtypes(num_layers, compute_dtype)):
    w = tf.cast(params[2 * i], dtype)
    x = tf.cast(x, dtype)
    if dtype != tf.float32:
      y = tf.linalg.matmul(x[None] if shared else x, w)
    else:
      y = tf.einsum('pi,bio->bpo' if shared else 'bpi,bio->bpo', x, w)
    y = tf.cast(y, tf.float32) + params[2 * i + 1][:, None, :]
    shared = False
    x = tf.nn.relu(y) if i < num_layers - 1 else y
  return x


def apply_inr(params: Sequence[tf.Tensor], features: tf.Tensor,
              compute_dtype: tf.DType = tf.float32, layout: str = 'auto') -> tf.Tensor:
  """Runs every video's INR on encoded coordinates.

  Args:
    params: [W0, b0, W1, b1, ...], W_i f32[B, in, out], b_i f32[B, out].
    features: encoded coordinates, either f32[P, in] shared by every video (one
      grid for the whole batch) or f32[B, P, in].
    compute_dtype: dtype of the hidden layers' matmuls (bfloat16 on AMX / tensor
      cores, float16 on tensor cores); the first and last layers, biases,
      activations between layers and the output stay float32 (`layer_dtypes`).
    layout: 'per_video' (2-D matmuls, unrolled over a static batch), 'einsum'
      (batched products over a leading video axis) or 'auto', which picks what
      measured faster (benchmarks/inr_layouts.py; figures in benchmarks/README.md):
      per_video for one video and for bfloat16 or float16 on a static batch of up
      to MAX_UNROLLED_VIDEOS, einsum otherwise. Both compute the same function.
  Returns:
    f32[B, P, out_features]; for RGB, values meant to lie in [-1, 1] (not clipped).
  """
  if layout not in LAYOUTS:
    raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}.')
  batch = params[0].shape[0]
  if layout == 'auto':
    static = batch is not None and batch <= MAX_UNROLLED_VIDEOS
    layout = 'per_video' if static and (batch == 1 or compute_dtype != tf.float32) \
        else 'einsum'
  if layout == 'per_video':
    if batch is None:
      raise ValueError('The per_video layout needs a static number of videos.')
    return _apply_per_video(params, features, compute_dtype)
  return _apply_einsum(params, features, compute_dtype)


def apply_inr_chunked(params, features, chunk: int, dtype=tf.float32,
                      layout: str = 'auto') -> tf.Tensor:
  """`apply_inr` over `chunk` pixels at a time: f32[b, P, out] (graph-safe, no gradient kept)."""
  num_pixels = tf.shape(features)[0]
  num_chunks = (num_pixels + chunk - 1) // chunk
  out = tf.TensorArray(tf.float32, size=num_chunks, infer_shape=False,
                       element_shape=tf.TensorShape([None, None, params[-1].shape[-1]]))
  for i in tf.range(num_chunks):
    rgb = apply_inr(params, features[i * chunk:tf.minimum((i + 1) * chunk, num_pixels)],
                    dtype, layout)
    out = out.write(i, tf.transpose(rgb, [1, 0, 2]))              # [n, b, out]
  return tf.stop_gradient(tf.transpose(out.concat(), [1, 0, 2]))  # [b, P, out]


# float16 (5 exponent bits) keeps numbers from 6e-8 (subnormal; 6e-5 at full
# precision) to 65,504. A mean loss over P pixels gives each output about 1 / (3 P)
# of gradient, which the hidden layers' backward would carry in float16's
# subnormals, while a weight gradient sums n pixels' products and can overflow.
# So a float16 chunk backpropagates its output gradient times a power of two that
# brings each video's largest value to 2^k, k = min(0, FLOAT16_GRAD_SUM_EXP - log2 n).
FLOAT16_GRAD_SUM_EXP = 11


def float16_grad_scale(pred_grad: tf.Tensor) -> tf.Tensor:
  """f32[b, n, C] output gradient -> f32[b], per video a power of two (exact to undo).

  It brings the video's largest |gradient| into [2^k, 2^(k+1)) with
  k = min(0, FLOAT16_GRAD_SUM_EXP - ceil(log2 n)); 1 where the gradient is all
  zero or not finite (a non-finite gradient then stays so, and training stops).
  """
  peak = tf.reduce_max(tf.abs(pred_grad), axis=[1, 2])                     # [b]
  n = tf.cast(tf.shape(pred_grad)[1], tf.float32)
  target = tf.minimum(0.0, FLOAT16_GRAD_SUM_EXP - tf.math.ceil(_log2(n)))
  usable = tf.math.is_finite(peak) & (peak > 0)
  exponent = tf.math.floor(_log2(tf.where(usable, peak, 1.0)))
  shift = tf.where(usable, tf.clip_by_value(target - exponent, -126.0, 127.0), 0.0)
  # 2^shift built from its exponent bits: exactly a power of two on every device.
  return tf.bitcast((tf.cast(shift, tf.int32) + 127) * (1 << 23), tf.float32)


def _log2(x: tf.Tensor) -> tf.Tensor:
  return tf.math.log(x) / tf.math.log(2.0)


def chunked_inr_grads(params, features, target, loss_fn, chunk: int,
                      dtype=tf.float32, layout: str = 'auto', output_grads=None):
  """Per-video loss and its gradient w.r.t. the INR parameters, chunk by chunk.

  Memory is bounded by the chunk: each chunk's activations are freed before
  the next, and only the (small) per-video parameter gradients accumulate.
  Every loss here is a mean over pixels, so chunk means weighted by their
  share of the pixels add up to the whole video's.

  Args:
    params: [W0 f32[b, in, out], b0 f32[b, out], ...].
    features: f32[P, F]; target: f32[b, P, 3].
    loss_fn: (pred f32[b, n, 3], target f32[b, n, 3]) -> f32[b], a mean over pixels.
    dtype, layout: as `apply_inr`'s compute_dtype and layout. In float16 each
      chunk's output gradient is scaled by `float16_grad_scale` on its way through
      the INR and the parameter gradients unscaled in float32.
    output_grads: optional f32[b, P, 3], the gradient of a further loss term with
      respect to the INR's output (e.g. LPIPS of the whole frames); it is pushed
      through the INR chunk by chunk and added to the parameter gradients.
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
      pred = apply_inr(local, features[start:stop], dtype, layout)
    with tf.GradientTape() as loss_tape:
      loss_tape.watch(pred)
      chunk_loss = loss_fn(pred, target[:, start:stop]) * share       # [b]
      total = tf.reduce_sum(chunk_loss)
      if output_grads is not None:   # d/dparams of sum(pred * g) is J^T g.
        total += tf.reduce_sum(pred * tf.stop_gradient(output_grads[:, start:stop]))
    pred_grad = loss_tape.gradient(total, pred)                       # f32[b, n, 3]
    if dtype == tf.float16:
      scale = float16_grad_scale(pred_grad)                            # [b]
      chunk_grads = tape.gradient(pred, local,
                                  output_gradients=pred_grad * scale[:, None, None])
      chunk_grads = [g / tf.reshape(scale, [-1] + [1] * (g.shape.rank - 1))
                     for g in chunk_grads]
    else:
      chunk_grads = tape.gradient(pred, local, output_gradients=pred_grad)
    loss += chunk_loss
    mse += tf.reduce_mean(tf.square(pred - target[:, start:stop]), axis=[1, 2]) * share
    grads = [g + c for g, c in zip(grads, chunk_grads)]
  return loss, mse, grads
