"""Points of the learned video space: random codes and interpolation paths.

    codes = learned_codes(model)                          # f32[N, D]: the training videos' m
    z = sample_codes(codes, count=8, seed=0)               # f32[8, D], the official scheme
    z = sample_codes(codes, count=8, seed=0, mode='gaussian')
    path = interpolation_codes(codes[0], codes[1], steps=8)   # f32[8, D]
    videos = render.render_codes(model, z, frames, height, width)

Everything here is a pure function of (codes, count, seed) returning codes;
rendering them is `render`'s job. The slerp mode draws with the same stateless
Philox calls as the exported `sample` signature, so a seed names the same
videos in both.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from inrv_tf.model import render

MODES = ('slerp', 'gaussian')


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


def slerp_samples(codes, count: int, seed: int) -> np.ndarray:
  """The official random generation (DESIGN.md).

  For each sample: two learned codes at random (distinct when there are at
  least two), slerp between them, at t ~ U(0, 1).

  Args:
    codes: f32[N, D], the learned codes.
  Returns:
    f32[count, D].
  """
  codes = check_codes(codes)
  count = _check_count(count)
  num = codes.shape[0]
  key = lambda k: tf.constant([seed, k], tf.int32)
  first = tf.random.stateless_uniform([count], key(1), 0, num, tf.int32, alg='philox')
  if num >= 2:
    # A uniform offset in [1, num) makes the second code uniform over the others.
    offset = tf.random.stateless_uniform([count], key(2), 1, num, tf.int32, alg='philox')
    second = (first + offset) % num
  else:
    second = first
  t = tf.random.stateless_uniform([count], key(3), alg='philox')
  return render.slerp_rows(tf.gather(codes, first), tf.gather(codes, second),
                           t).numpy()


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
  t = np.linspace(0.0, 1.0, steps, dtype=np.float32)
  return render.slerp(ends[0][0], ends[1][0], t).numpy()
