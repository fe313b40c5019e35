"""Video quality metrics as small pure functions, and evaluators of them.

Videos are f32[B, T, H, W, C] (or [T, H, W, C]) on a range given by `max_val`
explicitly: 2.0 for [-1, 1] videos, 1.0 for [0, 1], 255.0 for [0, 255].

    psnr(pred, truth, 255.0)               # f32[B], dB
    rmse_error(pred, truth)                # paper eq. 6 on [0, 255]
    mu, sigma = feature_statistics(features)
    frechet_distance(mu, sigma, mu2, sigma2)

Averages over a set of videos are means of per-video values (the paper's
PSNR_50, SSIM_50, PSNR_FULL, ...); `video_quality` yields them as (name, value).
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
import tensorflow as tf


def mse(a, b) -> tf.Tensor:
  """Per-video mean squared error, f32[B] (a scalar for a single video)."""
  a = tf.convert_to_tensor(a, tf.float32)
  b = tf.convert_to_tensor(b, tf.float32)
  axes = list(range(-4, 0)) if a.shape.rank >= 4 else None
  return tf.reduce_mean(tf.square(a - b), axis=axes)


def psnr(a, b, max_val: float) -> tf.Tensor:
  """Per-video PSNR in dB: 10 log10(max_val^2 / mse). psnr(x, x + 0.1, 1) = 20."""
  return 10.0 * tf.math.log(max_val ** 2 / mse(a, b)) / tf.math.log(10.0)


def ssim(a, b, max_val: float) -> tf.Tensor:
  """Per-video SSIM: the mean over frames of tf.image.ssim (11 x 11 Gaussian).

  Frames smaller than 11 x 11 are not defined for this SSIM.
  """
  a = tf.convert_to_tensor(a, tf.float32)
  b = tf.convert_to_tensor(b, tf.float32)
  return tf.reduce_mean(tf.image.ssim(a, b, max_val=max_val), axis=-1)


def rmse_error(a, b) -> tf.Tensor:
  """The error E of paper equation 6 over a set of videos: a scalar.

  E = sqrt(mean over videos n of mean over pixels of (a_n - b_n)^2); the paper
  reports it with both sets on [0, 255].

  Args:
    a, b: f32[N, T, H, W, C] on [0, 255].
  """
  return tf.sqrt(tf.reduce_mean(mse(a, b)))


def context_l1(a, b, mask, max_val: float) -> tf.Tensor:
  """Per-video Context-L1 (paper Table 6): L1 on the visible pixels, 0-100 scale.

  100 * mean over visible (t, h, w) and channels of |a - b| / max_val, so 0 is
  a perfect fit of the context and 100 the largest possible error.

  Args:
    a, b: f32[B, T, H, W, C] on [0, max_val] (any range of width max_val).
    mask: bool[T, H, W], the pixels the inversion saw.
  Returns:
    f32[B].
  """
  a = tf.convert_to_tensor(a, tf.float32)
  b = tf.convert_to_tensor(b, tf.float32)
  # [B, T, H, W, C] -> [T, H, W, B, C] -> [S, B, C] on the visible pixels.
  error = tf.boolean_mask(tf.transpose(tf.abs(a - b), [1, 2, 3, 0, 4]), mask)
  return tf.reduce_mean(error, axis=[0, 2]) * (100.0 / max_val)


# Frechet distance ------------------------------------------------------------
def feature_statistics(features, ddof: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Mean and covariance of a set of features, in float64.

  ddof 0 divides by N, as StyleGAN-V's FVD (the implementation the paper
  used) does; TF-GAN's original FVD divides by N - 1 (ddof=1). With 2,048
  videos the two differ by 0.05%.

  Args:
    features: [N, D], N >= 1.
  Returns:
    (mu f64[D], sigma f64[D, D]).
  """
  features = np.asarray(features, np.float64)
  if features.ndim != 2 or features.shape[0] <= ddof:
    raise ValueError(f'feature_statistics needs [N > {ddof}, D] features, got '
                     f'shape {features.shape}.')
  mu = features.mean(axis=0)
  centered = features - mu
  return mu, centered.T @ centered / (features.shape[0] - ddof)


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
  """Symmetric square root of a symmetric PSD matrix (eigenvalues clipped at 0)."""
  w, v = np.linalg.eigh((sigma + sigma.T) / 2)
  return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
  """Frechet distance between two Gaussians (FID / FVD).

  |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)). The trace of the
  root is taken as the sum of the square roots of the eigenvalues of
  S1^(1/2) S2 S1^(1/2), which has the same eigenvalues as S1 S2 but is
  symmetric PSD, so no complex parts or sqrtm iterations are involved.

  Args:
    mu1, mu2: [D]. sigma1, sigma2: [D, D], symmetric PSD.
  Returns:
    The distance (>= 0; rounding below zero is clipped).
  """
  mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
  sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
  d = mu1.shape[0]
  for name, shape in (('mu1', mu1.shape), ('mu2', mu2.shape)):
    if shape != (d,):
      raise ValueError(f'{name} must be [{d}], got {shape}.')
  for name, shape in (('sigma1', sigma1.shape), ('sigma2', sigma2.shape)):
    if shape != (d, d):
      raise ValueError(f'{name} must be [{d}, {d}], got {shape}.')
  root1 = _psd_sqrt(sigma1)
  middle = root1 @ sigma2 @ root1
  eig = np.linalg.eigvalsh((middle + middle.T) / 2)
  trace_root = np.sum(np.sqrt(np.clip(eig, 0.0, None)))
  distance = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_root
  return float(max(distance, 0.0))


