"""tf.distribute strategy selection for the training command.

    strategy = make_strategy('auto')   # mirrored over >= 2 local GPUs, else default

`multi_worker` reads the cluster from TF_CONFIG (set it before TensorFlow is
imported; see README, "Training on several devices and machines").
"""

from __future__ import annotations

import json
import os
from typing import Sequence

import tensorflow as tf

STRATEGIES = ('auto', 'default', 'mirrored', 'multi_worker')


def make_strategy(name: str = 'auto', devices: Sequence[str] | None = None
                  ) -> tf.distribute.Strategy:
  """Returns the strategy called `name`.

  Args:
    name: 'auto' (mirrored over all local GPUs when there are two or more,
      else default), 'default' (one device), 'mirrored' (all local GPUs, or
      `devices`), 'multi_worker' (MultiWorkerMirroredStrategy from TF_CONFIG).
    devices: device names for 'mirrored' (or 'auto'), e.g. ['/gpu:0', '/gpu:2'].
  """
  if name not in STRATEGIES:
    raise ValueError(f'Unknown strategy {name!r}; expected one of {STRATEGIES}.')
  devices = list(devices) if devices else None
  if name == 'auto':
    gpus = devices or [d.name for d in tf.config.list_logical_devices('GPU')]
    name = 'mirrored' if len(gpus) >= 2 else 'default'
    if name == 'default' and devices:
      return tf.distribute.OneDeviceStrategy(devices[0])
  if name == 'default':
    return tf.distribute.get_strategy()
  if name == 'mirrored':
    return tf.distribute.MirroredStrategy(devices)
  if 'TF_CONFIG' not in os.environ:
    raise ValueError('--strategy=multi_worker needs the cluster in the TF_CONFIG '
                     'environment variable (see README).')
  return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """Whether this process writes checkpoints, summaries and outputs."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None or not resolver.task_type:
    return True
  if resolver.task_type == 'chief':
    return True
  cluster = json.loads(os.environ.get('TF_CONFIG', '{}')).get('cluster', {})
  return (resolver.task_type == 'worker' and resolver.task_id == 0
          and 'chief' not in cluster)


def worker_id(strategy: tf.distribute.Strategy) -> str:
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None or not resolver.task_type:
    return 'chief'
  return f'{resolver.task_type}{resolver.task_id}'


def onednn_enabled() -> bool:
  """Whether TensorFlow's oneDNN CPU kernels are on in this process.

  They are chosen once, when TensorFlow is imported (TF_ENABLE_ONEDNN_OPTS);
  `import inrv_tf` before TensorFlow turns them on (inrv_tf/__init__.py).
  """
  try:
    from tensorflow.python.util import _pywrap_util_port  # pylint: disable=g-import-not-at-top
  except ImportError:  # A TensorFlow without the probe: say nothing either way.
    return False
  return bool(_pywrap_util_port.IsMklEnabled())


def cpu_model() -> str:
  """The CPU's model name from /proc/cpuinfo ('' where there is none)."""
  for line in _cpuinfo().splitlines():
    if line.startswith('model name'):
      return line.split(':', 1)[1].strip()
  return ''


def cpu_flags() -> set[str]:
  """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
  for line in _cpuinfo().splitlines():
    if line.startswith('flags'):
      return set(line.split(':', 1)[1].split())
  return set()


def _cpuinfo() -> str:
  try:
    with open('/proc/cpuinfo') as f:
      return f.read()
  except OSError:
    return ''


def bfloat16_units() -> str | None:
  """What computes bfloat16 matmuls natively here, or None.

  A GPU of compute capability 8.0 or newer (Ampere and later: bfloat16 tensor
  cores), else a CPU with AMX (amx_bf16) or AVX-512 bfloat16 (avx512_bf16).
  Elsewhere bfloat16 is emulated and slower than float32 (benchmarks/README.md),
  and without AVX-512 it rounds differently (FALLBACK_BFLOAT16).
  """
  return _matmul_units((8, 0), ('amx_bf16', 'avx512_bf16'))


# Why an explicit bfloat16 is a poor choice on a CPU without AVX-512 (and no GPU).
FALLBACK_BFLOAT16 = ('TensorFlow\'s fallback kernel computes bfloat16 matmuls on this CPU '
                     '(no AVX-512): no faster than float32, and it truncates each float32 '
                     'sum to bfloat16 where oneDNN rounds it to nearest: a bias that left '
                     'the paper INR\'s gradients 15 times further from float32\'s '
                     '(benchmarks/README.md, "bfloat16 and quality")')


# Why an explicit float16 is a poor choice without a GPU.
CPU_FLOAT16 = ('float16 matmuls pay on GPUs with tensor cores (Volta and newer); this '
               'CPU computes them no faster than float32 (benchmarks/README.md, '
               '"float16 mixed precision")')


def float16_units() -> str | None:
  """What computes float16 matmuls natively here: a GPU of compute capability 7.0
  or newer (tensor cores), else a CPU with AVX-512 FP16 or AMX FP16; or None."""
  return _matmul_units((7, 0), ('amx_fp16', 'avx512_fp16'))


def _matmul_units(compute_capability: tuple[int, int], flags: tuple[str, ...]) -> str | None:
  """'GPU <name>' for the first GPU of at least this compute capability, else
  'CPU <flag>' for the first of these CPU flags present, else None."""
  for gpu in tf.config.list_physical_devices('GPU'):
    details = tf.config.experimental.get_device_details(gpu)
    if tuple(details.get('compute_capability') or ()) >= compute_capability:
      return f'GPU {details.get("device_name", "")}'
  present = cpu_flags()
  return next((f'CPU {flag}' for flag in flags if flag in present), None)


def resolve_precision(precision: str) -> tuple[str, str]:
  """'auto' -> 'bfloat16' where bfloat16 units exist, else 'float32'; with the reason.

  An explicit 'float32', 'bfloat16' or 'float16' is kept on any hardware; where
  bfloat16 would run on TensorFlow's fallback kernel, or float16 on a CPU without
  float16 units, the reason says what that costs. 'auto' never picks float16:
  training scales its gradients (`model.inr.chunked_inr_grads`), but an activation
  past 65,504 still overflows, where bfloat16 keeps float32's range.
  """
  if precision == 'bfloat16' and not bfloat16_units() and 'avx512f' not in cpu_flags():
    return precision, f'as asked; {FALLBACK_BFLOAT16}'
  if precision == 'float16' and not float16_units():
    return precision, f'as asked; {CPU_FLOAT16}'
  if precision != 'auto':
    return precision, 'as asked'
  units = bfloat16_units()
  if units:
    return 'bfloat16', f'auto: {units}'
  return 'float32', 'auto: no avx512_bf16 or AMX on this CPU, no Ampere or newer GPU'
