"""Metrics against independent computations on known inputs."""

import numpy as np
import pytest

from inrv_tf.apps import inversion
from inrv_tf.model import metrics


def _noisy_pair(delta: float, shape=(2, 3, 16, 16, 3), seed=0):
  """a in [10, 245], b = a +- delta at random: the MSE is exactly delta^2."""
  rng = np.random.default_rng(seed)
  a = rng.integers(10, 246, shape).astype(np.float32)
  return a, a + delta * rng.choice([-1.0, 1.0], shape).astype(np.float32)


# PSNR, E ---------------------------------------------------------------------
def test_psnr_of_a_known_noise_level_on_both_ranges():
  a, b = _noisy_pair(5.0)
  expected = 20 * np.log10(255 / 5)                    # 34.151 dB
  np.testing.assert_allclose(metrics.psnr(a, b, 255.0).numpy(), [expected] * 2, rtol=1e-5)
  np.testing.assert_allclose(metrics.psnr(a / 255, b / 255, 1.0).numpy(), [expected] * 2,
                             rtol=1e-5)
  # [-1, 1] videos have a range of 2.
  np.testing.assert_allclose(metrics.psnr(a / 127.5 - 1, b / 127.5 - 1, 2.0).numpy(),
                             [expected] * 2, rtol=1e-5)


def test_rmse_error_is_equation_6():
  a = np.zeros((2, 2, 4, 4, 3), np.float32)
  b = a.copy()
  b[0] += 3.0                                           # per-video MSE 9
  b[1] += 4.0                                           # per-video MSE 16
  assert float(metrics.rmse_error(a, b)) == pytest.approx(np.sqrt((9 + 16) / 2))


# SSIM ------------------------------------------------------------------------
def _gaussian_window(size=11, sigma=1.5):
  x = np.arange(size) - (size - 1) / 2
  g = np.exp(-x ** 2 / (2 * sigma ** 2))
  w = np.outer(g, g)
  return w / w.sum()


def _filter_valid(image, window):
  """Valid 2-D correlation of [H, W] with [k, k]."""
  views = np.lib.stride_tricks.sliding_window_view(image, window.shape)
  return np.einsum('ijkl,kl->ij', views, window)


def ssim_reference(a, b, max_val, k1=0.01, k2=0.03):
  """Wang et al. 2004 SSIM of two images [H, W, C]: Gaussian 11 x 11, sigma 1.5, valid."""
  window = _gaussian_window()
  c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
  values = []
  for c in range(a.shape[-1]):
    x, y = a[..., c].astype(np.float64), b[..., c].astype(np.float64)
    mx, my = _filter_valid(x, window), _filter_valid(y, window)
    vx = _filter_valid(x * x, window) - mx ** 2
    vy = _filter_valid(y * y, window) - my ** 2
    cov = _filter_valid(x * y, window) - mx * my
    ssim_map = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    values.append(ssim_map.mean())
  return float(np.mean(values))


def _fixed_pair():
  """A smooth pattern and a blurred, shifted, noisy copy: [1, 2, 24, 24, 3] on [0, 255]."""
  yy, xx = np.mgrid[0:24, 0:24].astype(np.float64)
  a = np.stack([127 + 100 * np.sin(xx / 3 + c) * np.cos(yy / 4) for c in range(3)], -1)
  rng = np.random.default_rng(7)
  b = 0.7 * a + 0.3 * np.roll(a, 1, axis=1) + rng.normal(0, 12, a.shape)
  frames = [a, np.clip(a * 0.8 + 20, 0, 255)]
  noisy = [np.clip(b, 0, 255), np.clip(b * 0.8 + 25, 0, 255)]
  return (np.stack(frames)[None].astype(np.float32),
          np.stack(noisy)[None].astype(np.float32))


def test_ssim_of_identical_videos_is_one():
  a, _ = _noisy_pair(1.0)
  np.testing.assert_allclose(metrics.ssim(a, a, 255.0).numpy(), [1.0, 1.0], atol=1e-6)
  np.testing.assert_allclose(metrics.ssim(a / 255, a / 255, 1.0).numpy(), [1.0, 1.0],
                             atol=1e-6)


def test_ssim_matches_a_numpy_reference_on_a_fixed_pair():
  a, b = _fixed_pair()
  expected = np.mean([ssim_reference(a[0, t], b[0, t], 255.0) for t in range(2)])
  assert 0.3 < expected < 0.95                         # A pair in SSIM's useful range.
  got = float(metrics.ssim(a, b, 255.0)[0])
  assert got == pytest.approx(expected, abs=1e-5)
  # The same pair on [0, 1]: SSIM does not depend on the range once max_val follows it.
  assert float(metrics.ssim(a / 255, b / 255, 1.0)[0]) == pytest.approx(expected, abs=1e-5)