# Evaluators ------------------------------------------------------------------
def per_video_quality(pred, truth, max_val: float = 255.0) -> dict[str, np.ndarray]:
  """PSNR, SSIM and MSE of each video: {'psnr': f32[B], 'ssim': ..., 'mse': ...}.

  SSIM is NaN for frames under 11 x 11 (its window).

  Args:
    pred, truth: [B, T, H, W, C] on [0, max_val] (uint8 is read as [0, 255]).
  """
  pred = tf.cast(pred, tf.float32)
  truth = tf.cast(truth, tf.float32)
  out = {'mse': mse(pred, truth).numpy(), 'psnr': psnr(pred, truth, max_val).numpy()}
  if min(pred.shape[2:4]) >= 11:
    out['ssim'] = ssim(pred, truth, max_val).numpy()
  else:
    out['ssim'] = np.full(pred.shape[0], np.nan, np.float32)
  return out


class VideoQuality:
  """Reconstruction quality of a set of videos, accumulated batch by batch.

      quality = VideoQuality(max_val=255.0)
      for pred, truth in batches:
        quality.add(pred, truth)
      dict(quality.run())    # {'error': E, 'psnr': ..., 'ssim': ..., 'num_videos': N}

  Only per-video numbers are kept, never the videos.
  """

  def __init__(self, max_val: float = 255.0):
    self.max_val = max_val
    self.parts = []

  def add(self, pred, truth) -> None:
    """Adds a batch: pred, truth [b, T, H, W, C] on [0, max_val]."""
    self.parts.append(per_video_quality(pred, truth, self.max_val))

  def run(self) -> Iterator[tuple[str, float]]:
    """Yields ('error', E of eq. 6 scaled to [0, 255]), ('psnr', mean dB),
    ('ssim', mean; NaN under 11 x 11), ('num_videos', N)."""
    if not self.parts:
      raise ValueError('VideoQuality needs at least one video.')
    joined = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
    yield 'error', float(np.sqrt(np.mean(joined['mse']))) * 255.0 / self.max_val
    yield 'psnr', float(np.mean(joined['psnr']))
    yield 'ssim', float(np.mean(joined['ssim']))
    yield 'num_videos', len(joined['mse'])


def video_quality(batches: Iterable, max_val: float = 255.0
                  ) -> Iterator[tuple[str, float]]:
  """`VideoQuality.run()` over an iterable of (pred, truth) batches: (name, value) pairs.

  Every video counts once, whatever the batching.
  """
  quality = VideoQuality(max_val)
  for pred, truth in batches:
    quality.add(pred, truth)
  yield from quality.run()
