"""Helpers shared by the tests: tiny configs and a direct training loop."""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from inrv_tf import config as config_lib


def tiny_model_config(num_videos: int = 2, **changes) -> config_lib.ModelConfig:
  """A model small enough for a unit test step (milliseconds)."""
  base = config_lib.ModelConfig(num_videos=num_videos, latent_dim=8, num_frequencies=2,
                                inr_widths=(16, 16), hyper_width=16, hyper_depth=2)
  return dataclasses.replace(base, **changes)


def small_config(data_dir: str, **sections) -> config_lib.Config:
  """The `small` preset on the test's bouncing-balls data, quiet logs."""
  config = config_lib.small().replace(
      data={'data_dir': data_dir},
      train={'log_every': 10_000, 'checkpoint_every': 10_000, 'summary_videos': 1})
  return config.replace(**sections) if sections else config


def variables_by_path(model) -> dict[str, np.ndarray]:
  return {v.path: np.array(v) for v in model.variables}


def seed_all(seed: int = 0) -> None:
  np.random.seed(seed)
  tf.random.set_seed(seed)


def write_random_lpips(path, seed: int = 0) -> str:
  """An LPIPS-VGG16 .npz of random weights of the real shapes (docs/lpips.md's layout)."""
  from inrv_tf.model import lpips
  rng = np.random.default_rng(seed)
  arrays = {}
  for name, shape in lpips.expected_shapes().items():
    fan_in = int(np.prod(shape[:-1])) if len(shape) == 4 else 1
    scale = np.sqrt(2.0 / fan_in) if name.endswith('kernel') else 0.1
    values = rng.standard_normal(shape) * scale
    arrays[name] = (np.abs(values) if name.startswith('lin') else values).astype(np.float32)
  np.savez(path, **arrays)
  return str(path)


def assert_close_after_adam(a, b, lr: float, rtol: float, atol: float, steps: int = 1,
                            max_flipped: float = 0.01) -> None:
  """Parameters after `steps` Adam steps from one start: equal to rounding, but for a few.

  Adam's first update is lr * g / (|g| + eps), about lr * sign(g): a gradient that
  is zero but for rounding moves its weight by up to lr either way, so two equal
  computations in another order of float operations (chunks, replicas, CPUs)
  may differ there by up to 2 lr per step. At most `max_flipped` of the elements
  may, and none by more; every other element must agree within rtol/atol.
  """
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  assert a.shape == b.shape, (a.shape, b.shape)
  off = ~np.isclose(a, b, rtol=rtol, atol=atol)
  assert off.mean() <= max_flipped, f'{off.sum()} of {off.size} elements differ'
  np.testing.assert_array_less(np.abs(a - b), 2 * lr * steps + atol)
