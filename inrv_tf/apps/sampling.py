"""Points of the learned video space: random codes, slerp and interpolation paths.

    codes = learned_codes(model)                          # f32[N, D]: the training videos' m
    z = sample_codes(codes, count=8, seed=0)               # f32[8, D], the official scheme
    z = sample_codes(codes, count=8, seed=0, mode='gaussian')
    path = interpolation_codes(codes[0], codes[1], steps=8)   # f32[8, D]
    videos = render.render_codes(model, z, frames, height, width)

Everything here is a pure function of (codes, count, seed) returning codes;
rendering them is `render`'s job. `slerp_sample_tensor` and
`interpolation_tensor` are graph-safe: the exported SavedModel's `sample` and
`interpolate` signatures run them, so a seed names the same videos in the
library and behind a server.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from inrv_tf import config as config_lib

MODES = config_lib.SAMPLING_MODES


class SamplingError(ValueError):
  """Codes, a count or a mode that sampling cannot use."""


def learned_codes(model) -> np.ndarray:
  """The m of every training video, f32[num_videos, latent_dim].

  Without Video-CLIP m is the auto-decoded code c, i.e. the latent table; with
  it, the m table training wrote (see `InrvModel.training_latents`).

  Raises:
    SamplingError: a Video-CLIP model loaded without its m table.
  """
  try:
    return model.training_latents()
  except ValueError as e:
    raise SamplingError(str(e)) from e


def check_codes(codes, name: str = 'codes') -> np.ndarray:
  """Returns codes as f32[N >= 1, D], finite; raises SamplingError otherwise."""
  codes = np.asarray(codes)
  if codes.ndim != 2 or codes.shape[0] < 1 or codes.shape[1] < 1:
    raise SamplingError(f'{name} must be f32[N >= 1, D], got shape {codes.shape}.')
  if not np.issubdtype(codes.dtype, np.floating):
    raise SamplingError(f'{name} must be floating point, got {codes.dtype}.')
  if not np.all(np.isfinite(codes)):
    raise SamplingError(f'{name} holds NaN or infinite values.')
  return codes.astype(np.float32)


def _check_count(count) -> int:
  if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
    raise SamplingError(f'count must be a positive integer, got {count!r}.')
  return int(count)


def slerp_sample_tensor(codes, count, seed) -> tf.Tensor:
  """The official random generation (DESIGN.md), graph-safe and deterministic in the seed.

  For each sample: two learned codes at random (distinct when there are at
  least two), slerp between them, at t ~ U(0, 1) (stateless Philox draws).

  Args:
    codes: f32[N, D], N known statically. count: int32 scalar >= 1. seed: int32 scalar.
  Returns:
    f32[count, D].
  """
  codes = tf.convert_to_tensor(codes, tf.float32)
  num = int(codes.shape[0])
  shape = tf.reshape(count, [1])
  key = lambda k: tf.stack([tf.cast(seed, tf.int32), k])
  first = tf.random.stateless_uniform(shape, key(1), 0, num, tf.int32, alg='philox')
  if num >= 2:
    # A uniform offset in [1, num) makes the second code uniform over the others.
    offset = tf.random.stateless_uniform(shape, key(2), 1, num, tf.int32, alg='philox')
    second = (first + offset) % num
  else:
    second = first
  t = tf.random.stateless_uniform(shape, key(3), alg='philox')
  return slerp_rows(tf.gather(codes, first), tf.gather(codes, second), t)


def slerp_samples(codes, count: int, seed: int) -> np.ndarray:
  """`slerp_sample_tensor` on checked codes: f32[count, D]."""
  codes = check_codes(codes)
  return slerp_sample_tensor(codes, _check_count(count), seed).numpy()


def gaussian_samples(codes, count: int, seed: int) -> np.ndarray:
  """Draws from a Gaussian fitted to the learned codes (mean, full covariance).

  With N <= D codes the covariance has rank N - 1, so the samples stay in the
  affine span of the codes; one code gives that code back.

  Returns:
    f32[count, D].
  """
  codes = check_codes(codes).astype(np.float64)
  count = _check_count(count)
  mean = codes.mean(axis=0)
  if codes.shape[0] > 1:
    cov = np.cov(codes, rowvar=False)
  else:
    cov = np.zeros((codes.shape[1], codes.shape[1]))
  rng = np.random.default_rng(seed)
  # eigh tolerates the singular covariance of few codes (cholesky would not).
  return rng.multivariate_normal(mean, cov, size=count, method='eigh').astype(np.float32)


def sample_codes(codes, count: int, seed: int = 0, mode: str = 'slerp') -> np.ndarray:
  """Random codes by `mode` ('slerp' or 'gaussian'): f32[count, D]."""
  if mode == 'slerp':
    return slerp_samples(codes, count, seed)
  if mode == 'gaussian':
    return gaussian_samples(codes, count, seed)
  raise SamplingError(f'Unknown sampling mode {mode!r}; expected one of {MODES}.')


def interpolation_codes(z0, z1, steps: int) -> np.ndarray:
  """Slerp from z0 to z1 at t = 0, 1/(steps - 1), ..., 1.

  Args:
    z0, z1: f32[D] (or f32[1, D]).
    steps: K >= 2.
  Returns:
    f32[K, D], with row 0 exactly z0 and row K - 1 exactly z1.
  """
  ends = [check_codes(np.reshape(z, (1, -1)) if np.ndim(z) == 1 else z, name)
          for z, name in ((z0, 'z0'), (z1, 'z1'))]
  for z, name in zip(ends, ('z0', 'z1')):
    if z.shape[0] != 1:
      raise SamplingError(f'{name} must be one code, f32[D], got shape {z.shape}.')
  if ends[0].shape != ends[1].shape:
    raise SamplingError(f'z0 and z1 differ in size: {ends[0].shape[1]} and '
                        f'{ends[1].shape[1]}.')
  if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
    raise SamplingError(f'steps must be an integer >= 2, got {steps!r}.')
  return interpolation_tensor(ends[0][0], ends[1][0], steps).numpy()


def interpolation_tensor(z0, z1, steps) -> tf.Tensor:
  """Graph-safe: f32[D], f32[D], steps -> f32[steps, D], slerp at t = 0, 1/(steps-1), ..., 1."""
  return slerp(z0, z1, tf.linspace(0.0, 1.0, steps))


# Slerp -----------------------------------------------------------------------
def _slerp(z0, z1, t) -> tf.Tensor:
  """Slerp with t already broadcastable against z0[..., :1]."""
  n0 = tf.linalg.norm(z0, axis=-1, keepdims=True)
  n1 = tf.linalg.norm(z1, axis=-1, keepdims=True)
  cos = tf.reduce_sum(z0 * z1, -1, keepdims=True) / tf.maximum(n0 * n1, 1e-12)
  omega = tf.acos(tf.clip_by_value(cos, -1.0, 1.0))
  sin = tf.sin(omega)
  parallel = sin < 1e-6
  safe_sin = tf.where(parallel, tf.ones_like(sin), sin)
  # At t = 0 (t = 1) the weights are exactly (1, 0) ((0, 1)): sin(omega) / sin(omega).
  a = tf.where(parallel, 1.0 - t, tf.sin((1.0 - t) * omega) / safe_sin)
  b = tf.where(parallel, t, tf.sin(t * omega) / safe_sin)
  return a * z0 + b * z1


def slerp(z0, z1, t) -> tf.Tensor:
  """Spherical interpolation between codes (falls back to lerp when parallel).

  Args:
    z0, z1: f32[..., D]. t: scalar or f32[K] in [0, 1].
  Returns:
    f32[..., D] for scalar t, f32[K, ..., D] for a vector of t.
  """
  z0 = tf.convert_to_tensor(z0, tf.float32)
  z1 = tf.convert_to_tensor(z1, tf.float32)
  t = tf.convert_to_tensor(t, tf.float32)
  t = tf.reshape(t, tf.concat([tf.shape(t), tf.ones([tf.rank(z0)], tf.int32)], 0))
  return _slerp(z0, z1, t)


def slerp_rows(z0, z1, t) -> tf.Tensor:
  """Row-wise slerp: row i goes from z0[i] to z1[i] at its own t[i].

  Args:
    z0, z1: f32[B, D]. t: f32[B] in [0, 1].
  Returns:
    f32[B, D].
  """
  z0 = tf.convert_to_tensor(z0, tf.float32)
  z1 = tf.convert_to_tensor(z1, tf.float32)
  t = tf.convert_to_tensor(t, tf.float32)[:, None]   # [B] -> [B, 1]
  return _slerp(z0, z1, t)