# Context-L1 ------------------------------------------------------------------
def test_context_l1_counts_only_visible_pixels_on_a_0_100_scale():
  a = np.zeros((2, 4, 6, 6, 3), np.float32)
  b = a.copy()
  mask = np.zeros((4, 6, 6), bool)
  mask[:2] = True
  b[0, :2] += 25.5                                      # 10% of 255 where visible
  b[1, :2] += 51.0                                      # 20%
  b[:, 2:] = 255.0                                      # Hidden: must not count.
  np.testing.assert_allclose(metrics.context_l1(a, b, mask, 255.0).numpy(), [10.0, 20.0],
                             rtol=1e-6)


def test_context_l1_agrees_with_the_inversion_modules_on_minus_one_one():
  rng = np.random.default_rng(3)
  pred, target = rng.uniform(-1, 1, (2, 2, 2, 8, 8, 3)).astype(np.float32)
  mask = rng.random((2, 8, 8)) < 0.4
  np.testing.assert_allclose(metrics.context_l1(pred, target, mask, 2.0).numpy(),
                             inversion.context_l1(pred, target, mask), rtol=1e-5)


# Frechet distance --------------------------------------------------------------
def test_feature_statistics_of_known_features():
  features = np.array([[1.0, 2.0], [3.0, 6.0]])
  mu, sigma = metrics.feature_statistics(features)
  np.testing.assert_allclose(mu, [2.0, 4.0])
  np.testing.assert_allclose(sigma, [[1.0, 2.0], [2.0, 4.0]])          # divides by N
  np.testing.assert_allclose(metrics.feature_statistics(features, ddof=1)[1],
                             [[2.0, 4.0], [4.0, 8.0]])                  # by N - 1


def test_frechet_distance_of_gaussians_with_known_moments():
  rng = np.random.default_rng(0)
  d = 6
  mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
  v1, v2 = rng.uniform(0.5, 3.0, d), rng.uniform(0.5, 3.0, d)
  # Same eigenvectors: d^2 = |mu1 - mu2|^2 + sum (sqrt(v1) - sqrt(v2))^2.
  expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
  assert metrics.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected)
  q, _ = np.linalg.qr(rng.normal(size=(d, d)))                          # a rotation
  rotated = metrics.frechet_distance(q @ mu1, q @ np.diag(v1) @ q.T, q @ mu2,
                                     q @ np.diag(v2) @ q.T)
  assert rotated == pytest.approx(expected, rel=1e-9)
  # One-dimensional: (m1 - m2)^2 + (s1 - s2)^2.
  assert metrics.frechet_distance([1.0], [[4.0]], [4.0], [[9.0]]) == pytest.approx(9 + 1)


def test_frechet_distance_matches_scipy_sqrtm_on_general_covariances():
  # scipy comes with mlcroissant (an install requirement), not as our own dependency.
  linalg = pytest.importorskip('scipy.linalg')
  rng = np.random.default_rng(1)
  a, b = rng.normal(size=(2, 40, 8))
  mu1, s1 = metrics.feature_statistics(a @ rng.normal(size=(8, 8)))
  mu2, s2 = metrics.feature_statistics(b @ rng.normal(size=(8, 8)) + 1.0)
  root = linalg.sqrtm(s1 @ s2).real
  expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * root)
  assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-7)


def test_frechet_distance_of_a_set_with_itself_is_zero():
  features = np.random.default_rng(2).normal(size=(300, 64)) * 100.0 + 5.0
  mu, sigma = metrics.feature_statistics(features)
  assert metrics.frechet_distance(mu, sigma, mu, sigma) <= 1e-6 * np.trace(sigma)
  # Rank-deficient (fewer samples than dimensions), as FVD with few videos is.
  mu, sigma = metrics.feature_statistics(features[:10])
  assert metrics.frechet_distance(mu, sigma, mu, sigma) <= 1e-6 * np.trace(sigma)


def test_frechet_distance_refuses_mismatched_shapes():
  with pytest.raises(ValueError, match='sigma2'):
    metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(2))


# Evaluators --------------------------------------------------------------------
def test_video_quality_yields_named_means_whatever_the_batching():
  a, b = _noisy_pair(5.0, shape=(4, 2, 16, 16, 3))
  b[2:] = a[2:] + 3.0                                   # MSE 25 for two videos, 9 for two
  whole = dict(metrics.video_quality([(b, a)]))
  split = list(metrics.video_quality([(b[:1], a[:1]), (b[1:], a[1:])]))
  assert [name for name, _ in split] == ['error', 'psnr', 'ssim', 'num_videos']
  assert dict(split) == pytest.approx(whole)
  assert whole['error'] == pytest.approx(np.sqrt((25 + 25 + 9 + 9) / 4))
  assert whole['psnr'] == pytest.approx(
      np.mean([20 * np.log10(255 / 5)] * 2 + [20 * np.log10(255 / 3)] * 2), rel=1e-5)
  assert whole['ssim'] == pytest.approx(float(np.mean(metrics.ssim(b, a, 255.0))), rel=1e-6)
  assert whole['num_videos'] == 4
  # On [0, 1] with max_val 1, E is still reported on [0, 255].
  unit = dict(metrics.video_quality([(b / 255, a / 255)], max_val=1.0))
  assert unit['error'] == pytest.approx(whole['error'], rel=1e-5)
