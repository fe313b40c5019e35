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
