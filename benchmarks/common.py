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


def matmul_ceiling(precision: str, n: int = 2048, reps: int = 10) -> dict:
  """The machine's matmul rate now: a 2048 x 2048 tf.matmul at `precision`.

  Measured in the same process as the figure it sits beside, so that figure
  can be read as a fraction of what the cores gave at that moment.
  """
  import tensorflow as tf
  from inrv_tf.train import distribute
  dtype = tf.bfloat16 if precision == 'bfloat16' else tf.float32
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
