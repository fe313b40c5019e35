"""Random codes and interpolation paths: pure functions of (codes, count, seed)."""

import numpy as np
import pytest

from inrv_tf.model import inrv as model_lib
from inrv_tf.apps import sampling
from tests import testing


def _codes(n=4, d=16, seed=0):
  return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def test_slerp_endpoints_are_exact():
  z0, z1 = _codes(2)
  np.testing.assert_array_equal(sampling.slerp(z0, z1, 0.0).numpy(), z0)
  np.testing.assert_array_equal(sampling.slerp(z0, z1, 1.0).numpy(), z1)
  path = sampling.interpolation_codes(z0, z1, 7)
  assert path.shape == (7, 16)
  np.testing.assert_array_equal(path[0], z0)
  np.testing.assert_array_equal(path[-1], z1)


def test_slerp_stays_on_the_sphere_at_even_angles():
  z0, z1 = _codes(2, d=32, seed=1)
  z1 = z1 / np.linalg.norm(z1) * np.linalg.norm(z0)        # Same radius r.
  path = sampling.interpolation_codes(z0, z1, 9)
  np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(z0), rtol=1e-5)
  unit = path / np.linalg.norm(path, axis=1, keepdims=True)
  steps = np.arccos(np.clip(np.sum(unit[1:] * unit[:-1], axis=1), -1, 1))
  total = np.arccos(np.dot(unit[0], unit[-1]))
  np.testing.assert_allclose(steps, total / 8, rtol=1e-3)  # Constant angular speed.


def test_slerp_of_parallel_codes_is_linear():
  z0 = _codes(1)[0]
  np.testing.assert_allclose(sampling.slerp(z0, 3 * z0, 0.5).numpy(), 2 * z0, rtol=1e-6)


def test_slerp_rows_matches_slerp_row_by_row():
  z0, z1, t = _codes(3), _codes(3, seed=1), np.array([0.0, 0.3, 1.0], np.float32)
  rows = sampling.slerp_rows(z0, z1, t).numpy()
  for i in range(3):
    np.testing.assert_allclose(rows[i], sampling.slerp(z0[i], z1[i], t[i]).numpy(), atol=1e-6)


def test_slerp_samples_lie_on_a_path_between_two_distinct_codes():
  codes = _codes(5, d=16)
  z = sampling.slerp_samples(codes, 40, seed=3)
  assert z.shape == (40, 16) and z.dtype == np.float32
  for row in z:
    residuals = []
    for i in range(5):
      for j in range(i + 1, 5):
        basis = codes[[i, j]].T                              # [D, 2]
        coef = np.linalg.lstsq(basis, row, rcond=None)[0]
        residuals.append(np.linalg.norm(basis @ coef - row))
    assert min(residuals) < 1e-4                            # In the plane of one pair.
  # Not just the codes themselves: t ~ U(0, 1) lands between them.
  assert np.min(np.linalg.norm(z[:, None] - codes[None], axis=-1)) > 1e-3


def test_sampling_is_reproducible_by_seed():
  codes = _codes()
  for mode in sampling.MODES:
    a = sampling.sample_codes(codes, 6, seed=7, mode=mode)
    np.testing.assert_array_equal(a, sampling.sample_codes(codes, 6, seed=7, mode=mode))
    assert not np.allclose(a, sampling.sample_codes(codes, 6, seed=8, mode=mode))


def test_gaussian_matches_the_codes_moments():
  codes = _codes(40, d=4, seed=2)
  z = sampling.gaussian_samples(codes, 20000, seed=0)
  np.testing.assert_allclose(z.mean(0), codes.mean(0), atol=0.05)
  np.testing.assert_allclose(np.cov(z, rowvar=False), np.cov(codes, rowvar=False), atol=0.08)


def test_one_code_samples_that_code():
  code = _codes(1)
  for mode in sampling.MODES:
    np.testing.assert_allclose(sampling.sample_codes(code, 3, 0, mode), np.repeat(code, 3, 0),
                               atol=1e-6)


@pytest.mark.parametrize('call,message', [
    (lambda: sampling.sample_codes(_codes(), 2, mode='uniform'), 'Unknown sampling mode'),
    (lambda: sampling.sample_codes(_codes(), 0), 'count must be a positive integer'),
    (lambda: sampling.sample_codes(_codes()[0], 2), r'f32\[N >= 1, D\]'),
    (lambda: sampling.sample_codes(np.full((2, 3), np.nan), 2), 'NaN'),
    (lambda: sampling.sample_codes(np.ones((2, 3), np.int32), 2), 'floating point'),
    (lambda: sampling.interpolation_codes(_codes()[0], _codes()[1], 1), 'steps must be'),
    (lambda: sampling.interpolation_codes(_codes()[0], _codes(d=8)[0], 3), 'differ in size'),
    (lambda: sampling.interpolation_codes(_codes(), _codes(), 3), 'one code'),
])
def test_bad_inputs_raise(call, message):
  with pytest.raises(sampling.SamplingError, match=message):
    call()
  assert issubclass(sampling.SamplingError, ValueError)


def test_learned_codes_is_the_latent_table():
  model = model_lib.build_model(testing.tiny_model_config(num_videos=3), seed=0)
  np.testing.assert_array_equal(sampling.learned_codes(model), model.latents.codes.numpy())


def test_learned_codes_of_a_clip_model_raise():
  model = model_lib.build_model(testing.tiny_model_config(
      clip=True, clip_dim=8, gru_units=4, gru_layers=1, merge_widths=(8,)), seed=0)
  with pytest.raises(sampling.SamplingError, match='Video-CLIP'):
    sampling.learned_codes(model)
