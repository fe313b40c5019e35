"""Helpers shared by the benchmark scripts (no flags here)."""

from __future__ import annotations

import statistics
import time


def median_seconds(run, steps: int, warmup: int = 0) -> float:
  """Median wall time of `run()` over `steps` calls, after `warmup` untimed ones.

  `run` must wait for its result (e.g. end in `.numpy()`).
  """
  for _ in range(warmup):
    run()
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    run()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def relative_error(got, want) -> float:
  """||got - want|| / ||want|| over a tensor or a list of tensors taken as one vector."""
  import tensorflow as tf
  flat = lambda ts: tf.concat([tf.reshape(t, [-1]) for t in tf.nest.flatten(ts)], 0)
  got, want = flat(got), flat(want)
  return float(tf.norm(got - want) / tf.norm(want))


def matmul_ceiling(precision: str, n: int = 2048, reps: int = 10) -> dict:
  """The machine's matmul rate now: a 2048 x 2048 tf.matmul at `precision`.

  Measured in the same process as the figure it sits beside, so that figure
  can be read as a fraction of what the cores gave at that moment.
  """
  import tensorflow as tf
  from inrv_tf.train import distribute
  dtype = tf.as_dtype(precision)
  a = tf.random.normal([n, n], dtype=tf.float32)
  a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)
  mm = tf.function(lambda x, y: tf.reduce_sum(tf.cast(tf.matmul(x, y)[:1, :1], tf.float32)))
  seconds = median_seconds(lambda: mm(a, b).numpy(), reps, warmup=1)
  return {'benchmark': 'matmul_ceiling', 'precision': precision, 'n': n,
          'onednn': distribute.onednn_enabled(),
          'median_s': seconds, 'gflops_per_s': 2 * n ** 3 / seconds / 1e9}


def cpu() -> dict:
  """The CPU a figure was taken on: model name and its bfloat16 units (lscpu's view)."""
  from inrv_tf.train import distribute
  flags = distribute.cpu_flags()
  return {'cpu': distribute.cpu_model(), 'avx512_bf16': 'avx512_bf16' in flags,
          'amx_bf16': 'amx_bf16' in flags, 'avx2': 'avx2' in flags}


# What a bfloat16 matmul rounds to bfloat16 (8-bit mantissa, to nearest even), in the
# order a layer meets them: its inputs (activations and weights) and its output in the
# forward pass; the gradient at its output, the one it passes down and its weight
# gradient in the backward pass.
BF16_ROUNDINGS = ('in', 'out', 'dy', 'dx', 'dw')


def emulated_dense(roundings=BF16_ROUNDINGS):
  """A stand-in for `inr._dense` whose bfloat16 layers are float32 matmuls on operands
  rounded as bfloat16 rounds them, only the `roundings` named (BF16_ROUNDINGS).

  With every rounding it computes what oneDNN's bfloat16 kernels compute (bfloat16
  operands, float32 sums, each output rounded to nearest even), on any CPU and at
  float32's speed: TensorFlow's fallback kernel on CPUs without AVX-512 truncates its
  outputs instead (benchmarks/README.md, "bfloat16 and quality"). Float32 layers stay
  plain float32.
  """
  import tensorflow as tf
  roundings = frozenset(roundings)
  unknown = roundings - set(BF16_ROUNDINGS)
  if unknown:
    raise ValueError(f'unknown roundings {sorted(unknown)}; known: {BF16_ROUNDINGS}')

  def rnd(v, name):
    return tf.cast(tf.cast(v, tf.bfloat16), tf.float32) if name in roundings else v

  @tf.custom_gradient
  def matmul(x, w):
    x, w = rnd(x, 'in'), rnd(w, 'in')
    y = rnd(tf.matmul(x, w), 'out')

    def grad(dy):
      dy = rnd(dy, 'dy')
      return (rnd(tf.matmul(dy, w, transpose_b=True), 'dx'),
              rnd(tf.matmul(x, dy, transpose_a=True), 'dw'))
    return y, grad

  def dense(x, w, b, dtype):
    if dtype == tf.float32:
      return tf.nn.bias_add(tf.matmul(x, w), b)
    return tf.nn.bias_add(matmul(x, w), b)
  return dense
